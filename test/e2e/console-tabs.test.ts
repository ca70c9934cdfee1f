/**
 * The console's device panel and tabs, end to end: two agents ("hosts") with their containers, three
 * tabs on two containers at once, rename, reorder by drag, keyboard switching, the activity badge,
 * close that asks while the shell runs, and the light theme. Saves screenshots to docs/screenshots/.
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
let second: AgentProcess;
let press: TestContainer;
let packaging: TestContainer;
const tabs: string[] = [];

before(async () => {
  stack = await startStack({ name: 'console-tabs' });
  [press, packaging] = await Promise.all([
    stack.startContainer({ namePrefix: 'press-line' }),
    stack.startContainer({ namePrefix: 'packaging-plc' }),
  ]);
  second = await startAgent({
    signalingUrl: stack.signaling.url,
    token: stack.agentToken,
    agentId: `${stack.agent.agentId}-b`,
    name: 'agent console-tabs B',
    extraArgs: stack.exposeArgs,
  });
  ui = await stack.openConsole();
});

after(async () => {
  await second?.stop();
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());
const agentItem = (agentId: string) => ui.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"]`);
const order = async () => (await ui.tabs()).map((t) => t.id);
const active = async () => (await ui.tabs()).find((t) => t.active)?.id;

test('the device list shows both agents and, under each, the containers with their state', async () => {
  for (const agentId of [stack.agent.agentId, second.agentId]) {
    await ui.connectAgent(agentId, 45_000);
    for (const container of [press, packaging]) {
      const target = agentItem(agentId).locator(`[data-testid="target"][data-target-name="${container.name}"]`);
      await target.waitFor();
      assert.equal(await target.getAttribute('data-state'), 'running');
      assert.equal(await target.locator('[data-testid="target-state"]').textContent(), 'running');
    }
  }
  assert.equal(await agentItem(second.agentId).locator('.agent-name').textContent(), 'agent console-tabs B');
});

test('three tabs on two containers on two hosts work at once, each titled by container and host', async () => {
  tabs.push(await ui.openTargetByClick(stack.agent.agentId, press.name));
  tabs.push(await ui.openTargetByClick(stack.agent.agentId, press.name));
  tabs.push(await ui.openTargetByClick(second.agentId, packaging.name));
  for (const id of tabs) await ui.waitForPrompt(id);
  const summaries = await ui.tabs();
  assert.deepEqual(
    summaries.map((t) => t.title),
    [`${press.name} @ agent console-tabs`, `${press.name} @ agent console-tabs`, `${packaging.name} @ agent console-tabs B`],
  );
  assert.equal(new Set(summaries.map((t) => t.sessionId)).size, 3, 'three sessions');
  for (const [index, id] of tabs.entries()) await ui.typeLine(id, `echo tab""-${index}-$(cat /proc/sys/kernel/hostname)`);
  for (const [index, id] of tabs.entries()) {
    const host = (index < 2 ? press.id : packaging.id).slice(0, 12);
    const screen = await ui.waitForLine(id, `tab-${index}-${host}`);
    for (const other of [0, 1, 2].filter((i) => i !== index)) assert.doesNotMatch(screen, new RegExp(`^tab-${other}-`, 'm'));
  }
  assert.equal(await ui.page.title(), `${packaging.name} @ agent console-tabs B — Tether`);
  await ui.screenshot('console-tabs');
});

test('regression: a tab opened by a click takes the keyboard, so typing right away reaches its shell', async () => {
  // The terminal was focused before xterm.js had opened, and the keys went to the page body.
  const tabId = await ui.openTargetByClick(stack.agent.agentId, packaging.name);
  await ui.waitForPrompt(tabId);
  await ui.page.keyboard.type('echo typed""-at-once\n');
  await ui.waitForLine(tabId, 'typed-at-once');
  await ui.closeByClick(tabId);
});

test('keyboard: Ctrl+Tab, Ctrl+Shift+Tab, Ctrl+PageUp and Alt+1 switch tabs', async () => {
  await ui.focus(tabs[0]!);
  await ui.page.keyboard.press('Control+Tab');
  assert.equal(await active(), tabs[1]);
  await ui.page.keyboard.press('Control+Tab');
  assert.equal(await active(), tabs[2]);
  await ui.page.keyboard.press('Control+Tab');
  assert.equal(await active(), tabs[0], 'wraps around');
  await ui.page.keyboard.press('Control+Shift+Tab');
  assert.equal(await active(), tabs[2]);
  await ui.page.keyboard.press('Control+PageUp');
  assert.equal(await active(), tabs[1]);
  await ui.page.keyboard.press('Alt+1');
  assert.equal(await active(), tabs[0]);
  await ui.page.keyboard.press('Alt+9');
  assert.equal(await active(), tabs[2], 'Alt+9 is the last tab');
  // none of the shortcuts reached the shell as input
  await ui.typeLine(tabs[2]!, 'echo still""clean');
  await ui.waitForLine(tabs[2]!, 'stillclean');
});

test("rename by double-click, and Ctrl+Shift+E; F2 is the shell's", async () => {
  await ui.tabButton(tabs[0]!).locator('[data-testid="tab-label"]').dblclick();
  const input = ui.page.locator('[data-testid="tab-rename"]');
  await input.fill('press main');
  await input.press('Enter');
  assert.equal((await ui.tab(tabs[0]!)).title, 'press main');
  assert.equal(await ui.tabButton(tabs[0]!).locator('[data-testid="tab-label"]').textContent(), 'press main');
  assert.equal(await ui.page.title(), 'press main — Tether');
  // F2 is the shell's (mc, htop): cat -v shows what it sends.
  await ui.typeLine(tabs[1]!, 'cat -v');
  await ui.page.keyboard.press('F2');
  await ui.page.keyboard.press('Enter');
  await ui.waitForLine(tabs[1]!, '^[OQ');
  await ui.page.keyboard.press('Control+c');
  assert.equal(await input.count(), 0, 'F2 started no rename');
  // A command half typed at the prompt: the Enter that confirms the name is not the shell's.
  await ui.typeKeys(tabs[1]!, 'echo half""typed');
  await ui.page.keyboard.press('Control+Shift+E');
  await input.fill('press logs');
  await input.press('Enter');
  assert.equal((await ui.tab(tabs[1]!)).title, 'press logs');
  await ui.typeKeys(tabs[1]!, ' and""finished\r');
  await ui.waitForLine(tabs[1]!, 'halftyped andfinished');
  assert.ok(!(await ui.screen(tabs[1]!)).includes('command not found'), await ui.screen(tabs[1]!));
  // Escape leaves the name, and nothing reaches the shell either.
  await ui.page.keyboard.press('Control+Shift+E');
  await input.fill('not kept');
  await input.press('Escape');
  assert.equal((await ui.tab(tabs[1]!)).title, 'press logs');
});

test('a click anywhere on a tab shows it, its number included, and the keyboard goes to its terminal', async () => {
  await ui.activate(tabs[1]!);
  await ui.tabButton(tabs[0]!).locator('.tab-index').click();
  assert.equal(await active(), tabs[0]);
  await ui.page.keyboard.type('echo clicked""number');
  await ui.page.keyboard.press('Enter');
  await ui.waitForLine(tabs[0]!, 'clickednumber');
});

test('reorder by dragging a tab', async () => {
  assert.deepEqual(await order(), tabs);
  await ui.tabButton(tabs[2]!).dragTo(ui.tabButton(tabs[0]!), { targetPosition: { x: 4, y: 8 } });
  await waitFor(async () => (await order())[0] === tabs[2], 'the dragged tab to come first');
  assert.deepEqual(await order(), [tabs[2], tabs[0], tabs[1]]);
  const labels = await ui.page.locator('[data-testid="tab-label"]').allTextContents();
  assert.deepEqual(labels, [`${packaging.name} @ agent console-tabs B`, 'press main', 'press logs']);
});

test('output in a background tab shows an activity badge until the tab is shown', async () => {
  await ui.typeLine(tabs[0]!, 'sleep 1; echo back""ground');
  await ui.activate(tabs[1]!);
  await waitFor(async () => (await ui.tab(tabs[0]!)).activity, 'the activity flag on the background tab');
  assert.equal(await ui.tabButton(tabs[0]!).getAttribute('data-activity'), 'true');
  await ui.tabButton(tabs[0]!).locator('[data-testid="tab-label"]').click();
  assert.equal(await ui.tabButton(tabs[0]!).getAttribute('data-activity'), 'false');
  await ui.waitForLine(tabs[0]!, 'background');
});

test('closing a tab whose shell runs asks first; Cancel keeps it, Close ends it', async () => {
  await ui.closeByClick(tabs[1]!, false);
  assert.ok((await order()).includes(tabs[1]!), 'Cancel keeps the tab');
  await ui.focus(tabs[1]!);
  await ui.page.keyboard.press('Control+Shift+W');
  await ui.page.locator('[data-testid="confirm-accept"]').click();
  await waitFor(async () => !(await order()).includes(tabs[1]!), 'the tab to close');
  // an exited tab closes without a question
  await ui.typeLine(tabs[0]!, 'exit 0');
  await waitFor(async () => (await ui.tab(tabs[0]!)).state === 'exited', 'the shell to exit');
  await ui.tabButton(tabs[0]!).locator('[data-testid="tab-close"]').click();
  assert.equal(await ui.page.locator('[data-testid="confirm-dialog"]').count(), 0);
  assert.deepEqual(await order(), [tabs[2]]);
});

test('the light theme applies to the page and the terminal', async () => {
  tabs.push(await ui.openTargetByClick(stack.agent.agentId, press.name));
  await ui.waitForPrompt(tabs[3]!);
  await ui.typeLine(tabs[3]!, 'ls /');
  await ui.page.locator('[data-testid="theme-toggle"]').click();
  assert.equal(await ui.page.evaluate(() => document.documentElement.dataset.theme), 'light');
  const background = await ui.page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  assert.equal(background, 'rgb(251, 251, 250)');
  await ui.screenshot('console-light');
  await ui.page.locator('[data-testid="theme-toggle"]').click();
  assert.equal(await ui.page.evaluate(() => document.documentElement.dataset.theme), 'dark');
});

test('the tab keys work from the find bar too', async () => {
  const first = await ui.openTargetByClick(stack.agent.agentId, press.name, 45_000);
  await ui.waitForPrompt(first);
  const second = await ui.openTargetByClick(stack.agent.agentId, press.name, 45_000);
  await ui.waitForPrompt(second);
  await ui.focus(second);
  await ui.page.keyboard.press('Control+Shift+F');
  await ui.panel(second).locator('[data-testid="search-input"]').waitFor();
  await ui.page.keyboard.press('Control+Tab');
  assert.notEqual(await active(), second, 'Ctrl+Tab from the find bar moved on');
  await ui.activate(second);
  await ui.panel(second).locator('[data-testid="search-input"]').focus();
  const index = (await ui.tabs()).findIndex((t) => t.id === first);
  await ui.page.keyboard.press(`Alt+${index + 1}`);
  assert.equal(await active(), first);
  await ui.page.keyboard.type('echo from""-find');
  await ui.page.keyboard.press('Enter');
  await ui.waitForLine(first, 'from-find');
  await ui.closeByClick(first);
  await ui.closeByClick(second);
});
