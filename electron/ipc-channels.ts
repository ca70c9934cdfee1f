/** Every one is `invoke`d by the preload and answered by `handle` in main (main/ipc.ts). */
export const IPC = {
  settingsGet: 'tether:settings:get',
  settingsSet: 'tether:settings:set',
  credentialGet: 'tether:credential:get',
  credentialSet: 'tether:credential:set',
  credentialDelete: 'tether:credential:delete',
  credentialStatus: 'tether:credential:status',
  knownAgentsList: 'tether:known-agents:list',
  knownAgentsSave: 'tether:known-agents:save',
  openTabsLoad: 'tether:open-tabs:load',
  openTabsSave: 'tether:open-tabs:save',
  workspacesList: 'tether:workspaces:list',
  workspacesSave: 'tether:workspaces:save',
  clipboardRead: 'tether:clipboard:read',
  clipboardWrite: 'tether:clipboard:write',
  openExternal: 'tether:open-external',
} as const;
export type IpcChannel = (typeof IPC)[keyof typeof IPC];
