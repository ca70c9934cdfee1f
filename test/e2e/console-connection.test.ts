/**
 * Connection visibility, end to end: the stages a tab goes through, the direct/relayed label and the
 * round-trip time from getStats, a tab caught connecting (its agent hung), and a stopped container
 * shown as stopped in the device list and in its tab. Saves docs/screenshots/console-connecting.png.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import { docker, type TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;

before(async () => {
  stack = await startStack({ name: 'console-connection' });
  container = await stack.startContainer({ namePrefix: 'conn-plc' });
  ui = await stack.openConsole();
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());
const agentItem = (agentId: string) => ui.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"]`);

test('a tab on a fresh connection goes through signaling, ICE, secure channel and shell, then shows a direct path and its RTT', async () => {
  await ui.connectAgent(stack.agent.agentId, 45_000);
  await agentItem(stack.agent.agentId).locator('[data-testid="agent-disconnect"]').click();
  await agentItem(stack.agent.agentId).locator('[data-testid="agent-connect"]').waitFor();
  const tabId = await ui.openTab(stack.agent.agentId, container.name);
  await ui.waitOpened(tabId);
  const tab = await ui.tab(tabId);
  assert.deepEqual(tab.stageHistory, ['signaling', 'ice', 'secure-channel', 'shell', 'ready']);
  const path = ui.panel(tabId).locator('[data-testid="tab-path"]');
  await waitFor(async () => (await path.getAttribute('data-path')) === 'direct', 'the path label', 10_000);
  assert.match((await path.textContent()) ?? '', /^direct · RTT \d+\.\d ms$/);
  const summary = await ui.tab(tabId);
  assert.equal(summary.path, 'direct', 'loopback: the selected pair is host/prflx, no relay');
  assert.ok(summary.rttMs !== undefined && summary.rttMs >= 0, 'Chromium measured a round-trip time');
  assert.match(
    (await agentItem(stack.agent.agentId).locator('[data-testid="connection-state"]').textContent()) ?? '',
    /connected · direct/,
  );
  await ui.closeByClick(tabId);
});

test('a tab whose agent hangs shows the stage it is waiting at, with a progress bar', async () => {
  const hung: AgentProcess = await startAgent({
    signalingUrl: stack.signaling.url,
    token: stack.agentToken,
    agentId: `${stack.agent.agentId}-hung`,
    name: 'line 4 host (hung)',
    extraArgs: stack.exposeArgs,
  });
  try {
    await ui.connectAgent(hung.agentId, 45_000);
    await agentItem(hung.agentId).locator('[data-testid="agent-disconnect"]').click();
    hung.pause();
    const tabId = await ui.openTab(hung.agentId, container.name);
    const progress = ui.panel(tabId).locator('[data-testid="tab-connecting"]');
    await progress.waitFor();
    assert.equal(await progress.getAttribute('data-stage'), 'signaling');
    assert.equal(await progress.locator('li.current').textContent(), 'Signaling: sending the offer to the agent');
    assert.equal((await ui.tab(tabId)).state, 'opening');
    await ui.screenshot('console-connecting');
    await ui.tabButton(tabId).locator('[data-testid="tab-close"]').click();
  } finally {
    hung.resume();
    await hung.stop();
  }
});

test('a container restarted under its tab (its runtime crashed, the restart policy ran): the tab says so, and a new session opens in it', async () => {
  const crashing = await stack.startContainer({ namePrefix: 'conn-crash', runArgs: ['--restart', 'always'] });
  const tabId = await ui.openTargetByClick(stack.agent.agentId, crashing.name, 45_000);
  await ui.waitForPrompt(tabId);
  await docker('exec', crashing.id, 'sh', '-c', 'kill -9 $(pidof sleep)');
  const banner = ui.panel(tabId).locator('[data-testid="tab-banner"]');
  await waitFor(
    async () => (await banner.isVisible()) && /restarted/.test((await banner.textContent()) ?? ''),
    'the tab to say the container restarted',
    30_000,
  );
  assert.match(
    (await banner.textContent()) ?? '',
    new RegExp(`Container ${crashing.name} restarted.*The shell ended with it \\(exit code 137\\)`),
  );
  assert.match((await ui.panel(tabId).locator('[data-testid="tab-state"]').textContent()) ?? '', /container restarted \(137\)/);
  assert.ok((await ui.lines(tabId)).some((line) => line.includes('[the container restarted; the shell ended with it (code 137)]')));
  await ui.closeByClick(tabId);
});

test('stopping a container shows it stopped in the device list, and its tab says so', async () => {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  await container.stop();
  const target = agentItem(stack.agent.agentId).locator(`[data-testid="target"][data-target-name="${container.name}"]`);
  await waitFor(async () => (await target.getAttribute('data-state')) === 'stopped', 'the container to be listed as stopped', 15_000);
  const banner = ui.panel(tabId).locator('[data-testid="tab-banner"]');
  await waitFor(
    async () => (await banner.isVisible()) && /is stopped/.test((await banner.textContent()) ?? ''),
    'the tab to say the container stopped',
    15_000,
  );
  assert.match((await banner.textContent()) ?? '', new RegExp(`Container ${container.name} is stopped`));
  assert.equal((await ui.tab(tabId)).targetState, 'stopped');
  // The agent's exit follows: it watches a killed shell's container for 2 s (a restart would start it again).
  await waitFor(async () => (await ui.tab(tabId)).state !== 'open', 'the shell to be gone with its container', 15_000);
  assert.match((await ui.panel(tabId).locator('[data-testid="tab-state"]').textContent()) ?? '', /container stopped/);
});

test("a background tab whose shell ends is marked until it is shown; its container's list entry no longer counts it", async () => {
  const other = await stack.startContainer({ namePrefix: 'conn-bg-plc' });
  const background = await ui.openTargetByClick(stack.agent.agentId, other.name, 45_000);
  await ui.waitForPrompt(background);
  const shown = await ui.openTargetByClick(stack.agent.agentId, other.name, 45_000);
  await ui.waitForPrompt(shown);
  const target = agentItem(stack.agent.agentId).locator(`[data-testid="target"][data-target-name="${other.name}"]`);
  await waitFor(async () => (await target.getAttribute('data-open-tabs')) === '2', 'two tabs counted on the container');
  const tab = ui.tabButton(background);
  assert.equal(await tab.getAttribute('data-attention'), 'false');
  // The shell of the background tab ends (exit in it, typed while it was shown, then hidden).
  await ui.activate(background);
  await ui.typeLine(background, 'sleep 1; exit 4');
  await ui.activate(shown);
  await waitFor(async () => (await ui.tab(background)).state === 'exited', 'the background shell to exit');
  await waitFor(async () => (await tab.getAttribute('data-attention')) === 'true', 'the background tab to be marked');
  const dot = await tab.locator('.tab-activity').evaluate((node) => getComputedStyle(node).backgroundColor);
  assert.notEqual(dot, 'rgba(0, 0, 0, 0)', 'its dot is drawn');
  assert.equal(await tab.locator('.tab-label').evaluate((node) => getComputedStyle(node, '::before').content), '"■ "');
  await waitFor(async () => (await target.getAttribute('data-open-tabs')) === '1', 'the ended tab no longer counted');
  await ui.activate(background);
  await waitFor(async () => (await tab.getAttribute('data-attention')) === 'false', 'the mark gone once the tab is shown');
  // The console reloaded: the ended tab is not reopened, and the next run says so and why.
  ui = await stack.openConsole();
  const back = await waitFor(async () => {
    const tabs = await ui.tabs();
    return tabs.length === 1 ? tabs[0] : undefined;
  }, 'the live tab reopened, alone');
  await waitFor(
    async () =>
      (await ui.notices(back.id)).some((n) => n.includes('Not reopened') && n.includes(`${other.name} on`) && n.includes('exited (4)')),
    'the notice naming the tab that was not reopened',
  );
  await ui.closeByClick(back.id);
});
