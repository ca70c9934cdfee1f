/**
 * The preload API, `window.tether`: the only way the console renderer reaches its host. Typed once,
 * here; the IPC payloads are zod schemas that the main process parses on receipt (the renderer is
 * not trusted). The renderer sees this file through its tsconfig (`include`), never by import, and
 * has a browser implementation of the same interface (renderer/src/host/browser-host.ts).
 *
 * No runtime dependency other than zod: this file is compiled into main, and type-checked in the
 * renderer.
 */
import { z } from 'zod';

export const Theme = z.enum(['dark', 'light']);
export type Theme = z.infer<typeof Theme>;

/** The terminal's font: one of the two bundled with the console, or the system's monospace. */
export const TerminalFont = z.enum(['jetbrains-mono', 'dejavu-mono', 'system']);
export type TerminalFont = z.infer<typeof TerminalFont>;

export const MIN_FONT_SIZE = 8;
export const MAX_FONT_SIZE = 32;

/** What the console remembers between runs; none of it is secret (secrets are credentials). */
export const Settings = z.object({
  theme: Theme,
  fontSize: z.number().int().min(MIN_FONT_SIZE).max(MAX_FONT_SIZE),
  fontFamily: TerminalFont,
  copyOnSelect: z.boolean(),
  /** the signaling server the console last used; its token is a credential */
  signalingUrl: z.string().max(2048),
});
export type Settings = z.infer<typeof Settings>;

export const DEFAULT_SETTINGS: Settings = { theme: 'dark', fontSize: 14, fontFamily: 'jetbrains-mono', copyOnSelect: true, signalingUrl: '' };

export const SettingsPatch = Settings.partial().strict();
export type SettingsPatch = z.infer<typeof SettingsPatch>;

/** Names of stored secrets, e.g. `signaling-token`; a small alphabet so they are safe as file keys. */
export const CredentialKey = z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9._-]*$/);
export const CredentialValue = z.string().max(16_384);

/** An agent this console has seen (presence) or paired with, kept so it is listed while offline. */
export const KnownAgent = z.object({
  agentId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/),
  name: z.string().min(1).max(128),
  lastSeen: z.number().int().nonnegative(),
});
export type KnownAgent = z.infer<typeof KnownAgent>;

export const ExternalUrl = z
  .string()
  .max(4096)
  .refine((url) => /^https?:\/\//i.test(url), 'only http and https links open outside the console');

export const ClipboardText = z.string().max(4 * 1024 * 1024);

export { IPC, type IpcChannel } from './ipc-channels.js';

/** Where secrets go: `encrypted` only in Electron with an OS keyring; the browser stores them as is. */
export interface CredentialStatus {
  encrypted: boolean;
  /** a sentence for the settings screen, e.g. "encrypted with the GNOME keyring" */
  description: string;
}

export interface TetherApi {
  /** `electron` when the preload provides the API, `browser` for the web console and tests */
  readonly kind: 'electron' | 'browser';
  settings: {
    get(): Promise<Settings>;
    set(patch: SettingsPatch): Promise<Settings>;
  };
  credentials: {
    get(key: string): Promise<string | null>;
    set(key: string, value: string): Promise<void>;
    delete(key: string): Promise<void>;
    status(): Promise<CredentialStatus>;
  };
  knownAgents: {
    list(): Promise<KnownAgent[]>;
    save(agents: KnownAgent[]): Promise<void>;
  };
  clipboard: {
    readText(): Promise<string>;
    writeText(text: string): Promise<void>;
  };
  openExternal(url: string): Promise<void>;
}

declare global {
  interface Window {
    /** Present in Electron (the preload's contextBridge); absent in a plain browser. */
    readonly tether?: TetherApi;
  }
}
