/**
 * The console's one window and its security settings. The settings are exported so that the
 * security test reads them from here, the code that creates the window, rather than restating them.
 * Electron is passed in (only its types are imported), so this file also loads in plain Node.
 */
import type { BrowserWindow, BrowserWindowConstructorOptions, WebPreferences } from 'electron';

/** The renderer gets no Node, runs sandboxed, and sees the preload only through contextBridge. */
export function webPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  };
}

/**
 * The console's Content-Security-Policy, sent as a response header on every load in its session
 * (renderer/index.html carries the same policy as a meta tag for file loads). Scripts only from the
 * app itself; inline styles are allowed because xterm.js positions its rows with them; connections
 * to any signaling server the user configures (http/ws and their TLS forms).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' http: https: ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Permissions the renderer may have: writing the clipboard (copy on select). Everything else is denied. */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write']);

/** What Electron passes beside a permission request or check (the parts the decision reads). */
export interface PermissionDetails {
  /** requests: the media kinds asked for */
  mediaTypes?: string[];
  /** checks: the media kind asked about */
  mediaType?: string;
  /** requests: the page that asks */
  requestingUrl?: string;
  /** checks: the origin that asks */
  requestingOrigin?: string;
}

/**
 * The one exception beside ALLOWED_PERMISSIONS: the camera, video only, for the app's own page,
 * so that pairing can scan an agent's QR code. No microphone, no other origin.
 */
export function permissionGranted(permission: string, details: PermissionDetails = {}): boolean {
  if (ALLOWED_PERMISSIONS.has(permission)) return true;
  if (permission !== 'media') return false;
  const from = details.requestingUrl ?? details.requestingOrigin ?? '';
  if (!from.startsWith('file://')) return false;
  const kinds = details.mediaTypes ?? (details.mediaType ? [details.mediaType] : []);
  return kinds.length > 0 && kinds.every((kind) => kind === 'video');
}

export interface WindowDeps {
  BrowserWindow: new (options: BrowserWindowConstructorOptions) => BrowserWindow;
  preloadPath: string;
  /** renderer/dist/index.html */
  rendererIndex: string;
  /** query for the renderer, e.g. `signal` and `token` from `npm run demo` */
  query?: Record<string, string>;
  /** where rejected navigations are reported */
  log?: (message: string) => void;
  /**
   * Asked when the page refuses to unload (its `beforeunload`: shells still run) as the window
   * closes or reloads; true to close anyway. Electron shows no question of its own for that.
   */
  confirmClose?: (window: BrowserWindow) => boolean;
}

/** The words of the question before closing while shells run: they are kept, not ended. */
export const CLOSE_QUESTION = {
  type: 'question' as const,
  buttons: ['Close', 'Cancel'],
  defaultId: 1,
  cancelId: 1,
  title: 'Close the console?',
  message: 'Shells are still running in open tabs.',
  detail: 'The agents keep them for a few minutes: open the console again to take them back, with what they printed meanwhile.',
};

export function windowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 820,
    minWidth: 720,
    minHeight: 480,
    title: 'Tether console',
    backgroundColor: '#16181d',
    show: false,
    webPreferences: webPreferences(preloadPath),
  };
}

/** Creates the window: navigation and new windows denied, CSP on every response, permissions denied but for permissionGranted's. */
export function createMainWindow(deps: WindowDeps): BrowserWindow {
  const log = deps.log ?? ((message: string) => console.warn(`[window] ${message}`));
  const window = new deps.BrowserWindow(windowOptions(deps.preloadPath));
  const contents = window.webContents;
  contents.on('will-navigate', (event, url) => {
    event.preventDefault();
    log(`navigation to ${url} denied`);
  });
  contents.on('will-redirect', (event, url) => {
    event.preventDefault();
    log(`redirect to ${url} denied`);
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log('webview denied');
  });
  // The renderer refuses to unload while shells run; Electron would then neither close nor ask.
  contents.on('will-prevent-unload', (event) => {
    if (deps.confirmClose?.(window)) event.preventDefault();
  });
  contents.setWindowOpenHandler(({ url }) => {
    log(`new window for ${url} denied (links open through tether.openExternal)`);
    return { action: 'deny' };
  });
  const session = contents.session;
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  session.setPermissionRequestHandler((_contents, permission, callback, details) =>
    callback(permissionGranted(permission, details as PermissionDetails)),
  );
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin, details) =>
    permissionGranted(permission, { ...(details as PermissionDetails), requestingOrigin }),
  );
  window.once('ready-to-show', () => window.show());
  void window.loadFile(deps.rendererIndex, deps.query ? { query: deps.query } : {});
  return window;
}
