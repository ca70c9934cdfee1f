/**
 * Tabs at scale, end to end on the real stack (two agents, two containers, Chromium): nine tabs that
 * can be told apart (numbers, duplicate numbering, a colour per host that can be chosen, the full
 * title and state on hover), the list of every tab, the active tab always scrolled into view, and
 * broadcast input reaching exactly the chosen tabs' shells. Keys typed after each action reach the
 * active terminal.
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
let line2: TestContainer;
/** tabs on host A (3 on press, 2 on line2), then on host B (4 on packaging); an agent allows 4 shells per container */
const onA: string[] = [];
const onB: string[] = [];
/** the colour chosen for host B */
let chosenB = '';

before(async () => {
  stack = await startStack({ name: 'console-tabs-scale' });
  [press, line2, packaging] = await Promise.all([
    stack.startContainer({ namePrefix: 'line-1' }),
    stack.startContainer({ namePrefix: 'line-2' }),
    stack.startContainer({ namePrefix: 'packaging' }),
  ]);
  second = await startAgent({
    signalingUrl: stack.signaling.url,
    token: stack.agentToken,
    agentId: `${stack.agent.agentId}-b`,
    name: 'host B',
    extraArgs: stack.exposeArgs,
  });
  ui = await stack.openConsole();
  await ui.page.setViewportSize({ width: 1400, height: 900 });
});

after(async () => {
  await second?.stop();
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());
const active = async () => (await ui.tabs()).find((t) => t.active)?.id;
const attr = (tabId: string, name: string) => ui.tabButton(tabId).getAttribute(name);

/** Whether the tab's button lies wholly inside the visible part of the strip. */
async function visibleInStrip(tabId: string): Promise<boolean> {
  return ui.page.evaluate((id) => {
    const strip = document.querySelector('.tab-strip')!.getBoundingClientRect();
    const tab = document.querySelector(`[data-testid="tab"][data-tab-id="${id}"]`)!.getBoundingClientRect();
    return tab.width > 0 && tab.left >= strip.left - 1 && tab.right <= strip.right + 1;
  }, tabId);
}

/** Types a line into the active terminal with the real keyboard, without clicking anything first. */
async function typeHere(line: string): Promise<void> {
  await ui.page.keyboard.type(line);
  await ui.page.keyboard.press('Enter');
}

test('nine tabs on two hosts: numbered, duplicates numbered, coloured by host, full title and state on hover', async () => {
  for (let i = 0; i < 3; i++) onA.push(await ui.openTargetByClick(stack.agent.agentId, press.name, 45_000));
  for (let i = 0; i < 2; i++) onA.push(await ui.openTargetByClick(stack.agent.agentId, line2.name, 45_000));
  for (let i = 0; i < 4; i++) onB.push(await ui.openTargetByClick(second.agentId, packaging.name, 45_000));
  const all = [...onA, ...onB];
  for (const id of all) await ui.waitForPrompt(id);
  assert.deepEqual(await ui.page.locator('[data-testid="tab-index"]').allTextContents(), ['1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.deepEqual(await ui.page.locator('[data-testid="tab-duplicate"]').allTextContents(), [
    '(1)',
    '(2)',
    '(3)',
    '(1)',
    '(2)',
    '(1)',
    '(2)',
    '(3)',
    '(4)',
  ]);
  // one colour per host: every tab of a host has it
  const colourA = await attr(onA[0]!, 'data-host-colour');
  const colourB = await attr(onB[0]!, 'data-host-colour');
  assert.match(colourA ?? '', /^#[0-9a-f]{6}$/);
  for (const id of onA) assert.equal(await attr(id, 'data-host-colour'), colourA);
  for (const id of onB) assert.equal(await attr(id, 'data-host-colour'), colourB);
  // hover: the full title with its number, where it runs, and the connection state in words
  const hover = (await attr(onA[1]!, 'title')) ?? '';
  assert.equal(hover.split('\n')[0], `${press.name} @ agent console-tabs-scale (2)`);
  assert.match(hover, new RegExp(`${press.name} on agent console-tabs-scale`));
  assert.match(hover, /^connected$/m);
  // nine tabs crowd the strip: the labels leave the host out (the colour says it), the container gets the room
  assert.equal(await ui.page.locator('.tab-bar').getAttribute('data-crowded'), 'true');
  // (the name in two parts, its end never cut: innerText puts a line break between them)
  const shownLabel = async (id: string) => (await ui.tabButton(id).locator('[data-testid="tab-label"]').innerText()).replace(/\n/g, '');
  assert.equal(await shownLabel(onA[0]!), press.name);
  assert.equal(await shownLabel(onB[0]!), packaging.name);
  // a label too narrow for the whole name keeps its end: what tells one container from another
  const end = await ui
    .tabButton(onA[0]!)
    .locator('.tab-target-end')
    .evaluate((node) => {
      const box = node.getBoundingClientRect();
      const label = node.closest('.tab-label')!.getBoundingClientRect();
      return { text: node.textContent, inside: box.width > 0 && box.right <= label.right + 1 };
    });
  assert.ok(end.inside && press.name.endsWith(end.text ?? '?'), JSON.stringify(end));
  // the newest tab is the active one and can be seen
  assert.equal(await active(), onB[3]);
  assert.ok(await visibleInStrip(onB[3]!), 'the new tab is visible in the strip');
  await ui.screenshot('console-many-tabs');
});

test('a host colour can be chosen from the tab menu: all its tabs take it, the other host keeps its own, the keyboard stays in the terminal', async () => {
  const colourA = await attr(onA[0]!, 'data-host-colour');
  const colourB = await attr(onB[0]!, 'data-host-colour');
  await ui.tabButton(onB[2]!).click({ button: 'right' });
  await ui.page.locator('[data-testid="tab-menu"] [data-testid="tab-menu-colour"]').click();
  const menu = ui.page.locator('[data-testid="host-colour-menu"]');
  await menu.waitFor();
  // a colour neither host has now
  const choices = await menu
    .locator('[data-testid="host-colour"]')
    .evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.colour ?? ''));
  const pick = choices.find((c) => c !== colourA && c !== colourB)!;
  chosenB = pick;
  await menu.locator(`[data-testid="host-colour"][data-colour="${pick}"]`).click();
  await waitFor(async () => (await attr(onB[0]!, 'data-host-colour')) === pick, 'host B tabs to take the chosen colour');
  for (const id of onB) assert.equal(await attr(id, 'data-host-colour'), pick);
  for (const id of onA) assert.equal(await attr(id, 'data-host-colour'), colourA);
  // the device list shows the same colours
  const agentColour = (agentId: string) =>
    ui.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"]`).getAttribute('data-host-colour');
  await waitFor(async () => (await agentColour(second.agentId)) === pick, 'host B in the device list to take the chosen colour');
  assert.equal(await agentColour(stack.agent.agentId), colourA);
  assert.equal((await ui.page.evaluate(() => document.activeElement?.className)) ?? '', 'xterm-helper-textarea');
  const target = (await active())!;
  await typeHere('echo after""-colour');
  await ui.waitForLine(target, 'after-colour');
});

