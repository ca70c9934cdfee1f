/**
 * A killed agent, end to end: its tabs say the connection is lost and reconnect on their own (no
 * click); once the agent is back (same id, same identity, a new process) the console reconnects to
 * it by itself, tries to resume each tab, and each tab says clearly that its shell is gone (the
 * agent that ran it was killed: SESSION_NOT_FOUND), keeps the old output readable and offers a new
 * session, which works. Saves docs/screenshots/console-error.png.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;
let agent: AgentProcess | undefined;

before(async () => {
  stack = await startStack({ name: 'console-agent-loss' });
  container = await stack.startContainer({ namePrefix: 'loss-plc' });
  ui = await stack.openConsole();
});

after(async () => {
  await agent?.stop();
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

test('a killed agent: tabs reconnect by themselves once it is back, then say the shell is gone and open a new one', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-agent-state-'));
  const options = {
    signalingUrl: stack.signaling.url,
    token: stack.agentToken,
    agentId: `${stack.agent.agentId}-crash`,
    name: 'line 7 host',
    stateDir,
    extraArgs: stack.exposeArgs,
  };
  agent = await startAgent(options);
  const first = await ui.openTargetByClick(agent.agentId, container.name, 45_000);
  const second = await ui.openTargetByClick(agent.agentId, container.name, 45_000);
  for (const id of [first, second]) await ui.waitForPrompt(id);
  const oldSessions = [(await ui.tab(first)).sessionId, (await ui.tab(second)).sessionId];
  await ui.typeLine(first, 'echo before""-crash');
  await ui.waitForLine(first, 'before-crash');

  await agent.kill();
  for (const id of [first, second]) {
    await waitFor(async () => (await ui.tab(id)).state === 'reconnecting', `tab ${id} to be reconnecting`, 30_000);
    // Lost because the agent left the signaling server and did not answer a ping at once, not after the keepalive's 15 s.
    const lost = (await ui.notices(id)).find((n) => n.includes('connection lost')) ?? '';
    assert.match(lost, /left the signaling server and did not answer/);
    const banner = ui.panel(id).locator('[data-testid="tab-banner"]');
    assert.match((await banner.textContent()) ?? '', /Connection lost — reconnecting/);
    assert.equal(await banner.locator('[data-testid="tab-reconnect"]').isVisible(), false, 'nothing to click: it reconnects by itself');
  }
  const item = ui.page.locator(`[data-testid="agent"][data-agent-id="${agent.agentId}"]`);
  await waitFor(async () => (await item.getAttribute('data-online')) === 'false', 'the agent to be listed offline', 30_000);
  assert.equal(
    await item.locator(`[data-testid="target"][data-target-name="${container.name}"]`).getAttribute('data-state'),
    'unreachable',
  );

  agent = await startAgent(options);
  for (const id of [first, second]) {
    await waitFor(async () => (await ui.tab(id)).state === 'gone', `tab ${id} to learn, with no click, that its shell is gone`, 60_000);
    const tab = await ui.tab(id);
    assert.equal(tab.lastError?.code, 'SESSION_NOT_FOUND');
    const banner = ui.panel(id).locator('[data-testid="tab-banner"]');
    assert.match(
      (await banner.textContent()) ?? '',
      new RegExp(`The shell on ${container.name} is gone: the agent restarted or the session expired`),
    );
    assert.equal(await banner.locator('[data-testid="tab-reconnect"]').textContent(), 'Open a new session');
  }
  assert.match(await ui.screen(first), /before-crash/, 'the old output stays readable');
  await ui.activate(first);
  await ui.screenshot('console-error');

  for (const id of [first, second]) {
    await ui.activate(id);
    await ui.panel(id).locator('[data-testid="tab-reconnect"]').click();
    await ui.waitOpened(id, 45_000);
    const tab = await ui.tab(id);
    assert.ok(tab.sessionId && !oldSessions.includes(tab.sessionId), 'a new session');
    assert.equal(tab.connectionLost, undefined);
    assert.equal(await ui.panel(id).locator('[data-testid="tab-banner"]').isVisible(), false);
    await ui.typeLine(id, `echo after""-crash-${id}`);
    await ui.waitForLine(id, `after-crash-${id}`);
  }
  assert.match(await ui.screen(first), /before-crash/, 'the output from before the crash is still in the tab');
});
