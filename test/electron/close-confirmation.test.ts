/**
 * Closing the Electron console while shells run (issue 15, problem 2): the renderer's
 * `beforeunload` refuses, Electron emits `will-prevent-unload`, and main asks; Close lets the window
 * go (the agents keep the shells for the next run), Cancel keeps it. Read from the code that
 * creates the window, with a stand-in BrowserWindow.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { BrowserWindow, BrowserWindowConstructorOptions } from 'electron';
import { CLOSE_QUESTION, createMainWindow } from '../../electron/main/window.js';

type Handler = (...args: unknown[]) => unknown;

function windowWith(confirmClose?: (window: BrowserWindow) => boolean) {
  const handlers = new Map<string, Handler>();
  class FakeWindow {
    webContents = {
      on: (event: string, handler: Handler) => void handlers.set(event, handler),
      setWindowOpenHandler: () => undefined,
      session: {
        webRequest: { onHeadersReceived: () => undefined },
        setPermissionRequestHandler: () => undefined,
        setPermissionCheckHandler: () => undefined,
      },
    };
    constructor(_options: BrowserWindowConstructorOptions) {}
    once() {}
    loadFile() {
      return Promise.resolve();
    }
  }
  const window = createMainWindow({
    BrowserWindow: FakeWindow as unknown as new (o: BrowserWindowConstructorOptions) => BrowserWindow,
    preloadPath: '/app/preload.cjs',
    rendererIndex: '/app/index.html',
    log: () => undefined,
    ...(confirmClose ? { confirmClose } : {}),
  });
  /** What Electron does when the page refuses to unload: true when the close goes ahead. */
  const pageRefusesUnload = () => {
    let closes = false;
    handlers.get('will-prevent-unload')?.({ preventDefault: () => (closes = true) });
    return closes;
  };
  return { window, pageRefusesUnload };
}

it('asks before closing while shells run: Close closes, Cancel keeps the window', () => {
  const asked: BrowserWindow[] = [];
  let answer = true;
  const { window, pageRefusesUnload } = windowWith((parent) => (asked.push(parent), answer));
  assert.equal(pageRefusesUnload(), true, 'Close: the beforeunload is overridden and the window closes');
  answer = false;
  assert.equal(pageRefusesUnload(), false, 'Cancel: the window stays');
  assert.deepEqual(asked, [window, window], 'asked each time, over the console window');
});

it('without a way to ask, the window stays (the shells are not given up silently)', () => {
  assert.equal(windowWith().pageRefusesUnload(), false);
});

it('the question says the shells are kept, with Cancel as the default', () => {
  assert.match(CLOSE_QUESTION.detail, /keep them/);
  assert.equal(CLOSE_QUESTION.buttons[CLOSE_QUESTION.defaultId], 'Cancel');
  assert.equal(CLOSE_QUESTION.cancelId, CLOSE_QUESTION.defaultId);
});
