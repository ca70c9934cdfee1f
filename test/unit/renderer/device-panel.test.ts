/**
 * The device list under a live connection (renderer/src/devices/device-panel.ts), in a bare
 * Chromium page with no server: an agent's row changes every few seconds while it is connected
 * (the round-trip time it shows, a tab opened on one of its containers), and a click that spans
 * such a change, pressed before it and released after it, still opens the container it was
 * pressed on. A row rebuilt between the press and the release used to lose the click: the
 * release landed on a new button, so the browser gave the click to the list, not to a container
 * (a CI run's flood test waited 20 s for a tab that was never asked for).
 *
 * And while the pointer is on the list, its rows keep their order and place: an agent joining
 * above the row under the pointer, one climbing to another group, a container added or removed
 * waited for the pointer to leave, so that a click lands on what the engineer aimed at.
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
  held: () => panel.heldChanges,
};
`;

let browser: Browser;
let page: Page;

type Over = Record<string, unknown>;
const show = (overs: Over[]) => page.evaluate((o) => (window as unknown as Hooks).panelUnderTest.show(o), overs);
const calls = () => page.evaluate(() => (window as unknown as Hooks).panelUnderTest.calls());
const held = () => page.evaluate(() => (window as unknown as Hooks).panelUnderTest.held());
type Hooks = { panelUnderTest: { show(overs: Over[]): Promise<void>; calls(): unknown[][]; held(): number } };

/** Takes the pointer off the list (onto the panel's heading): what waited is shown. */
async function leaveList(): Promise<void> {
  const box = await page.locator('h2').boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + 2, box.y + 2);
}

const targetButton = (agentId: string, targetName: string) =>
  page.locator(`[data-agent-id="${agentId}"] [data-testid="target"][data-target-name="${targetName}"]`);

/** Rests the pointer on the container's button; returns where it is. */
async function restOn(agentId: string, targetName: string): Promise<{ x: number; y: number }> {
  const box = await targetButton(agentId, targetName).boundingBox();
  assert.ok(box, `${agentId}'s ${targetName} is on screen`);
  const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await page.mouse.move(point.x, point.y);
  return point;
}

/** The agent and container under a point of the page, from the button there. */
const under = (point: { x: number; y: number }) =>
  page.evaluate(({ x, y }) => {
    const button = document.elementFromPoint(x, y)?.closest<HTMLElement>('[data-testid="target"]');
    return button ? `${button.closest<HTMLElement>('[data-testid="agent"]')?.dataset.agentId}/${button.dataset.targetName}` : undefined;
  }, point);

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
  await leaveList();
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

const line = (agentId: string, name: string, over: Over = {}): Over => ({ agentId, name, ...over });

test('while the pointer rests on a row, agents joining above it or climbing past it leave it in place, and the click opens what was aimed at', async () => {
  await show([line('a1', 'line 3'), line('a2', 'line 5')]);
  const point = await restOn('a2', 'plc-a');
  assert.equal(await under(point), 'a2/plc-a');
  // An agent comes online, sorted above; then the one under the pointer climbs to the top.
  await show([line('a0', 'line 1'), line('a1', 'line 3'), line('a2', 'line 5')]);
  assert.equal(await under(point), 'a2/plc-a', 'an agent joining above moved nothing');
  await show([line('a2', 'line 5'), line('a0', 'line 1'), line('a1', 'line 3')]);
  assert.equal(await under(point), 'a2/plc-a', 'a change of order moved nothing');
  assert.equal(await page.locator('[data-agent-id="a0"]').count(), 0, 'the new agent waits');
  assert.equal(await held(), 1);
  assert.match(await page.locator('[data-testid="device-held"]').innerText(), /1 change waits while the pointer is on the list/);
  await page.mouse.down();
  await page.mouse.up();
  assert.deepEqual(await calls(), [['open', 'a2', 'plc-a', 'plc-a0000000ffffffffffff']]);
  // Off the list, it catches up at once.
  await leaveList();
  await page.locator('[data-agent-id="a0"]').waitFor();
  assert.deepEqual(
    await page
      .locator('[data-testid="agent"]')
      .evaluateAll((rows) =>
        rows
          .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
          .map((row) => (row as HTMLElement).dataset.agentId),
      ),
    ['a2', 'a0', 'a1'],
  );
  assert.equal(await held(), 0);
  assert.equal(await page.locator('[data-testid="device-held"]').isVisible(), false);
});

test('while the pointer is on the list, the states in its rows stay live', async () => {
  await show([line('a1', 'line 3'), line('a2', 'line 5')]);
  const point = await restOn('a2', 'plc-b');
  await show([
    line('a1', 'line 3', { stage: { kind: 'failed', reason: 'gone', code: 'AGENT_UNREACHABLE' } }),
    line('a2', 'line 5', { targets: ['plc-a', 'plc-b'], path: { kind: 'relayed', rttMs: 7 } }),
  ]);
  assert.match(await page.locator('[data-agent-id="a1"] [data-testid="connection-state"]').innerText(), /failed: AGENT_UNREACHABLE/);
  assert.match(await page.locator('[data-agent-id="a2"] [data-testid="connection-state"]').innerText(), /relayed · 7\.0 ms/);
  assert.equal(await held(), 0, 'nothing waits: no row was added, removed or moved');
  assert.equal(await under(point), 'a2/plc-b');
});

