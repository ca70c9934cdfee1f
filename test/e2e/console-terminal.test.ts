/**
 * Terminal features end to end: a multi-line paste asks before it is sent, scrollback search finds
 * text, font zoom changes the terminal's size and `stty size` follows, and the renderer in use
 * (WebGL, or the DOM fallback where WebGL is missing) is reported.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;
let tabId: string;

before(async () => {
  stack = await startStack({ name: 'console-terminal' });
  container = await stack.startContainer({ namePrefix: 'term-plc' });
  ui = await stack.openConsole();
  tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

/** Pastes `text` into the terminal as the browser does on Ctrl+V. */
const paste = (text: string) =>
  ui.page.evaluate(
    ([id, value]) => {
      const target = document.querySelector(`.tab-panel[data-tab-id="${id}"] .xterm-helper-textarea`);
      if (!target) throw new Error('no xterm textarea');
      const data = new DataTransfer();
      data.setData('text/plain', value);
      target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    },
    [tabId, text] as const,
  );

test('a multi-line paste asks first: Cancel sends nothing, Paste sends every line', async () => {
  await ui.focus(tabId);
  await paste('echo one""-pasted\necho two""-pasted\n');
  const dialog = ui.page.locator('[data-testid="confirm-dialog"]');
  await dialog.waitFor();
  assert.match((await dialog.textContent()) ?? '', /Paste 2 lines\?/);
  await dialog.locator('[data-testid="confirm-cancel"]').click();
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.doesNotMatch(await ui.screen(tabId), /one-pasted/);
  await paste('echo one""-pasted\necho two""-pasted\n');
  await dialog.locator('[data-testid="confirm-accept"]').click();
  await ui.waitForLine(tabId, 'one-pasted');
  await ui.waitForLine(tabId, 'two-pasted');
  // a single line is pasted without a question
  await paste('echo single""-line');
  assert.equal(await dialog.count(), 0);
  await ui.page.keyboard.press('Enter');
  await ui.waitForLine(tabId, 'single-line');
});

test('Ctrl+Shift+F finds text in the scrollback', async () => {
  await ui.typeLine(tabId, 'for i in 1 2 3; do echo nee""dle-$i; done; seq 1 200');
  await ui.waitForLine(tabId, '200');
  await ui.page.keyboard.press('Control+Shift+F');
  const input = ui.panel(tabId).locator('[data-testid="search-input"]');
  await input.fill('needle-');
  await input.press('Enter');
  const count = ui.panel(tabId).locator('[data-testid="search-count"]');
  await waitFor(async () => /of 3$/.test((await count.textContent()) ?? ''), 'three matches (the command line spells it apart)');
  await input.press('Escape');
  assert.equal(await ui.panel(tabId).locator('[data-testid="search-bar"]').isVisible(), false);
});

test('font zoom changes the terminal size, and stty size follows', async () => {
  const before = await ui.size(tabId);
  await ui.focus(tabId);
  await ui.page.keyboard.press('Control+=');
  await ui.page.keyboard.press('Control+=');
  const after = await waitFor(async () => {
    const size = await ui.size(tabId);
    return size.cols < before.cols ? size : undefined;
  }, 'fewer columns at a larger font');
  assert.equal(await ui.page.locator('[data-testid="font-size"]').textContent(), '16px');
  await ui.typeLine(tabId, 'clear; stty size');
  await ui.waitForLine(tabId, `${after.rows} ${after.cols}`);
  await ui.page.keyboard.press('Control+0');
  await waitFor(async () => (await ui.size(tabId)).cols === before.cols, 'the default size again');
});

test('the status line shows the renderer in use: WebGL on a GPU, the DOM renderer on software WebGL', async () => {
  const tab = await ui.tab(tabId);
  // What this Chromium offers: headless with --disable-gpu gives SwiftShader, a software WebGL.
  const webgl = await ui.page.evaluate(() => {
    const gl = document.createElement('canvas').getContext('webgl2');
    if (!gl) return 'none';
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  });
  const expected = webgl === 'none' || /swiftshader|llvmpipe|softpipe|software/i.test(webgl) ? 'dom' : 'webgl';
  assert.equal(tab.renderer, expected, `renderer with WebGL "${webgl}"`);
  assert.equal(await ui.panel(tabId).locator('[data-testid="tab-size"]').getAttribute('data-renderer'), tab.renderer);
});