test('the list of every tab shows all nine with their state; choosing one shows it, scrolls it into view and gives it the keyboard', async () => {
  await ui.page.locator('[data-testid="tab-overflow"]').click();
  const items = ui.page.locator('[data-testid="tab-overflow-menu"] [data-testid="tab-overflow-item"]');
  await items.first().waitFor();
  assert.equal(await items.count(), 9);
  const labels = await items.locator('.menu-label').allTextContents();
  assert.deepEqual(labels, [
    ...[1, 2, 3].map((n) => `${n}  ${press.name} @ agent console-tabs-scale (${n})`),
    ...[1, 2].map((n) => `${n + 3}  ${line2.name} @ agent console-tabs-scale (${n})`),
    ...onB.map((_, i) => `${i + 6}  ${packaging.name} @ host B (${i + 1})`),
  ]);
  assert.deepEqual(await items.locator('.menu-note').allTextContents(), Array(9).fill('open'));
  await items.nth(1).click();
  assert.equal(await active(), onA[1]);
  await typeHere('echo chosen""-from-list');
  await ui.waitForLine(onA[1]!, 'chosen-from-list');
});

test('regression: a new tab opened off screen in a full strip; now the active tab (switched to, or new) is always scrolled into view', async () => {
  await ui.page.setViewportSize({ width: 800, height: 700 });
  const overflowing = await ui.page.evaluate(() => {
    const strip = document.querySelector('.tab-strip')!;
    return strip.scrollWidth > strip.clientWidth;
  });
  assert.ok(overflowing, 'nine tabs do not fit in 800 px: the strip scrolls');
  await ui.page.keyboard.press('Alt+9');
  assert.equal(await active(), onB[3]);
  await waitFor(() => visibleInStrip(onB[3]!), 'the last tab scrolled into view');
  await ui.page.locator('[data-testid="tab-overflow"]').click();
  await ui.page.locator('[data-testid="tab-overflow-item"]').first().click();
  assert.equal(await active(), onA[0]);
  await waitFor(() => visibleInStrip(onA[0]!), 'the first tab scrolled into view');
  // a new tab opens at the end of the strip, and is shown
  const fresh = await ui.openTargetByClick(second.agentId, line2.name, 45_000);
  await waitFor(() => visibleInStrip(fresh), 'the new tab scrolled into view');
  await ui.waitForPrompt(fresh);
  // Ten tabs: Alt+9 is the ninth, the one the strip numbers 9, not the last.
  await ui.page.keyboard.press('Alt+9');
  assert.equal(await active(), onB[3]);
  assert.equal(await ui.tabButton(onB[3]!).locator('.tab-index').textContent(), '9');
  await ui.closeByClick(fresh);
  await ui.page.setViewportSize({ width: 1400, height: 900 });
});