test('a container removed under the pointer stays, disabled, as "removed"; one added waits; both catch up when the pointer leaves', async () => {
  await show([line('a1', 'line 3', { targets: ['plc-a', 'plc-b', 'plc-c'] }), line('a2', 'line 5')]);
  const point = await restOn('a2', 'plc-a');
  await show([line('a1', 'line 3', { targets: ['plc-new', 'plc-b', 'plc-c'] }), line('a2', 'line 5')]);
  assert.equal(await under(point), 'a2/plc-a', 'the row under the pointer did not move');
  const removed = targetButton('a1', 'plc-a');
  assert.equal(await removed.getAttribute('data-state'), 'removed');
  assert.equal(await removed.isDisabled(), true);
  assert.equal(await targetButton('a1', 'plc-new').count(), 0);
  assert.equal(await held(), 2);
  await removed.click({ force: true });
  assert.deepEqual(await calls(), [], 'a container that is gone opens nothing');
  await leaveList();
  await targetButton('a1', 'plc-new').waitFor();
  assert.equal(await targetButton('a1', 'plc-a').count(), 0);
});

test('an agent gone under the pointer stays as a disabled row until the pointer leaves', async () => {
  await show([line('a1', 'line 3'), line('a2', 'line 5')]);
  const point = await restOn('a2', 'plc-a');
  await show([line('a2', 'line 5')]);
  assert.equal(await under(point), 'a2/plc-a');
  const gone = page.locator('[data-agent-id="a1"]');
  assert.equal(await gone.getAttribute('data-gone'), 'true');
  assert.equal(await gone.locator('[data-testid="connection-state"]').innerText(), 'no longer listed');
  assert.equal(await gone.locator('button:not([disabled])').count(), 0, 'nothing in it can be clicked');
  await leaveList();
  await gone.waitFor({ state: 'detached' });
});

test('a row the user clicked follows its own change at once while the pointer stays on the list; the others wait', async () => {
  await show([line('a1', 'line 3', { stage: { kind: 'idle' }, path: undefined, targets: [] }), line('a2', 'line 5')]);
  const connect = page.locator('[data-agent-id="a1"] [data-testid="agent-connect"]');
  await connect.click();
  assert.deepEqual(await calls(), [['connect', 'a1']]);
  // It connects and lists its containers; another agent lists a new one meanwhile.
  await show([line('a1', 'line 3', { targets: ['plc-a', 'plc-b'] }), line('a2', 'line 5', { targets: ['plc-a', 'plc-b', 'plc-z'] })]);
  await targetButton('a1', 'plc-b').waitFor();
  assert.equal(await targetButton('a2', 'plc-z').count(), 0, "the other row's change waits");
  assert.equal(await held(), 1);
  await targetButton('a1', 'plc-b').click();
  assert.deepEqual(await calls(), [['open', 'a1', 'plc-b', 'plc-b0000000ffffffffffff']]);
  await leaveList();
  await targetButton('a2', 'plc-z').waitFor();
});

test('the list catches up when the window loses focus with the pointer resting on it', async () => {
  await show([line('a1', 'line 3'), line('a2', 'line 5')]);
  await restOn('a2', 'plc-a');
  await show([line('a0', 'line 1'), line('a1', 'line 3'), line('a2', 'line 5')]);
  assert.equal(await held(), 1);
  await page.evaluate(() => window.dispatchEvent(new Event('blur')));
  await page.locator('[data-agent-id="a0"]').waitFor();
  assert.equal(await held(), 0);
});

test('a dialog laid over the list: the list catches up once the pointer goes to the dialog', async () => {
  await show([line('a1', 'line 3'), line('a2', 'line 5')]);
  const point = await restOn('a2', 'plc-a');
  await show([line('a0', 'line 1'), line('a1', 'line 3'), line('a2', 'line 5')]);
  assert.equal(await held(), 1);
  // The dialog's backdrop comes over the list (a question after a click on it), with a button of its own.
  await page.evaluate(() => {
    const backdrop = document.createElement('div');
    backdrop.id = 'backdrop';
    backdrop.style.cssText = 'position:fixed;inset:0;background:rgba(0,0,0,.4)';
    const button = document.createElement('button');
    button.textContent = 'Cancel';
    button.style.cssText = 'position:fixed;left:20px;top:20px';
    backdrop.append(button);
    document.body.append(backdrop);
  });
  // The pointer moves within the list's area, onto the backdrop, then to the dialog's button.
  await page.mouse.move(point.x + 5, point.y + 5);
  await page.locator('#backdrop button').click();
  await page.evaluate(() => document.getElementById('backdrop')?.remove());
  await page.locator('[data-agent-id="a0"]').waitFor();
  assert.equal(await held(), 0);
});
