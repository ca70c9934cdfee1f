/**
 * The Electron window's security settings, read from the code that creates the window
 * (electron/main/window.ts) with a stand-in BrowserWindow: nothing is restated here but the rules.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import type { BrowserWindow, BrowserWindowConstructorOptions } from 'electron';
import { CONTENT_SECURITY_POLICY, createMainWindow } from '../../electron/main/window.js';

type Handler = (...args: unknown[]) => unknown;

/** Records what createMainWindow asks of Electron. */
function fakeElectron() {
  const seen = {
    options: undefined as BrowserWindowConstructorOptions | undefined,
    contentsHandlers: new Map<string, Handler>(),
    openHandler: undefined as Handler | undefined,
    headersHandler: undefined as Handler | undefined,
    permissionRequest: undefined as Handler | undefined,
    permissionCheck: undefined as Handler | undefined,
    loaded: undefined as string | undefined,
  };
  class FakeWindow {
    webContents = {
      on: (event: string, handler: Handler) => void seen.contentsHandlers.set(event, handler),
      setWindowOpenHandler: (handler: Handler) => void (seen.openHandler = handler),
      session: {
        webRequest: { onHeadersReceived: (handler: Handler) => void (seen.headersHandler = handler) },
        setPermissionRequestHandler: (handler: Handler) => void (seen.permissionRequest = handler),
        setPermissionCheckHandler: (handler: Handler) => void (seen.permissionCheck = handler),
      },
    };
    constructor(options: BrowserWindowConstructorOptions) {
      seen.options = options;
    }
    once() {}
    loadFile(file: string) {
      seen.loaded = file;
      return Promise.resolve();
    }
  }
  return { seen, BrowserWindow: FakeWindow as unknown as new (o: BrowserWindowConstructorOptions) => BrowserWindow };
}

const directives = (policy: string) =>
  new Map(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((p) => p[0])
      .map(([name, ...values]) => [name!, values]),
  );

it('the console window is created isolated, sandboxed, without Node, with its CSP, denying navigation, windows and permissions but the camera for QR', () => {
  const { seen, BrowserWindow } = fakeElectron();
  const logs: string[] = [];
  createMainWindow({ BrowserWindow, preloadPath: '/app/preload.cjs', rendererIndex: '/app/index.html', log: (m) => logs.push(m) });

  const prefs = seen.options?.webPreferences;
  assert.ok(prefs, 'webPreferences are set');
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.nodeIntegrationInWorker, false);
  assert.equal(prefs.nodeIntegrationInSubFrames, false);
  assert.equal(prefs.webSecurity, true);
  assert.equal(prefs.webviewTag, false);
  assert.equal(prefs.allowRunningInsecureContent, false);
  assert.equal(prefs.preload, '/app/preload.cjs');
  assert.equal(seen.loaded, '/app/index.html');

  for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
    let prevented = false;
    seen.contentsHandlers.get(event)?.({ preventDefault: () => (prevented = true) }, 'https://evil.example/');
    assert.equal(prevented, true, `${event} is prevented`);
  }
  assert.deepEqual(seen.openHandler?.({ url: 'https://evil.example/' }), { action: 'deny' });
  assert.equal(logs.length, 4, 'each denial is logged');

  let headers: unknown;
  seen.headersHandler?.({ responseHeaders: { 'X-Other': ['1'] } }, (result: unknown) => (headers = result));
  assert.deepEqual(headers, { responseHeaders: { 'X-Other': ['1'], 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });

  const app = 'file:///opt/tether/resources/app/renderer/dist/index.html';
  const request = (permission: string, details: Record<string, unknown>) => {
    let granted: unknown;
    seen.permissionRequest?.({}, permission, (answer: unknown) => (granted = answer), details);
    return granted;
  };
  for (const permission of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read']) {
    assert.equal(request(permission, { requestingUrl: 'https://evil.example/' }), false, `${permission} is denied`);
    assert.equal(seen.permissionCheck?.({}, permission, 'https://evil.example', {}), false);
  }
  // The camera, video only, for the app's own page: pairing scans QR codes. Nothing else.
  assert.equal(request('media', { mediaTypes: ['video'], requestingUrl: app }), true, 'the app may scan a QR code');
  assert.equal(seen.permissionCheck?.({}, 'media', 'file:///', { mediaType: 'video' }), true);
  assert.equal(request('media', { mediaTypes: ['audio'], requestingUrl: app }), false, 'no microphone');
  assert.equal(request('media', { mediaTypes: ['video', 'audio'], requestingUrl: app }), false, 'no microphone with the camera');
  assert.equal(request('media', { mediaTypes: [], requestingUrl: app }), false);
  assert.equal(request('media', { mediaTypes: ['video'], requestingUrl: 'https://evil.example/' }), false, 'no other origin');
  assert.equal(seen.permissionCheck?.({}, 'media', 'file:///', { mediaType: 'audio' }), false);
  assert.equal(request('clipboard-sanitized-write', { requestingUrl: app }), true, 'copy on select');
});

it('the CSP allows scripts only from the app itself, and the renderer carries the same policy', () => {
  const policy = directives(CONTENT_SECURITY_POLICY);
  assert.deepEqual(policy.get('script-src'), ["'self'"]);
  assert.deepEqual(policy.get('default-src'), ["'self'"]);
  assert.deepEqual(policy.get('object-src'), ["'none'"]);
  assert.deepEqual(policy.get('base-uri'), ["'none'"]);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-eval|\*/);
  const html = readFileSync(new URL('../../renderer/index.html', import.meta.url), 'utf8');
  const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
  assert.ok(meta, 'renderer/index.html has a CSP meta tag');
  // A meta policy cannot carry frame-ancestors; every other directive is the same.
  const expected = new Map([...policy].filter(([name]) => name !== 'frame-ancestors'));
  assert.deepEqual(directives(meta), expected);
});
