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
  /** absent: the default, JetBrains Mono */
  fontFamily: TerminalFont.optional(),
  copyOnSelect: z.boolean(),
  /** the signaling server the console last used; its token is a credential */
  signalingUrl: z.string().max(2048),
  /** a host's tab colour chosen by the user, by agent id; absent: derived from the id */
  hostColours: z
    .record(
      z
        .string()
        .min(1)
        .max(64)
        .regex(/^[A-Za-z0-9_.-]+$/),
      z.string().regex(/^#[0-9a-f]{6}$/i),
    )
    .refine((colours) => Object.keys(colours).length <= 1000, 'at most 1000 host colours')
    .optional(),
  /** the device list's width in CSS pixels, as the user dragged it; absent: the default */
  sidebarWidth: z.number().int().min(100).max(4000).optional(),
});
export type Settings = z.infer<typeof Settings>;

export const DEFAULT_SETTINGS: Settings = { theme: 'dark', fontSize: 14, copyOnSelect: true, signalingUrl: '' };

export const SettingsPatch = Settings.partial().strict();
export type SettingsPatch = z.infer<typeof SettingsPatch>;

/** Names of stored secrets, e.g. `signaling-token`; a small alphabet so they are safe as file keys. */
export const CredentialKey = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/);
export const CredentialValue = z.string().max(16_384);

/** An agent this console has seen (presence) or paired with, kept so it is listed while offline. */
export const KnownAgent = z.object({
  agentId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/),
  name: z.string().min(1).max(128),
  lastSeen: z.number().int().nonnegative(),
});
export type KnownAgent = z.infer<typeof KnownAgent>;

/** A terminal the console reopens: where it runs, and the agent's session to take back, if any. */
export const SavedTab = z.object({
  agentId: KnownAgent.shape.agentId,
  agentName: z.string().min(1).max(128),
  /** the container, by name or id */
  target: z.string().min(1).max(256),
  /** the title the user gave it */
  title: z.string().max(80).optional(),
  /** the agent's session id, to resume the same shell; absent: a new session is opened */
  sessionId: z.string().min(1).max(128).optional(),
  /** output bytes the console had taken of that session when it was saved */
  received: z.number().int().nonnegative().optional(),
  /** how long the agent keeps the shell after its channel is lost, from `savedAt` */
  resumeGraceMs: z
    .number()
    .int()
    .nonnegative()
    .max(7 * 24 * 3600 * 1000)
    .optional(),
  savedAt: z.number().int().nonnegative(),
});
export type SavedTab = z.infer<typeof SavedTab>;

/** Split panes: a leaf is a tab (its index in the saved list), a split two halves side by side (`row`) or stacked (`column`). */
export type PaneNode = { tab: number } | { split: 'row' | 'column'; children: [PaneNode, PaneNode] };
export const PaneNode: z.ZodType<PaneNode> = z.lazy(() =>
  z.union([
    z.object({ tab: z.number().int().nonnegative().max(199) }).strict(),
    z.object({ split: z.enum(['row', 'column']), children: z.tuple([PaneNode, PaneNode]) }).strict(),
  ]),
);

/** The tabs open when the console last closed (or reloaded), in strip order, with their split panes. */
export const OpenTabs = z.object({
  tabs: SavedTab.array().max(200),
  /** index of the active tab */
  active: z.number().int().nonnegative().optional(),
  /** each group of split panes; a tab in none stands alone */
  panes: PaneNode.array().max(100).optional(),
  /** tabs whose shell had ended, not reopened: named in the next run, so that none goes without a word */
  ended: z
    .object({ label: z.string().max(400), why: z.string().max(200) })
    .array()
    .max(50)
    .optional(),
});
export type OpenTabs = z.infer<typeof OpenTabs>;

/** A named set of tabs and panes, reopened with one action (new sessions). */
export const Workspace = z.object({
  name: z.string().min(1).max(80),
  tabs: SavedTab.pick({ agentId: true, agentName: true, target: true, title: true }).array().min(1).max(200),
  panes: PaneNode.array().max(100).optional(),
});
export type Workspace = z.infer<typeof Workspace>;

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
  /** The tabs to reopen after a restart: saved as they change, loaded once at start. */
  openTabs: {
    load(): Promise<OpenTabs>;
    save(tabs: OpenTabs): Promise<void>;
  };
  workspaces: {
    list(): Promise<Workspace[]>;
    save(workspaces: Workspace[]): Promise<void>;
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
