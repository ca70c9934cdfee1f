/**
 * A console restart keeps the shells (issue 15, problem 2): reloading the page asks while shells
 * run, then the tabs come back in their order, with their titles, and take their shells back with
 * the resume protocol (the session ids the console saved through its host API, the persisted
 * console certificate making the agent accept it as the same console): `echo $$` prints the same
 * process before and after, and output written while the page was away is shown.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { beforeUnloadQuestions } from '../../harness/browser.js';
import { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let press: TestContainer;
let packaging: TestContainer;

before(async () => {
  stack = await startStack({ name: 'console-restore' });
  [press, packaging] = await Promise.all([
    stack.startContainer({ namePrefix: 'restore-press' }),
    stack.startContainer({ namePrefix: 'restore-pack' }),
  ]);
  ui = await stack.openConsole();
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

/** The shell's pid, as `echo $$` prints it in the tab. */
async function shellPid(tabId: string, tag: string): Promise<string> {
  await ui.typeLine(tabId, `echo ${tag}""-pid-$$`);
  const screen = await ui.waitForLine(tabId, new RegExp(`^${tag}-pid-\\d+$`));
  const pid = new RegExp(`^${tag}-pid-(\\d+)$`, 'm').exec(screen)?.[1];
  assert.ok(pid, 'the shell printed its pid');
  return pid;
}

async function reload(): Promise<void> {
  await stack.page.reload();
  await stack.page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 15_000 });
  ui = new ConsolePage(stack.page);
}

test('regression: a reload asks first, then every tab comes back with the same shell (echo $$) and the output it missed', async () => {
  const first = await ui.openTargetByClick(stack.agent.agentId, press.name, 45_000);
  const second = await ui.openTargetByClick(stack.agent.agentId, packaging.name);
  await ui.tabButton(first).locator('[data-testid="tab-label"]').dblclick();
  await ui.page.locator('[data-testid="tab-rename"]').fill('press main');
  await ui.page.locator('[data-testid="tab-rename"]').press('Enter');
  const pids = [await shellPid(first, 'first'), await shellPid(second, 'second')];
  const sessions = (await ui.tabs()).map((t) => t.sessionId);
  // Written after the page is gone: the console must show it after the reload.
  await ui.typeLine(second, 'sleep 2; echo missed""-while-away-$((6*7))');
  await ui.activate(first);
  const asked = beforeUnloadQuestions(stack.page);
  await reload();
  assert.equal(beforeUnloadQuestions(stack.page), asked + 1, 'the reload asked first, as shells were running');

  const back = await waitFor(
    async () => {
      const tabs = await ui.tabs();
      return tabs.length === 2 && tabs.every((t) => t.state === 'open') ? tabs : undefined;
    },
    'both tabs to come back open',
    60_000,
  );
  assert.deepEqual(
    back.map((t) => t.title),
    ['press main', `${packaging.name} @ agent console-restore`],
    'in their order, with their titles',
  );
  assert.deepEqual(
    back.map((t) => t.sessionId),
    sessions,
    'the same sessions, taken back',
  );
  assert.equal(back.find((t) => t.active)?.title, 'press main', 'the tab that was active is active');
  assert.deepEqual(
    back.map((t) => t.resumeCount),
    [1, 1],
  );
  await ui.waitForLine(back[1]!.id, 'missed-while-away-42', 30_000);
  assert.deepEqual([await shellPid(back[0]!.id, 'first'), await shellPid(back[1]!.id, 'second')], pids, 'the same shell processes');
  assert.ok(
    (await ui.notices(back[0]!.id)).some((n) => /the console restarted .* the same shell goes on/.test(n)),
    'the tab says what happened',
  );
});

test('closing a tab still ends its shell: after a reload it does not come back', async () => {
  const tabs = await ui.tabs();
  await ui.closeByClick(tabs[1]!.id);
  await waitFor(async () => (await ui.tabs()).length === 1, 'one tab left');
  await reload();
  const back = await waitFor(
    async () => {
      const list = await ui.tabs();
      return list.length === 1 && list[0]!.state === 'open' ? list : undefined;
    },
    'the one tab to come back',
    60_000,
  );
  assert.equal(back[0]!.title, 'press main');
});

test('with no shell running, a reload asks nothing', async () => {
  const [tab] = await ui.tabs();
  await ui.typeLine(tab!.id, 'exit');
  await waitFor(async () => (await ui.tab(tab!.id)).state === 'exited', 'the shell to exit');
  const asked = beforeUnloadQuestions(stack.page);
  await reload();
  assert.equal(beforeUnloadQuestions(stack.page), asked, 'no question');
  assert.deepEqual(await ui.tabs(), [], 'an exited shell is not reopened');
});
