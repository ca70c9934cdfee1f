/**
 * The device list for fleets and the smaller items of issue 15 (problem 8), on the real stack:
 * agents sorted by state (connected, reconnecting, connecting, failed, online, offline), the name
 * filter, containers with open tabs marked, no word broken in two in the side panel, a status line
 * without jargon that shows the terminal's current size, and an activity dot that can be seen.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;
const extra: AgentProcess[] = [];

before(async () => {
  stack = await startStack({ name: 'console-side-panel' });
  container = await stack.startContainer({ namePrefix: 'side-plc' });
  ui = await stack.openConsole();
});

after(async () => {
  for (const agent of extra) {
    agent.resume();
    await agent.stop();
  }
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());
const agentItem = (agentId: string) => ui.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"]`);

/** The agents of the list in the order shown (the rows are placed by index). */
const listed = () =>
  ui.page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('[data-testid="agent"]'))
      .sort((a, b) => Number(a.dataset['index']) - Number(b.dataset['index']))
      .map((row) => ({ agentId: row.dataset['agentId'] ?? '', dot: row.dataset['dot'] ?? '' })),
  );

function more(agentId: string, name: string): Promise<AgentProcess> {
  return startAgent({ signalingUrl: stack.signaling.url, token: stack.agentToken, agentId, name, extraArgs: stack.exposeArgs }).then(
    (agent) => (extra.push(agent), agent),
  );
}

test('agents are sorted by state, the filter finds them by name, and a container with an open tab is marked', async () => {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  // The pointer off the list: while it is on it, agents that join wait (device-panel.test.ts).
  await ui.leaveDeviceList();
  // Names chosen so that by name alone the order would differ.
  const gone = await more(`${stack.agent.agentId}-gone`, 'aac line 7 (decommissioned)');
  await agentItem(gone.agentId).waitFor();
  await gone.stop();
  await waitFor(async () => (await agentItem(gone.agentId).getAttribute('data-online')) === 'false', 'the stopped agent to be offline');
  const connected = await more(`${stack.agent.agentId}-other`, 'aaa line 2 press controller');
  const stage = (agentId: string) => agentItem(agentId).locator('[data-testid="connection-state"]').getAttribute('data-stage');
  await waitFor(async () => (await stage(connected.agentId)) === 'ready', 'the second agent to connect on its own', 45_000);
  const hung = await more(`${stack.agent.agentId}-hung`, 'aab line 4 (hung)');
  hung.pause();
  await agentItem(hung.agentId).waitFor();
  if ((await stage(hung.agentId)) === 'ready') {
    // It connected before it froze: Disconnect and Connect again, which it cannot answer now.
    await agentItem(hung.agentId).locator('[data-testid="agent-disconnect"]').click();
    await agentItem(hung.agentId).locator('[data-testid="agent-connect"]').click();
  }
  await waitFor(async () => (await stage(hung.agentId)) !== 'ready', 'the hung agent not to be connected');
  await ui.leaveDeviceList();

  const expected = [connected.agentId, stack.agent.agentId, hung.agentId, gone.agentId];
  await waitFor(
    async () => JSON.stringify((await listed()).map((r) => r.agentId)) === JSON.stringify(expected),
    `the order ${expected.join(', ')}`,
  );
  const dots = await listed();
  assert.deepEqual(dots.map((r) => r.dot).slice(0, 2), ['connected', 'connected']);
  assert.ok(['connecting', 'failed'].includes(dots[2]!.dot), dots[2]!.dot);
  assert.equal(dots[3]!.dot, 'offline');

  const target = agentItem(stack.agent.agentId).locator(`[data-testid="target"][data-target-name="${container.name}"]`);
  await waitFor(async () => (await target.getAttribute('data-open-tabs')) === '1', 'the container to be marked with its tab');
  assert.equal(await target.locator('[data-testid="target-tabs"]').innerText(), '1 tab');
  const other = agentItem(connected.agentId).locator('[data-testid="target"]').first();
  if (await other.count()) assert.equal(await other.getAttribute('data-open-tabs'), '0');

  await ui.page.locator('[data-testid="device-filter"]').fill('press controller');
  await waitFor(
    async () => JSON.stringify((await listed()).map((r) => r.agentId)) === JSON.stringify([connected.agentId]),
    'the filter to show the one agent',
  );
  await ui.page.locator('[data-testid="device-filter"]').fill('');
  await waitFor(async () => (await listed()).length === 4, 'all four again');
  hung.resume();
  await ui.closeByClick(tabId);
});

