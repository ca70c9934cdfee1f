/**
 * The device list under a live connection (renderer/src/devices/device-panel.ts), in a bare
 * Chromium page with no server: an agent's row changes every few seconds while it is connected
 * (the round-trip time it shows, a tab opened on one of its containers), and a click that spans
 * such a change, pressed before it and released after it, still opens the container it was
 * pressed on. A row rebuilt between the press and the release used to lose the click: the
 * release landed on a new button, so the browser gave the click to the list, not to a container
 * (a CI run's flood test waited 20 s for a tab that was never asked for).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { after, before, beforeEach, test } from 'node:test';
import { openUnitPage } from '../../../harness/renderer-unit-page.js';

const entry = `
import { DevicePanel } from '../../../renderer/src/devices/device-panel';
const calls = [];
const panel = new DevicePanel({
  connect: (agentId) => calls.push(['connect', agentId]),
  disconnect: (agentId) => calls.push(['disconnect', agentId]),
  openTarget: (agentId, target) => calls.push(['open', agentId, target.name, target.id]),
  pair: () => calls.push(['pair']),
});
document.body.append(panel.element);
const target = (name, state = 'running') => ({ id: name.padEnd(12, '0') + 'ffffffffffff', name, image: 'vplc:test', state });
const agent = (over) => ({
  agentId: 'a1', name: 'line 3', version: '0.1.0', online: true, stage: { kind: 'ready' },
  targets: [target('plc-a'), target('plc-b')], targetsKnown: true,
  path: { kind: 'direct', rttMs: 1 }, openTabs: 0, openTargets: [], paired: false, route: 'cloud',
  reconnectAttempt: undefined, unansweredMs: undefined, ...over,
});
window.panelUnderTest = {
  /** renders the entries and resolves once they are painted */
  show(overs) {
    panel.render(overs.map((over) => agent(over.targets ? { ...over, targets: over.targets.map((t) => target(t)) } : over)));
    return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  },
  calls: () => calls.splice(0),
};
`;

let browser: Browser;
let page: Page;

type Over = Record<string, unknown>;
const show = (overs: Over[]) => page.evaluate((o) => (window as unknown as Hooks).panelUnderTest.show(o), overs);
const calls = () => page.evaluate(() => (window as unknown as Hooks).panelUnderTest.calls());
type Hooks = { panelUnderTest: { show(overs: Over[]): Promise<void>; calls(): unknown[][] } };

/** Presses the mouse on the container's button, runs `between`, and releases it where the button is then. */
async function clickAcross(agentId: string, targetName: string, between: () => Promise<void>): Promise<void> {
  const button = page.locator(`[data-agent-id="${agentId}"] [data-testid="target"][data-target-name="${targetName}"]`);
  const box = await button.boundingBox();
  assert.ok(box, `the ${targetName} button is on screen`);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await between();
  const after = await button.boundingBox();
  assert.ok(after, `the ${targetName} button is still on screen`);
  await page.mouse.move(after.x + after.width / 2, after.y + after.height / 2);
  await page.mouse.up();
}

before(async () => {
  ({ browser, page } = await openUnitPage(entry, fileURLToPath(new URL('.', import.meta.url)), {
    viewport: { width: 400, height: 700 },
    bodyStyle: 'margin:0;height:100vh;display:flex',
  }));
});

beforeEach(async () => {
  await show([{}]);
  await calls();
});

after(async () => {
  await browser?.close();
});

test('a click still opens its container when the round-trip time shown changes between press and release', async () => {
  await clickAcross('a1', 'plc-b', () => show([{ path: { kind: 'direct', rttMs: 2.5 } }]));
  assert.match(
    await page.locator('[data-agent-id="a1"] [data-testid="connection-state"]').innerText(),
    /2\.5 ms/,
    'the row shows the change',
  );
  assert.deepEqual(await calls(), [['open', 'a1', 'plc-b', 'plc-b0000000ffffffffffff']]);
});

test('a click still opens its container when another container of the row gets a tab between press and release', async () => {
  await clickAcross('a1', 'plc-b', () => show([{ openTabs: 1, openTargets: ['plc-a'] }]));
  assert.equal(await page.locator('[data-testid="target"][data-target-name="plc-a"]').getAttribute('data-open-tabs'), '1');
  assert.deepEqual(await calls(), [['open', 'a1', 'plc-b', 'plc-b0000000ffffffffffff']]);
});

test('a click opens the container shown under the pointer after the list of containers changed, never the one shown before', async () => {
  await show([{ targets: ['plc-c', 'plc-a', 'plc-b'] }]);
  const first = page.locator('[data-agent-id="a1"] [data-testid="target"]').first();
  assert.equal(await first.getAttribute('data-target-name'), 'plc-c');
  await first.click();
  assert.deepEqual(await calls(), [['open', 'a1', 'plc-c', 'plc-c0000000ffffffffffff']]);
});

test('the Connect button of a row still answers when the row changes between press and release', async () => {
  await show([{ stage: { kind: 'idle' }, path: undefined }]);
  const button = page.locator('[data-agent-id="a1"] [data-testid="agent-connect"]');
  const box = await button.boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await show([{ stage: { kind: 'idle' }, path: undefined, version: '0.1.1' }]);
  await page.mouse.up();
  assert.deepEqual(await calls(), [['connect', 'a1']]);
});

test('a container that cannot be reached does not open, and the list stays one row per agent', async () => {
  await show([
    { stage: { kind: 'idle' }, path: undefined },
    { agentId: 'a2', name: 'line 4' },
  ]);
  await page.locator('[data-agent-id="a1"] [data-testid="target"][data-target-name="plc-a"]').click({ force: true });
  await page.locator('[data-agent-id="a2"] [data-testid="target"][data-target-name="plc-a"]').click();
  assert.deepEqual(await calls(), [['open', 'a2', 'plc-a', 'plc-a0000000ffffffffffff']]);
  assert.equal(await page.locator('[data-testid="agent"]').count(), 2);
});