test('broadcast input: typing reaches exactly the chosen tabs, each marked, on both hosts; the others get nothing', async () => {
  const [x, y] = [onA[0]!, onB[0]!];
  const others = [...onA, ...onB].filter((id) => id !== x && id !== y);
  const pid = async (id: string) => {
    await ui.typeLine(id, `echo pid""-$$`);
    const screen = await ui.waitForLine(id, /^pid-\d+$/);
    return /^pid-(\d+)$/m.exec(screen)![1]!;
  };
  const [pidX, pidY] = [await pid(x), await pid(y)];
  // x by the keyboard, y from its tab menu (right-click: x stays active, and keeps the keyboard)
  await ui.focus(x);
  await ui.page.keyboard.press('Control+Shift+B');
  await ui.tabButton(y).click({ button: 'right' });
  await ui.page.locator('[data-testid="tab-menu"] [data-testid="tab-menu-broadcast"]').click();
  await waitFor(async () => (await attr(y, 'data-broadcast')) === 'true', 'y to join the broadcast');
  for (const id of [x, y]) {
    assert.equal(await attr(id, 'data-broadcast'), 'true');
    assert.equal(await ui.tabButton(id).locator('[data-testid="tab-broadcast-mark"]').isVisible(), true);
    const label = ui.panel(id).locator('[data-testid="tab-broadcast"]');
    assert.equal(await label.getAttribute('hidden'), null);
    assert.match((await label.textContent()) ?? '', /BROADCAST.*2 tabs/);
  }
  for (const id of others) {
    assert.equal(await attr(id, 'data-broadcast'), 'false');
    assert.equal(await ui.panel(id).locator('[data-testid="tab-broadcast"]').getAttribute('hidden'), '');
  }
  assert.equal(await active(), x);
  await typeHere('echo bc""-$(cat /proc/sys/kernel/hostname)-$$');
  await ui.waitForLine(x, `bc-${press.id.slice(0, 12)}-${pidX}`);
  await ui.waitForLine(y, `bc-${packaging.id.slice(0, 12)}-${pidY}`);
  // what went to y ran in y's own shell; nothing reached the others (each answers a later line first)
  for (const id of others) {
    await ui.typeLine(id, 'echo after""-broadcast');
    const screen = await ui.waitForLine(id, 'after-broadcast');
    assert.doesNotMatch(screen, /echo bc|^bc-/m, `tab ${id} is not in the broadcast`);
  }
  // typing in y reaches x too
  await ui.typeLine(y, 'echo from""-y-$$');
  await ui.waitForLine(x, `from-y-${pidX}`);
  await ui.waitForLine(y, `from-y-${pidY}`);
  // x leaves (Ctrl+Shift+B again): its keys stay its own, and y says it is alone
  await ui.focus(x);
  await ui.page.keyboard.press('Control+Shift+B');
  assert.equal(await attr(x, 'data-broadcast'), 'false');
  assert.match((await ui.panel(y).locator('[data-testid="tab-broadcast"]').textContent()) ?? '', /this tab only/);
  await typeHere('echo only""-x');
  await ui.waitForLine(x, 'only-x');
  await ui.typeLine(y, 'echo y""-alone');
  const yScreen = await ui.waitForLine(y, 'y-alone');
  assert.doesNotMatch(yScreen, /only-x|only""-x/);
  // and y leaves from its menu: no mark anywhere
  await ui.tabButton(y).click({ button: 'right' });
  await ui.page.locator('[data-testid="tab-menu"] [data-testid="tab-menu-broadcast"]').click();
  await waitFor(async () => (await ui.page.locator('[data-testid="tab"][data-broadcast="true"]').count()) === 0, 'no tab to broadcast');
});

