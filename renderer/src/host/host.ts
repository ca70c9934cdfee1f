import { createBrowserHost } from './browser-host';

export type TetherApi = NonNullable<Window['tether']>;
export type Settings = Awaited<ReturnType<TetherApi['settings']['get']>>;
export type SettingsPatch = Parameters<TetherApi['settings']['set']>[0];
export type CredentialStatus = Awaited<ReturnType<TetherApi['credentials']['status']>>;
export type OpenTabs = Awaited<ReturnType<TetherApi['openTabs']['load']>>;
export type SavedTab = OpenTabs['tabs'][number];
export type PaneNode = NonNullable<OpenTabs['panes']>[number];
export type Workspace = Awaited<ReturnType<TetherApi['workspaces']['list']>>[number];
export type KnownAgent = Awaited<ReturnType<TetherApi['knownAgents']['list']>>[number];

/** The host API: Electron's preload when present, else the browser implementation. */
export function getHost(): TetherApi {
  return window.tether ?? createBrowserHost();
}
