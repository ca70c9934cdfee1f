/**
 * A frozen agent is shown before the connection counts as lost (issue 15, problem 4): the agent
 * process is stopped with SIGSTOP (its sockets stay open, it answers nothing), and within a few
 * seconds its tab shows "no answer from the agent for N s" in a corner of the terminal, counting
 * up, its tab button and its device-list dot are marked, and nothing on the page moves. An agent
 * that goes on (SIGCONT) before the connection is given up clears the sign at once and keeps the
 * same connection and shell; one that stays frozen turns the tab to reconnecting as before, the
 * sign giving way to the reconnecting banner, and the shell resumes once it goes on. Saves
 * docs/screenshots/console-unanswered.png.
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
  stack = await startStack({ name: 'console-frozen-agent' });
  container = await stack.startContainer({ namePrefix: 'frozen-plc' });
  ui = await stack.openConsole();
});

after(async () => {
  stack?.agent.resume();
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

/** Everything the sign is drawn on, read at one instant: the panel, its tab button, the agent's row, the status line's place. */
const signs = (tabId: string, agentId: string) =>
  ui.page.evaluate(
    ({ tabId, agentId }) => {
      const panel = document.querySelector<HTMLElement>(`.tab-panel[data-tab-id="${tabId}"]`)!;
      const label = panel.querySelector<HTMLElement>('[data-testid="tab-unanswered"]')!;
      const button = document.querySelector<HTMLElement>(`[data-testid="tab"][data-tab-id="${tabId}"]`)!;
      const agent = document.querySelector<HTMLElement>(`[data-testid="agent"][data-agent-id="${agentId}"]`);
      const status = panel.querySelector<HTMLElement>('[data-testid="tab-status"]')!.getBoundingClientRect();
      const root = document.scrollingElement ?? document.documentElement;
      return {
        state: panel.dataset['state'],
        shown: !label.hidden && label.offsetParent !== null,
        text: label.textContent ?? '',
        position: getComputedStyle(label).position,
        tabMarked: button.dataset['unanswered'] === 'true',
        tabTitle: button.title,
        dotMarked: agent?.dataset['unanswered'] === 'true',
        dot: agent?.dataset['dot'],
        layout: {
          statusTop: status.top,
          statusLeft: status.left,
          tabHeight: button.getBoundingClientRect().height,
          pageScrolls: root.scrollHeight > root.clientHeight,
        },
      };
    },
    { tabId, agentId },
  );

const seconds = (text: string) => Number(/no answer from the agent for (\d+) s/.exec(text)?.[1] ?? NaN);

test('a frozen agent: the sign shows while the tab is still connected, on the tab, its button and the dot, and goes the moment the agent answers again', async () => {
  const agentId = stack.agent.agentId;
  const tabId = await ui.openTargetByClick(agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  const sessionId = (await ui.tab(tabId)).sessionId;
  const before = await signs(tabId, agentId);
  assert.equal(before.shown, false);
  assert.equal(before.tabMarked, false);
  assert.equal(before.dotMarked, false);

  const frozenAt = Date.now();
  stack.agent.pause();
  let seen;
  try {
    // Whichever comes first: the sign (on the tab, and on the dot: the device list draws at the
    // next frame), or (which must not happen first) the tab reconnecting.
    seen = await waitFor(
      async () => {
        const now = await signs(tabId, agentId);
        return (now.shown && now.dotMarked) || now.state !== 'open' ? now : undefined;
      },
      'the sign of the unanswered ping',
      30_000,
    );
  } finally {
    stack.agent.resume();
  }
  console.log(`sign after ${Date.now() - frozenAt} ms of freeze: ${seen.text}`);
  assert.equal(seen.state, 'open', 'the sign comes while the tab is still connected, before it reconnects');
  assert.equal(seen.shown, true);
  assert.ok(seconds(seen.text) >= 2 && seconds(seen.text) < 15, seen.text);
  assert.equal(seen.position, 'absolute', 'over the terminal');
  assert.equal(seen.tabMarked, true, 'the tab button is marked');
  assert.match(seen.tabTitle, /no answer from the agent for \d+ s/);
  assert.equal(seen.dotMarked, true, 'the agent’s dot is marked');
  assert.equal(seen.dot, 'connected', 'the connection is not yet given up');
  assert.deepEqual(seen.layout, before.layout, 'the sign moves nothing');

  // Going on, the agent answers the pings it missed: the sign goes, the connection and the shell stay.
  const cleared = await waitFor(
    async () => {
      const now = await signs(tabId, agentId);
      return !now.shown ? now : undefined;
    },
    'the sign to go once the agent answers',
    20_000,
  );
  assert.equal(cleared.state, 'open', 'no reconnection: the agent answered in time');
  assert.equal(cleared.tabMarked, false);
  await waitFor(async () => !(await signs(tabId, agentId)).dotMarked, 'the dot to lose the sign', 10_000);
  assert.equal((await ui.tab(tabId)).sessionId, sessionId, 'the same session');
  await ui.typeLine(tabId, 'echo after""-thaw');
  await ui.waitForLine(tabId, 'after-thaw');
  await ui.closeByClick(tabId);
});

test('an agent that stays frozen: the sign counts up, then gives way to reconnecting, and the shell resumes once it goes on', async () => {
  const agentId = stack.agent.agentId;
  const tabId = await ui.openTargetByClick(agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  const sessionId = (await ui.tab(tabId)).sessionId;
  const frozenAt = Date.now();
  stack.agent.pause();
  try {
    const first = await waitFor(
      async () => {
        const now = await signs(tabId, agentId);
        return now.shown || now.state !== 'open' ? now : undefined;
      },
      'the sign of the unanswered ping',
      30_000,
    );
    assert.equal(first.state, 'open', 'the sign comes before the tab reconnects');
    const later = await waitFor(
      async () => {
        const now = await signs(tabId, agentId);
        return (now.shown && seconds(now.text) > seconds(first.text)) || now.state !== 'open' ? now : undefined;
      },
      'the count to go up',
      30_000,
    );
    if (later.state === 'open') {
      assert.ok(seconds(later.text) > seconds(first.text), `${first.text} → ${later.text}`);
      await ui.screenshot('console-unanswered');
    }
    const lost = await waitFor(
      async () => {
        const now = await signs(tabId, agentId);
        return now.state === 'reconnecting' ? now : undefined;
      },
      'the tab to reconnect, as before',
      45_000,
    );
    console.log(`sign after ${first.text}; reconnecting ${Date.now() - frozenAt} ms after the freeze`);
    assert.equal(lost.shown, false, 'the reconnecting banner replaces the sign');
    assert.equal(lost.tabMarked, false);
  } finally {
    stack.agent.resume();
  }
  await waitFor(async () => (await ui.tab(tabId)).state === 'open', 'the tab to resume', 60_000);
  assert.equal((await ui.tab(tabId)).sessionId, sessionId, 'the same shell');
  assert.equal((await signs(tabId, agentId)).shown, false);
  await ui.closeByClick(tabId);
});