test('the tab menu from the keyboard: Shift+F10 opens the menu of the active tab on its first item, arrows move, Escape gives the keys back to the terminal', async () => {
  await ui.focus(onA[2]!);
  await ui.page.keyboard.press('Shift+F10');
  const menu = ui.page.locator('[data-testid="tab-menu"]');
  await menu.waitFor();
  const focused = () => ui.page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.testid ?? '');
  assert.equal(await focused(), 'tab-menu-split-right');
  await ui.page.keyboard.press('ArrowDown');
  assert.equal(await focused(), 'tab-menu-split-down');
  assert.deepEqual(
    await menu.locator('[data-testid="menu-upload"], [data-testid="menu-download"]').allTextContents(),
    ['Upload…', 'Download…'],
    "file transfer's entries are in the same menu",
  );
  await ui.page.keyboard.press('Escape');
  await menu.waitFor({ state: 'detached' });
  await typeHere('echo menu""-closed');
  await ui.waitForLine(onA[2]!, 'menu-closed');
  // the same menu from the ⋯ of the active tab, with the mouse
  await ui.tabButton(onA[2]!).locator('[data-testid="tab-menu-button"]').click();
  await menu.waitFor();
  assert.equal(await menu.getAttribute('aria-label'), `Tab ${(await ui.tab(onA[2]!)).title}`);
  await ui.page.keyboard.press('Escape');
  await menu.waitFor({ state: 'detached' });
  await typeHere('echo dots""-closed');
  await ui.waitForLine(onA[2]!, 'dots-closed');
});

/** The panel's place on the page, and whether its terminal's drawn screen fits inside it. */
async function paneBox(
  tabId: string,
): Promise<{ left: number; top: number; width: number; height: number; fits: boolean; hidden: boolean }> {
  return ui.panel(tabId).evaluate((panel) => {
    const box = panel.getBoundingClientRect();
    const body = panel.querySelector('.tab-body')!.getBoundingClientRect();
    const screen = panel.querySelector('.xterm-screen')!.getBoundingClientRect();
    // fits: inside the pane, and not more than two cells short of filling it
    const fits =
      screen.width <= body.width && screen.height <= body.height && screen.width > body.width - 40 && screen.height > body.height - 50;
    return { left: box.left, top: box.top, width: box.width, height: box.height, fits, hidden: (panel as HTMLElement).hidden };
  });
}

/** The size the shell's terminal has (`stty size`), which the agent set from the console's resize. */
async function sttySize(tabId: string): Promise<{ rows: number; cols: number }> {
  await ui.typeLine(tabId, 'echo size""-$(stty size | tr " " x)');
  const screen = await ui.waitForLine(tabId, /^size-\d+x\d+$/);
  const [, rows, cols] = /^size-(\d+)x(\d+)$/m.exec([...screen.split('\n')].reverse().join('\n'))!;
  return { rows: Number(rows), cols: Number(cols) };
}

