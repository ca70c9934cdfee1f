/** Settings and credential storage of Electron's main process, in Node, with safeStorage passed in. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CredentialStore, CredentialStoreUnavailable, type SafeStorageLike } from '../../electron/main/credential-store.js';
import { SettingsStore } from '../../electron/main/settings-store.js';

const folder = () => mkdtempSync(join(tmpdir(), 'tether-electron-test-'));

/** A stand-in for safeStorage: reversible, and visibly not the plain text. */
function fakeSafeStorage(backend = 'gnome_libsecret', available = true): SafeStorageLike {
  return {
    isEncryptionAvailable: () => available,
    encryptString: (text) => Buffer.from(`enc:${[...text].reverse().join('')}`),
    decryptString: (data) => [...data.toString().slice(4)].reverse().join(''),
    getSelectedStorageBackend: () => backend,
  };
}

describe('SettingsStore', () => {
  it('starts with the defaults and keeps an update across instances', () => {
    const file = join(folder(), 'settings.json');
    const store = new SettingsStore(file);
    assert.deepEqual(store.settings, { theme: 'dark', fontSize: 14, copyOnSelect: true, signalingUrl: '' });
    store.update({ theme: 'light', fontSize: 18 });
    assert.deepEqual(new SettingsStore(file).settings, { theme: 'light', fontSize: 18, copyOnSelect: true, signalingUrl: '' });
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('refuses a value out of bounds and keeps the old one', () => {
    const store = new SettingsStore(join(folder(), 'settings.json'));
    assert.throws(() => store.update({ fontSize: 400 }));
    assert.equal(store.settings.fontSize, 14);
  });

  it('falls back to defaults for a damaged file, and resets only the invalid parts', () => {
    const dir = folder();
    const logs: string[] = [];
    writeFileSync(join(dir, 'a.json'), '{not json');
    assert.equal(new SettingsStore(join(dir, 'a.json'), (m) => logs.push(m)).settings.theme, 'dark');
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ settings: { theme: 'light' }, knownAgents: [{ agentId: 'bad id!' }] }));
    const store = new SettingsStore(join(dir, 'b.json'), (m) => logs.push(m));
    assert.equal(store.settings.theme, 'light');
    assert.deepEqual(store.knownAgents, []);
    assert.equal(logs.length, 2);
  });

  it('keeps known agents', () => {
    const file = join(folder(), 'settings.json');
    new SettingsStore(file).saveKnownAgents([{ agentId: 'plc-1', name: 'Line 1', lastSeen: 5 }]);
    assert.deepEqual(new SettingsStore(file).knownAgents, [{ agentId: 'plc-1', name: 'Line 1', lastSeen: 5 }]);
  });
});

describe('CredentialStore', () => {
  it('stores secrets encrypted, in a 0600 file, and reads them back', () => {
    const file = join(folder(), 'credentials.json');
    const store = new CredentialStore(fakeSafeStorage(), file, 'linux');
    store.set('signaling-token', 'secret-token-123');
    assert.equal(store.get('signaling-token'), 'secret-token-123');
    assert.equal(readFileSync(file, 'utf8').includes('secret-token-123'), false, 'no plain text on disk');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(new CredentialStore(fakeSafeStorage(), file, 'linux').get('signaling-token'), 'secret-token-123');
    store.delete('signaling-token');
    assert.equal(store.get('signaling-token'), null);
    assert.deepEqual(store.status(), { encrypted: true, description: "encrypted with the operating system's keyring (gnome_libsecret)" });
  });

  it("refuses Linux's basic_text backend: no secret is written", () => {
    const file = join(folder(), 'credentials.json');
    const store = new CredentialStore(fakeSafeStorage('basic_text'), file, 'linux');
    assert.throws(() => store.set('signaling-token', 'x'), CredentialStoreUnavailable);
    assert.throws(() => store.get('signaling-token'), /plain text/);
    assert.equal(store.status().encrypted, false);
    assert.throws(() => statSync(file), /ENOENT/);
  });

  it('accepts the same backend name on another platform, where it does not exist', () => {
    const store = new CredentialStore(fakeSafeStorage('basic_text'), join(folder(), 'c.json'), 'darwin');
    store.set('k', 'v');
    assert.equal(store.get('k'), 'v');
  });

  it('refuses when no encryption is available at all', () => {
    const store = new CredentialStore(fakeSafeStorage('gnome_libsecret', false), join(folder(), 'c.json'), 'win32');
    assert.throws(() => store.set('k', 'v'), /no credential encryption/);
  });
});
