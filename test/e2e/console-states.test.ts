/**
 * States that agree and stay out of the way (issue 15, problems 4 and 5), on the real stack: the
 * reconnecting, error and stopped banners lie over the terminal and never move the layout (the
 * status line stays where it was, the page grows no scrollbar), they are one short line with the
 * details on demand, the agent's dot is not green while its tabs reconnect, and the keyboard goes
 * back to the active terminal after "Open a new session", A+, A−, the theme button and closing a
 * dialog. Saves docs/screenshots/console-reconnecting-tab.png (1400×900).
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

before(async () => {
  stack = await startStack({ name: 'console-states' });
  await stack.page.setViewportSize({ width: 1400, height: 900 });
  container = await stack.startContainer({ namePrefix: 'states-plc' });
  ui = await stack.openConsole();
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());
const agentItem = () => ui.page.locator(`[data-testid="agent"][data-agent-id="${stack.agent.agentId}"]`);

/** The tab whose terminal has the keyboard (xterm's textarea is focused), or null. */
const terminalWithFocus = () =>
  ui.page.evaluate(() => {
    const active = document.activeElement;
    return active?.classList.contains('xterm-helper-textarea')
      ? (active.closest<HTMLElement>('.tab-panel')?.dataset['tabId'] ?? null)
      : null;
  });

async function assertTerminalFocused(tabId: string, after: string): Promise<void> {
  await waitFor(async () => (await terminalWithFocus()) === tabId, `the keyboard back in the terminal after ${after}`, 10_000);
}

/** Where the visible status line is, and whether the page scrolls. */
const layout = (tabId: string) =>
  ui.page.evaluate((id) => {
    const status = document
      .querySelector<HTMLElement>(`.tab-panel[data-tab-id="${id}"] [data-testid="tab-status"]`)!
      .getBoundingClientRect();
    const root = document.scrollingElement ?? document.documentElement;
    return { top: status.top, bottom: status.bottom, left: status.left, pageScrolls: root.scrollHeight > root.clientHeight };
  }, tabId);

/** The banner of the tab as shown: visible, its line's height, the details' visibility. */
const bannerShape = (tabId: string) =>
  ui.page.evaluate((id) => {
    const banner = document.querySelector<HTMLElement>(`.tab-panel[data-tab-id="${id}"] [data-testid="tab-banner"]`)!;
    const title = banner.querySelector<HTMLElement>('[data-testid="tab-banner-title"]')!;
    const detail = banner.querySelector<HTMLElement>('[data-testid="tab-banner-detail"]')!;
    const lineHeight = parseFloat(getComputedStyle(title).lineHeight) || parseFloat(getComputedStyle(title).fontSize) * 1.2;
    return {
      visible: banner.offsetParent !== null && !banner.hidden,
      titleLines: Math.round(title.getBoundingClientRect().height / lineHeight),
      detailShown: detail.offsetParent !== null,
      position: getComputedStyle(banner).position,
    };
  }, tabId);

test('focus returns to the active terminal after A+, A−, the theme button, closing a dialog, and Open a new session', async () => {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  await ui.focus(tabId);
  await assertTerminalFocused(tabId, 'a click into it');

  for (const [testid, what] of [
    ['zoom-in', 'A+'],
    ['zoom-out', 'A−'],
    ['theme-toggle', 'the theme button'],
    ['theme-toggle', 'the theme button again'],
  ] as const) {
    await ui.page.locator(`[data-testid="${testid}"]`).click();
    await assertTerminalFocused(tabId, what);
  }

  await ui.openSettings();
  await ui.closeSettings();
  await assertTerminalFocused(tabId, 'closing the settings');

  await ui.openPairingDialog();
  await ui.closePairingDialog();
  await assertTerminalFocused(tabId, 'closing the pairing dialog');
  await ui.openPairingDialog();
  await ui.page.keyboard.press('Escape');
  await assertTerminalFocused(tabId, 'closing the pairing dialog with Escape');

  // A question (closing a second, running tab) answered "Cancel": the keyboard is back in the terminal.
  const second = await ui.openTab(stack.agent.agentId, container.name);
  await ui.waitOpened(second);
  await ui.waitForPrompt(second);
  await ui.tabButton(second).locator('[data-testid="tab-close"]').click();
  await ui.page.locator('[data-testid="confirm-dialog"]').waitFor();
  await ui.page.locator('[data-testid="confirm-cancel"]').click();
  await assertTerminalFocused(second, 'cancelling the close question');
  await ui.closeByClick(second);
  await ui.activate(tabId);

  // The shell exits; the banner's "Open a new session" starts a new one and typing goes to it.
  await ui.typeLine(tabId, 'exit');
  await waitFor(async () => (await ui.tab(tabId)).state === 'exited', 'the shell to exit');
  const action = ui.panel(tabId).locator('[data-testid="tab-reconnect"]');
  assert.equal(await action.textContent(), 'Open a new session');
  await action.click();
  await ui.waitOpened(tabId, 45_000);
  await ui.waitForPrompt(tabId);
  await assertTerminalFocused(tabId, 'Open a new session');
  // No click into the terminal: the keys go where the focus is.
  await ui.page.keyboard.type('echo focus-$((40+2))');
  await ui.page.keyboard.press('Enter');
  await ui.waitForLine(tabId, 'focus-42');
  await ui.closeByClick(tabId);
});