test('split panes: Alt+Shift+= splits right, Alt+Shift+- splits down, Alt+arrows move between panes; each terminal fits its pane and its shell knows the size', async () => {
  const left = onA[3]!;
  const whole = await ui.size(left);
  await ui.focus(left);
  const before = new Set((await ui.tabs()).map((t) => t.id));
  await ui.page.keyboard.press('Alt+Shift+Equal');
  const right = await waitFor(async () => (await ui.tabs()).find((t) => !before.has(t.id))?.id, 'the new pane');
  await ui.waitOpened(right);
  await ui.waitForPrompt(right);
  assert.equal(await active(), right, 'the new pane is active');
  // the keyboard is in the new pane
  await typeHere('echo in""-right');
  await ui.waitForLine(right, 'in-right');
  const [l, r] = [await paneBox(left), await paneBox(right)];
  assert.ok(!l.hidden && !r.hidden, 'both panes are shown');
  assert.ok(Math.abs(l.width - r.width) < 2 && Math.abs(l.top - r.top) < 1 && r.left >= l.left + l.width - 1, 'side by side, even halves');
  assert.ok(l.fits && r.fits, 'each terminal fills its pane and stays inside it');
  const half = await ui.size(right);
  assert.ok(half.cols < whole.cols * 0.55 && half.cols > whole.cols * 0.4, `half the columns (${half.cols} of ${whole.cols})`);
  assert.deepEqual(await sttySize(right), { rows: half.rows, cols: half.cols });
  assert.equal(await attr(left, 'data-split'), 'true');
  // Alt+Left: back to the left pane, which takes the keys
  await ui.focus(right);
  await ui.page.keyboard.press('Alt+ArrowLeft');
  assert.equal(await active(), left);
  await typeHere('echo in""-left');
  await ui.waitForLine(left, 'in-left');
  // Alt+Shift+-: the left pane splits down
  const before2 = new Set((await ui.tabs()).map((t) => t.id));
  await ui.page.keyboard.press('Alt+Shift+Minus');
  const below = await waitFor(async () => (await ui.tabs()).find((t) => !before2.has(t.id))?.id, 'the pane below');
  await ui.waitOpened(below);
  await ui.waitForPrompt(below);
  const [top, bottom] = [await paneBox(left), await paneBox(below)];
  assert.ok(
    Math.abs(top.left - bottom.left) < 1 && bottom.top >= top.top + top.height - 1 && Math.abs(top.height - bottom.height) < 2,
    'stacked, even halves',
  );
  assert.ok(top.fits && bottom.fits && (await paneBox(right)).fits, 'three panes, each terminal fitting its own');
  const quarter = await ui.size(below);
  assert.ok(quarter.rows < whole.rows * 0.55, `half the rows (${quarter.rows} of ${whole.rows})`);
  assert.deepEqual(await sttySize(below), quarter);
  await ui.screenshot('console-split-panes');
  // broadcast across panes: the top and right panes get the keys, the bottom one does not
  for (const id of [left, right]) {
    await ui.focus(id);
    await ui.page.keyboard.press('Control+Shift+B');
  }
  await typeHere('echo both""-panes');
  await ui.waitForLine(left, 'both-panes');
  await ui.waitForLine(right, 'both-panes');
  await ui.screenshot('console-broadcast');
  await ui.typeLine(below, 'echo below""-alone');
  assert.doesNotMatch(await ui.waitForLine(below, 'below-alone'), /both/);
  for (const id of [left, right]) {
    await ui.focus(id);
    await ui.page.keyboard.press('Control+Shift+B');
  }
  assert.equal(await ui.page.locator('[data-testid="tab"][data-broadcast="true"]').count(), 0);
  // Alt+Up, then Alt+Right: from the bottom pane to the top one, then to the right one
  await ui.focus(below);
  await ui.page.keyboard.press('Alt+ArrowUp');
  assert.equal(await active(), left);
  await ui.page.keyboard.press('Alt+ArrowRight');
  assert.equal(await active(), right);
  await typeHere('echo keys""-right');
  await ui.waitForLine(right, 'keys-right');
  // another tab hides the group; coming back shows all three
  await ui.activate(onA[0]!);
  assert.ok((await paneBox(left)).hidden && (await paneBox(right)).hidden && (await paneBox(below)).hidden);
  await ui.page.keyboard.press('Alt+4');
  assert.equal(await active(), left);
  assert.ok(!(await paneBox(below)).hidden && !(await paneBox(right)).hidden);
  // closing the bottom pane gives its room back: the top pane fits the whole height again
  await ui.closeByClick(below);
  await waitFor(async () => (await ui.size(left)).rows === whole.rows, 'the left pane to take the whole height again');
  assert.ok((await paneBox(left)).fits);
});

