/**
 * Electron main: creates the stores, the IPC handlers and the window; everything with logic lives in
 * the files beside this one and is tested in Node with Electron's APIs passed in.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserWindow, app, clipboard, dialog, ipcMain, safeStorage, shell } from 'electron';
import { CredentialStore } from './credential-store.js';
import { ipcHandlers, registerIpc } from './ipc.js';
import { SettingsStore } from './settings-store.js';
import { CLOSE_QUESTION, createMainWindow } from './window.js';

// Bundled to electron/dist/main.cjs; the preload and the built renderer sit at fixed places from it.
const preloadPath = join(__dirname, 'preload.cjs');
const rendererIndex = join(__dirname, '..', '..', 'renderer', 'dist', 'index.html');

/** `--signal=<url> --token=<token>` (from `npm run demo`) go to the renderer's query; nothing else does. */
function queryFromArgs(argv: readonly string[]): Record<string, string> {
  const query: Record<string, string> = {};
  for (const arg of argv) {
    const match = /^--(signal|token)=(.+)$/.exec(arg);
    if (match?.[1] && match[2]) query[match[1]] = match[2];
  }
  return query;
}

app.enableSandbox();
app.on('web-contents-created', (_event, contents) => {
  // Second line of defence for any webContents, e.g. a devtools window: no navigation, no popups.
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

void app.whenReady().then(() => {
  const userData = app.getPath('userData');
  const settings = new SettingsStore(join(userData, 'settings.json'));
  const credentials = new CredentialStore(safeStorage, join(userData, 'credentials.json'));
  const status = credentials.status();
  if (!status.encrypted) console.warn(`[credentials] ${status.description}`);
  let window: BrowserWindow | undefined;
  registerIpc(
    ipcMain,
    ipcHandlers({
      settings,
      credentials,
      clipboard,
      openExternal: (url: string) => shell.openExternal(url),
    }),
    { webContentsId: () => window?.webContents.id, rendererUrl: pathToFileURL(rendererIndex).href },
  );
  const query = queryFromArgs(process.argv);
  const created = createMainWindow({
    BrowserWindow,
    preloadPath,
    rendererIndex,
    confirmClose: (parent) => dialog.showMessageBoxSync(parent, CLOSE_QUESTION) === 0,
    ...(Object.keys(query).length ? { query } : {}),
  });
  window = created;
  created.on('closed', () => (window = undefined));
});

app.on('window-all-closed', () => app.quit());