test('the reconnecting, error and stopped banners lie over the terminal: the status line does not move, details on demand, the dot is not green while reconnecting', async () => {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  await ui.typeLine(tabId, 'cd /; ls -l; echo listed""-done');
  await ui.waitForLine(tabId, 'listed-done');
  const before = await layout(tabId);
  assert.equal(before.pageScrolls, false);

  // Reconnecting: the path is cut for a while.
  const banner = ui.panel(tabId).locator('[data-testid="tab-banner"]');
  // Long enough an outage that everything below is read while the tab still reconnects.
  assert.equal(await ui.dropPath(stack.agent.agentId, 12_000), true);
  await waitFor(async () => (await ui.tab(tabId)).state === 'reconnecting' && (await banner.isVisible()), 'the reconnecting banner');
  assert.deepEqual(await layout(tabId), before, 'the reconnecting banner moves nothing');
  const shape = await bannerShape(tabId);
  assert.equal(shape.position, 'absolute');
  assert.equal(shape.titleLines, 1, 'one short line');
  assert.equal(shape.detailShown, false, 'the details wait until asked for');
  await banner.locator('[data-testid="tab-banner-details"]').click();
  assert.equal((await bannerShape(tabId)).detailShown, true);
  assert.match((await banner.locator('[data-testid="tab-banner-detail"]').textContent()) ?? '', /Input is paused/);
  assert.deepEqual(await layout(tabId), before, 'the details open over the terminal too');
  await banner.locator('[data-testid="tab-banner-details"]').click();
  await ui.screenshot('console-reconnecting-tab');
  await waitFor(async () => (await agentItem().getAttribute('data-dot')) === 'reconnecting', 'the dot to say reconnecting', 10_000);
  assert.equal((await ui.tab(tabId)).state, 'reconnecting', 'read while the tab reconnects');
  {
    const colours = await agentItem().evaluate((node) => {
      const name = node.querySelector('.agent-name')!;
      const probe = document.createElement('span');
      probe.style.color = 'var(--ok)';
      document.body.append(probe);
      const ok = getComputedStyle(probe).color;
      probe.remove();
      return { dot: getComputedStyle(name, '::before').color, ok };
    });
    assert.notEqual(colours.dot, colours.ok, 'a reconnecting agent is not green');
    // The counts say the same as the dot: reconnecting, not failed.
    const counts = ui.page.locator('[data-testid="device-counts"]');
    assert.equal(await counts.locator('[data-state="reconnecting"]').getAttribute('data-count'), '1');
    assert.equal(await counts.locator('[data-state="failed"]').getAttribute('data-count'), '0');
  }
  await waitFor(async () => (await ui.tab(tabId)).state === 'open', 'the tab to resume', 60_000);

  // Error: a tab on a container that does not exist.
  const failed = await ui.openTab(stack.agent.agentId, 'no-such-container');
  await waitFor(
    async () => ['failed', 'closed'].includes((await ui.tab(failed)).state) && (await bannerShape(failed)).visible,
    'the error banner',
  );
  assert.deepEqual(await layout(failed), before, 'the error banner moves nothing');
  assert.equal((await bannerShape(failed)).titleLines, 1);
  await ui.closeByClick(failed);
  await ui.activate(tabId);

  // Stopped: the container stops under the shell.
  await container.stop();
  await waitFor(
    async () => /is stopped/.test((await banner.textContent()) ?? '') && (await bannerShape(tabId)).visible,
    'the stopped banner',
    30_000,
  );
  assert.deepEqual(await layout(tabId), before, 'the stopped banner moves nothing');
  assert.equal((await bannerShape(tabId)).titleLines, 1);
});
