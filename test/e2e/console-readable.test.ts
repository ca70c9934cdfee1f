/**
 * Readable text (issue 15, problem 1), on the real stack with the DOM renderer (headless
 * Chromium's WebGL is software, so the console draws with the DOM there): an underscore at the
 * default size is drawn (non-background pixels in its cell row), the bundled monospace font is the
 * one in use, Japanese text and emoji are drawn with a fallback font rather than as empty boxes,
 * and the font and its size can be chosen in the settings.
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
  stack = await startStack({ name: 'console-readable' });
  container = await stack.startContainer({ namePrefix: 'readable-plc' });
  ui = await stack.openConsole();
  tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

/** Where the cell of `column` in the row showing `text` is on the page, and the terminal's background. */
async function cellBox(text: string, column: number): Promise<{ x: number; y: number; width: number; height: number; background: string }> {
  // The buffer has the line before the DOM renderer draws it (at the next animation frame).
  return waitFor(() => cellBoxNow(text, column), `a row showing ${text}`, 10_000);
}

function cellBoxNow(
  text: string,
  column: number,
): Promise<{ x: number; y: number; width: number; height: number; background: string } | undefined> {
  return ui.page.evaluate(
    ([id, wanted, col]) => {
      const panel = document.querySelector(`.tab-panel[data-tab-id="${id}"]`);
      const rows = Array.from(panel?.querySelectorAll<HTMLElement>('.xterm-rows > div') ?? []);
      const row = rows.find((r) => (r.textContent ?? '').trimEnd() === wanted);
      if (!row) return undefined;
      const screen = panel!.querySelector('.xterm-screen') as HTMLElement;
      const cols = (window as unknown as { __tetherTest: { size(id: string): { cols: number } } }).__tetherTest.size(id).cols;
      const cellWidth = screen.getBoundingClientRect().width / cols;
      const box = row.getBoundingClientRect();
      const viewport = panel!.querySelector('.xterm-viewport') as HTMLElement;
      return {
        x: box.left + col * cellWidth,
        y: box.top,
        width: cellWidth,
        height: box.height,
        background: getComputedStyle(viewport).backgroundColor,
      };
    },
    [tabId, text, column] as const,
  );
}

/** Pixels of the page's area `box` that differ clearly from `background` (`rgb(r, g, b)`). */
async function inkedPixels(box: { x: number; y: number; width: number; height: number }, background: string): Promise<number> {
  const png = await ui.page.screenshot({
    clip: {
      x: Math.floor(box.x),
      y: Math.floor(box.y),
      width: Math.max(1, Math.round(box.width)),
      height: Math.max(1, Math.round(box.height)),
    },
  });
  return ui.page.evaluate(
    async ([data, bg]) => {
      const image = new Image();
      image.src = `data:image/png;base64,${data}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      const [r, g, b] = (/\d+/g.exec(bg) ? bg.match(/\d+/g)! : ['0', '0', '0']).map(Number) as [number, number, number];
      const pixels = context.getImageData(0, 0, image.width, image.height).data;
      let inked = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        if (Math.abs(pixels[i]! - r) + Math.abs(pixels[i + 1]! - g) + Math.abs(pixels[i + 2]! - b) > 90) inked += 1;
      }
      return inked;
    },
    [png.toString('base64'), background] as const,
  );
}

test('regression: an underscore at the default size is drawn, with the DOM renderer (MOTOR_SPEED_SP did read as MOTOR SPEED SP)', async () => {
  assert.equal((await ui.tab(tabId)).renderer, 'dom', 'headless Chromium: the DOM renderer');
  await ui.typeLine(tabId, 'clear; echo MOTOR""_SPEED_SP');
  await ui.waitForLine(tabId, 'MOTOR_SPEED_SP');
  const underscore = await cellBox('MOTOR_SPEED_SP', 'MOTOR'.length);
  const space = await cellBox('MOTOR_SPEED_SP', 'MOTOR_SPEED_SP'.length + 1);
  assert.ok(underscore.height >= 14, `a row is at least the font size high (${underscore.height} px)`);
  const inked = await inkedPixels(underscore, underscore.background);
  assert.equal(await inkedPixels(space, space.background), 0, 'an empty cell has no ink: the measure is sound');
  assert.ok(inked >= 3, `the underscore's cell has ink (${inked} pixels)`);
});

test('the bundled monospace font is loaded and used by the terminal', async () => {
  const font = await ui.page.evaluate((id) => {
    const rows = document.querySelector(`.tab-panel[data-tab-id="${id}"] .xterm-rows`) as HTMLElement;
    return { family: getComputedStyle(rows).fontFamily, loaded: document.fonts.check('14px "JetBrains Mono"') };
  }, tabId);
  assert.match(font.family, /^"?JetBrains Mono"?,/, font.family);
  assert.equal(font.loaded, true, 'JetBrains Mono is loaded (bundled, no network)');
});

test('Japanese text and emoji are drawn with a fallback font, not as empty boxes', async () => {
  // Each glyph is compared with what the page draws for a character no font has (an empty box).
  const differs = await ui.page.evaluate((id) => {
    const rows = document.querySelector(`.tab-panel[data-tab-id="${id}"] .xterm-rows`) as HTMLElement;
    const family = getComputedStyle(rows).fontFamily;
    // Anonymous callbacks only: the test runner's transform names function constants with a helper the page lacks.
    const [missing, ...drawn] = ['\u{E0FFF}', '日', '本', '語', '😀'].map((text) => {
      const canvas = document.createElement('canvas');
      canvas.width = 40;
      canvas.height = 40;
      const context = canvas.getContext('2d')!;
      context.font = `28px ${family}`;
      context.fillStyle = '#000';
      context.fillText(text, 4, 32);
      return canvas.toDataURL();
    }); // U+E0FFF: a private-use code point that no font draws
    return Object.fromEntries(['日', '本', '語', '😀'].map((glyph, i) => [glyph, drawn[i] !== missing]));
  }, tabId);
  assert.deepEqual(differs, { 日: true, 本: true, 語: true, '😀': true });
});

test('the font and its size are chosen in the settings, and the terminal follows', async () => {
  await ui.openSettings();
  const settings = ui.page.locator('[data-testid="settings"]');
  await settings.locator('[data-testid="settings-font"]').selectOption({ label: 'DejaVu Mono' });
  await settings.locator('[data-testid="settings-font-size"]').fill('16');
  await settings.locator('[data-testid="settings-font-size"]').dispatchEvent('change');
  await ui.closeSettings();
  await waitFor(async () => {
    const family = await ui.page.evaluate(
      (id) => getComputedStyle(document.querySelector(`.tab-panel[data-tab-id="${id}"] .xterm-rows`) as HTMLElement).fontFamily,
      tabId,
    );
    return /^"?DejaVu Mono"?,/.test(family);
  }, 'the terminal to use DejaVu Mono');
  assert.equal(await ui.page.locator('[data-testid="font-size"]').textContent(), '16px');
  // the underscore stays drawn in the other font too
  await ui.typeLine(tabId, 'clear; echo ALARM""_3');
  await ui.waitForLine(tabId, 'ALARM_3');
  const underscore = await cellBox('ALARM_3', 'ALARM'.length);
  assert.ok((await inkedPixels(underscore, underscore.background)) >= 3, 'the underscore is drawn in DejaVu Mono at 16 px');
});
