/** IPC validation in Electron's main process: sender checks and argument schemas, in Node. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IPC } from '../../electron/api.js';
import { CredentialStore } from '../../electron/main/credential-store.js';
import { ipcHandlers, isTrustedSender, registerIpc, type IpcEventLike, type IpcMainLike } from '../../electron/main/ipc.js';
import { SettingsStore } from '../../electron/main/settings-store.js';

const RENDERER = 'file:///opt/tether/resources/app/renderer/dist/index.html';
const trusted = { webContentsId: () => 7, rendererUrl: RENDERER };

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tether-ipc-test-'));
  const opened: string[] = [];
  let clip = '';
  const safe = {
    isEncryptionAvailable: () => true,
    encryptString: (t: string) => Buffer.from(t).reverse(),
    decryptString: (b: Buffer) => Buffer.from(b).reverse().toString(),
    getSelectedStorageBackend: () => 'kwallet5',
  };
  const handlers = ipcHandlers({
    settings: new SettingsStore(join(dir, 's.json')),
    credentials: new CredentialStore(safe, join(dir, 'c.json'), 'linux'),
    clipboard: { readText: () => clip, writeText: (t) => void (clip = t) },
    openExternal: async (url) => void opened.push(url),
  });
  const registered = new Map<string, (event: IpcEventLike, ...args: unknown[]) => unknown>();
  const ipcMain: IpcMainLike = {
    handle: (channel, listener) => void registered.set(channel, listener),
    removeHandler: (channel) => void registered.delete(channel),
  };
  const logs: string[] = [];
  const unregister = registerIpc(ipcMain, handlers, trusted, (m) => logs.push(m));
  const invoke = (event: IpcEventLike, channel: string, ...args: unknown[]) => {
    const listener = registered.get(channel);
    if (!listener) throw new Error(`no handler for ${channel}`);
    return listener(event, ...args);
  };
  return { registered, invoke, logs, opened, unregister };
}

const fromConsole: IpcEventLike = { sender: { id: 7 }, senderFrame: { url: `${RENDERER}?signal=x` } };

describe('IPC sender checks', () => {
  it('trusts only the console window showing the console page', () => {
    assert.equal(isTrustedSender(fromConsole, trusted), true);
    assert.equal(isTrustedSender({ sender: { id: 8 }, senderFrame: fromConsole.senderFrame }, trusted), false, 'another window');
    assert.equal(
      isTrustedSender({ sender: { id: 7 }, senderFrame: { url: 'https://evil.example/index.html' } }, trusted),
      false,
      'a page navigated to',
    );
    assert.equal(isTrustedSender({ sender: { id: 7 }, senderFrame: { url: 'file:///tmp/index.html' } }, trusted), false, 'another file');
    assert.equal(isTrustedSender({ sender: { id: 7 }, senderFrame: null }, trusted), false, 'a frame that is gone');
    assert.equal(isTrustedSender(fromConsole, { ...trusted, webContentsId: () => undefined }), false, 'before the window exists');
  });

  it('refuses every channel from an untrusted sender, and logs it', () => {
    const { invoke, registered, logs } = setup();
    assert.deepEqual([...registered.keys()].sort(), Object.values(IPC).sort(), 'every channel is registered');
    for (const channel of Object.values(IPC)) {
      assert.throws(() => invoke({ sender: { id: 99 }, senderFrame: { url: RENDERER } }, channel), /refused/);
    }
    assert.equal(logs.length, Object.values(IPC).length);
  });

  it('unregisters every channel', () => {
    const { registered, unregister } = setup();
    unregister();
    assert.equal(registered.size, 0);
  });
});

describe('IPC argument schemas', () => {
  it('passes parsed arguments through', async () => {
    const { invoke, opened } = setup();
    assert.equal((invoke(fromConsole, IPC.settingsSet, { theme: 'light' }) as { theme: string }).theme, 'light');
    const colours = { 'plc-1': '#e5484d' };
    assert.deepEqual((invoke(fromConsole, IPC.settingsSet, { hostColours: colours }) as { hostColours: unknown }).hostColours, colours);
    invoke(fromConsole, IPC.credentialSet, 'signaling-token', 'abc');
    assert.equal(invoke(fromConsole, IPC.credentialGet, 'signaling-token'), 'abc');
    await invoke(fromConsole, IPC.openExternal, 'https://example.com/docs');
    assert.deepEqual(opened, ['https://example.com/docs']);
    invoke(fromConsole, IPC.clipboardWrite, 'copied');
    assert.equal(invoke(fromConsole, IPC.clipboardRead), 'copied');
  });

  it('refuses malformed arguments before any handler runs', () => {
    const { invoke, opened } = setup();
    const refusals: [string, unknown[]][] = [
      [IPC.settingsSet, [{ theme: 'neon' }]],
      [IPC.settingsSet, [{ fontSize: 3 }]],
      [IPC.settingsSet, [{ nodeIntegration: true }]],
      [IPC.settingsSet, [{ hostColours: { 'plc-1': 'red; background: url(x)' } }]],
      [IPC.settingsSet, [{ hostColours: { 'a b': '#e5484d' } }]],
      [IPC.credentialGet, ['../../etc/passwd']],
      [IPC.credentialSet, ['token']],
      [IPC.credentialSet, ['token', 'x'.repeat(20_000)]],
      [IPC.knownAgentsSave, [[{ agentId: 'a b', name: 'x', lastSeen: 1 }]]],
      [IPC.openExternal, ['file:///etc/passwd']],
      [IPC.openExternal, ['javascript:alert(1)']],
      [IPC.settingsGet, ['unexpected']],
    ];
    for (const [channel, args] of refusals) {
      assert.throws(() => invoke(fromConsole, channel, ...args), /bad arguments/, `${channel} ${JSON.stringify(args).slice(0, 60)}`);
    }
    assert.deepEqual(opened, []);
  });
});
