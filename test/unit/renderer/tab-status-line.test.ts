/**
 * A tab's status line (renderer/src/tabs/tab-status-view.ts) in a bare Chromium page: it is updated
 * with every round-trip sample while the tab is connected, and text selected on it (a container's
 * name, to copy) stays selected across those updates; what changed is shown.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { after, before, test } from 'node:test';
import { openUnitPage } from '../../../harness/renderer-unit-page.js';

const entry = `
import { TabStatusView } from '../../../renderer/src/tabs/tab-status-view';
const view = new TabStatusView(() => {});
document.body.append(view.statusLine);
window.statusUnderTest = {
  show(rttMs) {
    view.showStatus({ target: 'plc-line-3', agentName: 'cell 4', state: 'open', path: { kind: 'direct', rttMs }, size: { cols: 80, rows: 24 }, renderer: 'dom' });
  },
  selectTarget() {
    const span = document.querySelector('[data-testid="tab-target"]');
    const range = document.createRange();
    range.selectNodeContents(span);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  },
  selected: () => getSelection().toString(),
  text: () => document.querySelector('[data-testid="tab-status"]').innerText,
};
`;

let browser: Browser;
let page: Page;
type Hooks = { statusUnderTest: { show(rttMs: number): void; selectTarget(): void; selected(): string; text(): string } };

before(async () => {
  ({ browser, page } = await openUnitPage(entry, fileURLToPath(new URL('.', import.meta.url))));
});

after(async () => {
  await browser?.close();
});

test('text selected on the status line stays selected while the round-trip time it shows changes', async () => {
  await page.evaluate(() => (window as unknown as Hooks).statusUnderTest.show(1.2));
  await page.evaluate(() => (window as unknown as Hooks).statusUnderTest.selectTarget());
  assert.equal(await page.evaluate(() => (window as unknown as Hooks).statusUnderTest.selected()), 'plc-line-3 on cell 4');
  for (const rtt of [1.4, 2.9, 0.8]) await page.evaluate((r) => (window as unknown as Hooks).statusUnderTest.show(r), rtt);
  assert.match(
    await page.evaluate(() => (window as unknown as Hooks).statusUnderTest.text()),
    /RTT 0\.8 ms/,
    'the line shows the last sample',
  );
  assert.equal(
    await page.evaluate(() => (window as unknown as Hooks).statusUnderTest.selected()),
    'plc-line-3 on cell 4',
    'the selection survived',
  );
});
