/**
 * The preload: exposes `window.tether` (electron/api.ts) through contextBridge, each call one
 * `ipcRenderer.invoke`. Nothing else of Electron or Node reaches the page. Runs sandboxed, so it
 * is bundled to CommonJS with only `electron` left external.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { TetherApi } from '../api.js';
import { IPC } from '../ipc-channels.js';

const api: TetherApi = {
  kind: 'electron',
  settings: {
    get: () => ipcRenderer.invoke(IPC.settingsGet),
    set: (patch) => ipcRenderer.invoke(IPC.settingsSet, patch),
  },
  credentials: {
    get: (key) => ipcRenderer.invoke(IPC.credentialGet, key),
    set: (key, value) => ipcRenderer.invoke(IPC.credentialSet, key, value),
    delete: (key) => ipcRenderer.invoke(IPC.credentialDelete, key),
    status: () => ipcRenderer.invoke(IPC.credentialStatus),
  },
  knownAgents: {
    list: () => ipcRenderer.invoke(IPC.knownAgentsList),
    save: (agents) => ipcRenderer.invoke(IPC.knownAgentsSave, agents),
  },
  openTabs: {
    load: () => ipcRenderer.invoke(IPC.openTabsLoad),
    save: (tabs) => ipcRenderer.invoke(IPC.openTabsSave, tabs),
  },
  workspaces: {
    list: () => ipcRenderer.invoke(IPC.workspacesList),
    save: (workspaces) => ipcRenderer.invoke(IPC.workspacesSave, workspaces),
  },
  clipboard: {
    readText: () => ipcRenderer.invoke(IPC.clipboardRead),
    writeText: (text) => ipcRenderer.invoke(IPC.clipboardWrite, text),
  },
  openExternal: (url) => ipcRenderer.invoke(IPC.openExternal, url),
};

contextBridge.exposeInMainWorld('tether', api);
