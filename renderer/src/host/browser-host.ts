/**
 * The browser implementation of the preload API (`window.tether`, electron/api.ts), for the web
 * console and the tests: settings and known agents in IndexedDB.
 *
 * Credentials are stored as they are, unencrypted, in IndexedDB: a browser has no OS keyring to
 * hand. Only the Electron console encrypts them (safeStorage); `credentials.status()` says so.
 */
import { IdbStore } from './idb-store';

type TetherApi = NonNullable<Window['tether']>;
type Settings = Awaited<ReturnType<TetherApi['settings']['get']>>;
type KnownAgent = Awaited<ReturnType<TetherApi['knownAgents']['list']>>[number];

type OpenTabs = Awaited<ReturnType<TetherApi['openTabs']['load']>>;
type Workspace = Awaited<ReturnType<TetherApi['workspaces']['list']>>[number];

const DEFAULTS: Settings = { theme: 'dark', fontSize: 14, copyOnSelect: true, signalingUrl: '' };

export function createBrowserHost(dbName = 'tether-console'): TetherApi {
  const store = new IdbStore(dbName, 'kv');
  return {
    kind: 'browser',
    settings: {
      async get() {
        return { ...DEFAULTS, ...((await store.get<Partial<Settings>>('settings')) ?? {}) };
      },
      async set(patch) {
        const next = { ...DEFAULTS, ...((await store.get<Partial<Settings>>('settings')) ?? {}), ...patch };
        await store.put('settings', next);
        return next;
      },
    },
    credentials: {
      get: async (key) => (await store.get<string>(`credential:${key}`)) ?? null,
      set: (key, value) => store.put(`credential:${key}`, value),
      delete: (key) => store.delete(`credential:${key}`),
      status: async () => ({
        encrypted: false,
        description: 'stored unencrypted in this browser profile (only the desktop console encrypts credentials)',
      }),
    },
    knownAgents: {
      list: async () => (await store.get<KnownAgent[]>('known-agents')) ?? [],
      save: (agents) => store.put('known-agents', agents),
    },
    // In localStorage, not IndexedDB: it is written at once, so the save a closing page makes
    // (pagehide) is there for the next run; an IndexedDB transaction begun then may never commit.
    openTabs: {
      load: async () => {
        const raw = localStorage.getItem(`${dbName}:open-tabs`);
        return raw ? (JSON.parse(raw) as OpenTabs) : { tabs: [] };
      },
      save: async (tabs) => localStorage.setItem(`${dbName}:open-tabs`, JSON.stringify(tabs)),
    },
    workspaces: {
      list: async () => (await store.get<Workspace[]>('workspaces')) ?? [],
      save: (workspaces) => store.put('workspaces', workspaces),
    },
    clipboard: {
      readText: () => navigator.clipboard.readText(),
      writeText: (text) => navigator.clipboard.writeText(text),
    },
    async openExternal(url) {
      if (!/^https?:\/\//i.test(url)) throw new Error(`not opened: ${url} is not an http(s) link`);
      window.open(url, '_blank', 'noopener,noreferrer');
    },
  };
}