test('saved workspaces: the open tabs and panes saved under a name, and reopened with one action after a reload, each with a new shell', async () => {
  // one tab gets a title of its own, from its menu
  await ui.tabButton(onB[1]!).click({ button: 'right' });
  await ui.page.locator('[data-testid="tab-menu"] [data-testid="tab-menu-rename"]').click();
  await ui.page.locator('[data-testid="tab-rename"]').fill('packer');
  await ui.page.locator('[data-testid="tab-rename"]').press('Enter');
  const saved = await ui.tabs();
  const splitIds = saved.map((t) => t.id);
  const inSplit = await Promise.all(splitIds.map(async (id) => (await attr(id, 'data-split')) === 'true'));
  assert.equal(inSplit.filter(Boolean).length, 2, 'two tabs in a split');
  await ui.page.locator('[data-testid="workspaces-open"]').click();
  await ui.page.locator('[data-testid="workspaces-menu"] [data-testid="workspace-save"]').click();
  const dialog = ui.page.locator('[data-testid="workspace-name-dialog"]');
  await dialog.locator('[data-testid="prompt-value"]').fill('line shift');
  await dialog.locator('[data-testid="prompt-accept"]').click();
  await dialog.waitFor({ state: 'detached' });
  // the keyboard is back in the active terminal
  const activeNow = (await active())!;
  await typeHere('echo saved""-here');
  await ui.waitForLine(activeNow, 'saved-here');
  // every tab closed, and the page reloaded: nothing is left but the saved workspace
  await ui.page.evaluate((ids) => {
    const hooks = (window as unknown as { __tetherTest: { closeTab(id: string): void } }).__tetherTest;
    for (const id of ids) hooks.closeTab(id);
  }, splitIds);
  assert.equal((await ui.tabs()).length, 0);
  ui = await stack.openConsole();
  await ui.page.setViewportSize({ width: 1400, height: 900 });
  for (const agentId of [stack.agent.agentId, second.agentId])
    await ui.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"][data-online="true"]`).waitFor();
  assert.equal((await ui.tabs()).length, 0);
  await ui.page.locator('[data-testid="workspaces-open"]').click();
  const item = ui.page.locator('[data-testid="workspaces-menu"] [data-testid="workspace-item"][data-name="line shift"]');
  assert.equal(await item.locator('.menu-note').textContent(), `${saved.length} tabs`);
  await item.click();
  const reopened = await waitFor(async () => {
    const tabs = await ui.tabs();
    return tabs.length === saved.length ? tabs : undefined;
  }, 'every tab of the workspace');
  for (const tab of reopened) await ui.waitOpened(tab.id, 45_000);
  const now = await ui.tabs();
  // one action, and the first tab is shown with the keyboard
  assert.equal(await active(), now[0]!.id);
  await ui.waitForPrompt(now[0]!.id);
  await typeHere('echo workspace""-back');
  await ui.waitForLine(now[0]!.id, 'workspace-back');
  assert.deepEqual(
    now.map((t) => [t.agentId, t.target, t.title]),
    saved.map((t) => [t.agentId, t.target, t.title]),
  );
  assert.equal(now.filter((t) => saved.some((s) => s.sessionId === t.sessionId)).length, 0, 'each tab has a new shell');
  // the split came back: the same two places in the order, shown together
  // the colour chosen for host B is a setting: it outlived the reload
  for (const tab of now.filter((t) => t.agentId === second.agentId)) assert.equal(await attr(tab.id, 'data-host-colour'), chosenB);
  const splitAgain = await Promise.all(now.map(async (t) => (await attr(t.id, 'data-split')) === 'true'));
  assert.deepEqual(splitAgain, inSplit);
  const pair = now.filter((_, i) => splitAgain[i]);
  await ui.activate(pair[0]!.id);
  assert.ok(!(await paneBox(pair[0]!.id)).hidden && !(await paneBox(pair[1]!.id)).hidden, 'both panes shown');
  assert.ok((await paneBox(pair[0]!.id)).fits && (await paneBox(pair[1]!.id)).fits);
  // Opened again over its own open tabs: nothing doubles, and the first tab says why.
  await ui.page.locator('[data-testid="workspaces-open"]').click();
  await ui.page.locator('[data-testid="workspaces-menu"] [data-testid="workspace-item"][data-name="line shift"]').click();
  await waitFor(
    async () => (await ui.notices(now[0]!.id)).some((n) => n.includes(`${saved.length} of its ${saved.length} tabs were open already`)),
    'the notice that they were open already',
  );
  assert.deepEqual(
    (await ui.tabs()).map((t) => t.id),
    now.map((t) => t.id),
  );
});