test('no word in the side panel is broken across two lines', async () => {
  await ui.page.setViewportSize({ width: 1000, height: 700 });
  const broken = await ui.page.evaluate(() => {
    const out: string[] = [];
    const walker = document.createTreeWalker(document.querySelector('.sidebar')!, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent ?? '';
      for (const match of text.matchAll(/\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set(
          Array.from(range.getClientRects())
            .filter((r) => r.width > 0)
            .map((r) => Math.round(r.top)),
        );
        if (lines.size > 1) out.push(match[0]);
      }
    }
    return out;
  });
  assert.deepEqual(broken, []);
});

test('the status line speaks plainly and shows the size the terminal has now', async () => {
  await ui.page.setViewportSize({ width: 1200, height: 800 });
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  const status = ui.panel(tabId).locator('[data-testid="tab-status"]');
  const sizeText = () => ui.panel(tabId).locator('[data-testid="tab-size"]').innerText();
  const text = await status.innerText();
  assert.doesNotMatch(text, /\bdom\b|\bwebgl\b|path:|—/i, `no jargon in "${text}"`);
  const first = await ui.size(tabId);
  assert.equal(await sizeText(), `${first.cols}×${first.rows}`);
  await ui.page.setViewportSize({ width: 900, height: 600 });
  const smaller = await waitFor(async () => {
    const size = await ui.size(tabId);
    return size.cols < first.cols && size.rows < first.rows ? size : undefined;
  }, 'the terminal to fit the smaller window');
  await waitFor(
    async () => (await sizeText()) === `${smaller.cols}×${smaller.rows}`,
    `the status line to say ${smaller.cols}×${smaller.rows}`,
  );
  await ui.page.setViewportSize({ width: 1200, height: 800 });
  await ui.closeByClick(tabId);
});

test('a background tab with new output shows a dot that can be seen', async () => {
  const first = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(first);
  await ui.typeLine(first, 'sleep 2; echo background""-output');
  const second = await ui.openTab(stack.agent.agentId, container.name);
  await ui.waitOpened(second);
  await waitFor(async () => (await ui.tab(first)).activity, 'output in the background tab');
  // No named functions inside: the test's compiler would wrap them in a helper the page lacks.
  const dot = await ui
    .tabButton(first)
    .locator('.tab-activity')
    .evaluate((node) => {
      const box = node.getBoundingClientRect();
      const lum: number[] = [];
      for (const css of [getComputedStyle(node).backgroundColor, getComputedStyle(node.closest('.tab')!).backgroundColor]) {
        const channels = (css.match(/[\d.]+/g) ?? [])
          .slice(0, 3)
          .map((v) => Number(v) / 255)
          .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
        lum.push(0.2126 * channels[0]! + 0.7152 * channels[1]! + 0.0722 * channels[2]!);
      }
      return { width: box.width, height: box.height, contrast: (Math.max(lum[0]!, lum[1]!) + 0.05) / (Math.min(lum[0]!, lum[1]!) + 0.05) };
    });
  assert.ok(dot.width >= 8 && dot.height >= 8, `the dot is ${dot.width}×${dot.height} px`);
  assert.ok(dot.contrast >= 3, `the dot's contrast with its tab is ${dot.contrast.toFixed(2)}:1`);
  await ui.closeByClick(second);
  await ui.closeByClick(first);
});

test('the device list is as wide as it is dragged, the terminal fits the rest, and the width is kept', async () => {
  await ui.page.setViewportSize({ width: 1200, height: 800 });
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  const sidebarWidth = () => ui.page.locator('.sidebar').evaluate((node) => Math.round(node.getBoundingClientRect().width));
  const sash = ui.page.locator('[data-testid="sidebar-sash"]');
  const before = { width: await sidebarWidth(), size: await ui.size(tabId) };
  const box = (await sash.boundingBox())!;
  await ui.page.mouse.move(box.x + box.width / 2, box.y + 200);
  await ui.page.mouse.down();
  await ui.page.mouse.move(box.x + box.width / 2 + 80, box.y + 200, { steps: 4 });
  await ui.page.mouse.move(box.x + box.width / 2 + 160, box.y + 200, { steps: 4 });
  await ui.page.mouse.up();
  const wider = await sidebarWidth();
  assert.ok(Math.abs(wider - (before.width + 160)) <= 2, `dragged 160 px right: ${before.width} → ${wider} px`);
  const narrower = await waitFor(async () => {
    const size = await ui.size(tabId);
    return size.cols < before.size.cols ? size : undefined;
  }, 'the terminal to fit the room left');
  assert.equal(narrower.rows, before.size.rows);
  // The shell is told the new size: full-screen programs draw to it.
  await ui.typeLine(tabId, 'clear; stty size');
  await ui.waitForLine(tabId, `${narrower.rows} ${narrower.cols}`);

  // Kept: the next run of the console shows the list as wide.
  await ui.closeByClick(tabId);
  ui = await stack.openConsole();
  await ui.page.locator('[data-testid="sidebar-sash"]').waitFor();
  assert.equal(await sidebarWidth(), wider);
  // The keyboard moves it too, and a double click gives the default back.
  await ui.page.locator('[data-testid="sidebar-sash"]').focus();
  await ui.page.keyboard.press('ArrowLeft');
  assert.equal(await sidebarWidth(), wider - 16);
  await ui.page.locator('[data-testid="sidebar-sash"]').dblclick();
  assert.equal(await sidebarWidth(), before.width);
  // A window too small for the chosen width gives the terminals the room: at most 60 % of it.
  await ui.page.locator('[data-testid="sidebar-sash"]').focus();
  for (let i = 0; i < 20; i++) await ui.page.keyboard.press('ArrowRight');
  await ui.page.setViewportSize({ width: 800, height: 700 });
  await waitFor(async () => (await sidebarWidth()) <= 480 || undefined, 'the list to give the narrow window room');
  await ui.page.locator('[data-testid="sidebar-sash"]').dblclick();
  await ui.page.setViewportSize({ width: 1200, height: 800 });
});

test('with the signaling server not answering, agents it listed are "not known", not offline', async () => {
  // The agents of the tests above are remembered; the server at this address never answers.
  const query = new URLSearchParams({ signal: 'http://127.0.0.1:9', token: stack.consoleToken, test: '1' });
  await ui.page.goto(`${stack.baseUrl}/index.html?${query.toString()}`);
  const row = agentItem(stack.agent.agentId);
  await row.waitFor();
  const state = row.locator('[data-testid="connection-state"]');
  await waitFor(async () => /not known/.test(await state.innerText()) || undefined, 'the agent to be "not known"');
  assert.match(await state.innerText(), /signaling server does not answer/);
  assert.match(await row.innerText(), /Out of reach until the signaling server answers again/);
  assert.doesNotMatch(await row.innerText(), /Offline: its containers/);
  ui = await stack.openConsole();
  await waitFor(
    async () => (await row.locator('[data-testid="connection-state"]').getAttribute('data-stage')) === 'ready',
    'connected again',
    45_000,
  );
});
