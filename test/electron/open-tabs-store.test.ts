/** The tabs and workspaces Electron's main keeps for the next run (issue 15), in Node. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { IPC, type OpenTabs } from '../../electron/api.js';
import { CredentialStore } from '../../electron/main/credential-store.js';
import { ipcHandlers } from '../../electron/main/ipc.js';
import { SettingsStore } from '../../electron/main/settings-store.js';

const file = () => join(mkdtempSync(join(tmpdir(), 'tether-open-tabs-')), 'settings.json');
const tabs: OpenTabs = {
  tabs: [
    {
      agentId: 'plc-1',
      agentName: 'Line 1',
      target: 'press',
      sessionId: 'abc123',
      received: 4096,
      resumeGraceMs: 300_000,
      savedAt: 1_700_000_000_000,
    },
    { agentId: 'plc-2', agentName: 'Line 2', target: 'packer', title: 'packer logs', savedAt: 1_700_000_000_000 },
  ],
  active: 1,
  panes: [{ split: 'row', children: [{ tab: 0 }, { tab: 1 }] }],
};

it('keeps the open tabs, their panes and the workspaces across instances, beside the settings', () => {
  const path = file();
  const store = new SettingsStore(path);
  store.saveOpenTabs(tabs);
  store.saveWorkspaces([{ name: 'Line 1 morning', tabs: [{ agentId: 'plc-1', agentName: 'Line 1', target: 'press' }] }]);
  const again = new SettingsStore(path);
  assert.deepEqual(again.openTabs, tabs);
  assert.equal(again.workspaces[0]?.name, 'Line 1 morning');
  assert.deepEqual(again.settings, store.settings);
});

it('drops saved tabs that do not parse, keeping the settings', () => {
  const path = file();
  writeFileSync(path, JSON.stringify({ settings: { theme: 'light' }, openTabs: { tabs: [{ agentId: 'bad id!' }] } }));
  const logs: string[] = [];
  const store = new SettingsStore(path, (m) => logs.push(m));
  assert.deepEqual(store.openTabs, { tabs: [] });
  assert.equal(store.settings.theme, 'light');
  assert.equal(logs.length, 1);
});

it('IPC parses the tabs and workspaces before they are stored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-open-tabs-ipc-'));
  const settings = new SettingsStore(join(dir, 's.json'));
  const safe = {
    isEncryptionAvailable: () => true,
    encryptString: (t: string) => Buffer.from(t),
    decryptString: (b: Buffer) => b.toString(),
  };
  const handlers = ipcHandlers({
    settings,
    credentials: new CredentialStore(safe, join(dir, 'c.json'), 'darwin'),
    clipboard: { readText: () => '', writeText: () => undefined },
    openExternal: async () => undefined,
  });
  handlers[IPC.openTabsSave]([tabs]);
  assert.deepEqual(handlers[IPC.openTabsLoad]([]), tabs);
  assert.throws(() => handlers[IPC.openTabsSave]([{ tabs: [{ ...tabs.tabs[0], target: '' }] }]), /bad arguments/);
  assert.throws(() => handlers[IPC.openTabsSave]([{ tabs: [], panes: [{ split: 'diagonal', children: [] }] }]), /bad arguments/);
  assert.throws(() => handlers[IPC.workspacesSave]([[{ name: '', tabs: [] }]]), /bad arguments/);
  assert.deepEqual(handlers[IPC.workspacesList]([]), []);
});
