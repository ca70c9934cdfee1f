/**
 * The main side of the preload API: one `handle` per channel, each checking who sent it (the
 * console's own window and page) and parsing its arguments by schema before anything runs.
 */
import { z } from 'zod';
import {
  ClipboardText,
  CredentialKey,
  CredentialValue,
  ExternalUrl,
  IPC,
  KnownAgent,
  OpenTabs,
  SettingsPatch,
  Workspace,
  type IpcChannel,
} from '../api.js';
import type { CredentialStore } from './credential-store.js';
import type { SettingsStore } from './settings-store.js';

/** The parts of Electron's IpcMainInvokeEvent that the checks read. */
export interface IpcEventLike {
  sender: { id: number };
  senderFrame: { url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface IpcDeps {
  settings: SettingsStore;
  credentials: CredentialStore;
  clipboard: { readText(): string; writeText(text: string): void };
  openExternal(url: string): Promise<void>;
}

export interface TrustedSender {
  /** the webContents id of the console's window, once it exists */
  webContentsId(): number | undefined;
  /** the page the console loads, e.g. file:///…/renderer/dist/index.html */
  rendererUrl: string;
}

export class IpcRefused extends Error {
  override readonly name = 'IpcRefused';
}

/** Only the console's own window, showing the console's own page (not a page it navigated to). */
export function isTrustedSender(event: IpcEventLike, trusted: TrustedSender): boolean {
  const id = trusted.webContentsId();
  if (id === undefined || event.sender.id !== id) return false;
  const url = event.senderFrame?.url;
  if (!url) return false;
  const withoutQuery = url.split(/[?#]/, 1)[0];
  return withoutQuery === trusted.rendererUrl;
}

const NoArgs = z.tuple([]);

/** Each channel's argument schema and handler; the handler only ever sees parsed arguments. */
export function ipcHandlers(deps: IpcDeps): Record<IpcChannel, (args: unknown[]) => unknown> {
  const typed =
    <S extends z.ZodTuple>(schema: S, run: (...args: z.infer<S>) => unknown) =>
    (args: unknown[]) => {
      const parsed = schema.safeParse(args);
      if (!parsed.success)
        throw new IpcRefused(`bad arguments: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'args'}: ${i.message}`).join('; ')}`);
      return run(...(parsed.data as z.infer<S>));
    };
  return {
    [IPC.settingsGet]: typed(NoArgs, () => deps.settings.settings),
    [IPC.settingsSet]: typed(z.tuple([SettingsPatch]), (patch) => deps.settings.update(patch)),
    [IPC.credentialGet]: typed(z.tuple([CredentialKey]), (key) => deps.credentials.get(key)),
    [IPC.credentialSet]: typed(z.tuple([CredentialKey, CredentialValue]), (key, value) => deps.credentials.set(key, value)),
    [IPC.credentialDelete]: typed(z.tuple([CredentialKey]), (key) => deps.credentials.delete(key)),
    [IPC.credentialStatus]: typed(NoArgs, () => deps.credentials.status()),
    [IPC.knownAgentsList]: typed(NoArgs, () => deps.settings.knownAgents),
    [IPC.knownAgentsSave]: typed(z.tuple([KnownAgent.array().max(500)]), (agents) => deps.settings.saveKnownAgents(agents)),
    [IPC.openTabsLoad]: typed(NoArgs, () => deps.settings.openTabs),
    [IPC.openTabsSave]: typed(z.tuple([OpenTabs]), (tabs) => deps.settings.saveOpenTabs(tabs)),
    [IPC.workspacesList]: typed(NoArgs, () => deps.settings.workspaces),
    [IPC.workspacesSave]: typed(z.tuple([Workspace.array().max(100)]), (workspaces) => deps.settings.saveWorkspaces(workspaces)),
    [IPC.clipboardRead]: typed(NoArgs, () => deps.clipboard.readText()),
    [IPC.clipboardWrite]: typed(z.tuple([ClipboardText]), (text) => deps.clipboard.writeText(text)),
    [IPC.openExternal]: typed(z.tuple([ExternalUrl]), (url) => deps.openExternal(url)),
  };
}

/** Registers every handler behind the sender check; returns the unregister function. */
export function registerIpc(
  ipcMain: IpcMainLike,
  handlers: Record<IpcChannel, (args: unknown[]) => unknown>,
  trusted: TrustedSender,
  log: (message: string) => void = (message) => console.warn(`[ipc] ${message}`),
): () => void {
  const channels = Object.keys(handlers) as IpcChannel[];
  for (const channel of channels) {
    ipcMain.handle(channel, (event, ...args) => {
      if (!isTrustedSender(event, trusted)) {
        log(`${channel} from an untrusted sender (webContents ${event.sender.id}, ${event.senderFrame?.url ?? 'no frame'}) refused`);
        throw new IpcRefused(`${channel}: refused, not sent by the console's window`);
      }
      const handler = handlers[channel];
      return handler(args);
    });
  }
  return () => channels.forEach((channel) => ipcMain.removeHandler(channel));
}