test('a console restart keeps the split: after a reload the two panes come back together, each with the same shell', async () => {
  const tabs = await ui.tabs();
  const inSplit = await Promise.all(tabs.map(async (t) => (await attr(t.id, 'data-split')) === 'true'));
  const pair = tabs.filter((_, i) => inSplit[i]);
  assert.equal(pair.length, 2);
  const pid = async (id: string, tag: string) => {
    await ui.typeLine(id, `echo ${tag}""-$$`);
    return /-(\d+)$/m.exec((await ui.waitForLine(id, new RegExp(`^${tag}-\\d+$`))).split('\n').reverse().join('\n'))![1];
  };
  const before = [await pid(pair[0]!.id, 'p0'), await pid(pair[1]!.id, 'p1')];
  ui = await stack.openConsole();
  const back = await waitFor(async () => {
    const now = await ui.tabs();
    return now.length === tabs.length ? now : undefined;
  }, 'every tab back after the reload');
  for (const tab of back) await ui.waitOpened(tab.id, 45_000);
  const splitAgain = await Promise.all(back.map(async (t) => (await attr(t.id, 'data-split')) === 'true'));
  assert.deepEqual(splitAgain, inSplit, 'the same tabs in a split');
  const pairAgain = back.filter((_, i) => splitAgain[i]);
  await ui.activate(pairAgain[1]!.id);
  assert.ok(!(await paneBox(pairAgain[0]!.id)).hidden && !(await paneBox(pairAgain[1]!.id)).hidden, 'shown together');
  assert.deepEqual([await pid(pairAgain[0]!.id, 'q0'), await pid(pairAgain[1]!.id, 'q1')], before, 'the same shells');
});

test('a workspace with tabs on an agent that is offline opens the others and names the missing ones', async () => {
  for (const tab of await ui.tabs())
    await ui.page.evaluate(
      (id) => (window as unknown as { __tetherTest: { closeTab(id: string): void } }).__tetherTest.closeTab(id),
      tab.id,
    );
  await second.stop();
  await ui.page.locator(`[data-testid="agent"][data-agent-id="${second.agentId}"][data-online="false"]`).waitFor({ timeout: 45_000 });
  await ui.page.locator('[data-testid="workspaces-open"]').click();
  await ui.page.locator('[data-testid="workspaces-menu"] [data-testid="workspace-item"][data-name="line shift"]').click();
  const opened = await waitFor(async () => {
    const tabs = await ui.tabs();
    return tabs.length > 0 ? tabs : undefined;
  }, 'the tabs of the online agent');
  assert.ok(
    opened.every((t) => t.agentId === stack.agent.agentId),
    'only the online agent',
  );
  assert.equal(opened.length, onA.length + 1, "host A's five tabs and the split's second pane");
  const notices = await ui.notices(opened[0]!.id);
  assert.ok(
    notices.some(
      (n) => n.includes('workspace line shift: not opened, their agents are offline') && n.includes(`${packaging.name} on host B`),
    ),
    notices.join('\n'),
  );
  // and a workspace can be deleted, after a question
  await ui.page.locator('[data-testid="workspaces-open"]').click();
  await ui.page.locator('[data-testid="workspaces-menu"] [data-testid="workspace-delete"]').click();
  await ui.page.locator('[data-testid="workspaces-delete-menu"] [data-testid="workspace-delete-item"][data-name="line shift"]').click();
  await ui.page.locator('[data-testid="confirm-accept"]').click();
  await ui.page.locator('[data-testid="confirm-dialog"]').waitFor({ state: 'detached' });
  await ui.page.locator('[data-testid="workspaces-open"]').click();
  await ui.page.locator('[data-testid="workspaces-menu"]').waitFor();
  assert.equal(await ui.page.locator('[data-testid="workspace-item"]').count(), 0);
  await ui.page.keyboard.press('Escape');
  await typeHere('echo deleted""-and-back');
  await ui.waitForLine((await active())!, 'deleted-and-back');
});
