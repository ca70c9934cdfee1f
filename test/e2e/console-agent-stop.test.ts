/**
 * What a tab says when its agent goes away, end to end (real agent, Docker, Chromium): only what
 * the console knows.
 *
 * - A graceful stop (SIGTERM, as `systemctl stop` sends) drains: every line the shell printed
 *   before the stop reaches the tab, then the agent's stop notice (AGENT_STOPPED), which the tab
 *   shows at once as "the agent stopped; the shell was ended"; the agent exits 0, and its audit log
 *   has the session's end and no detach.
 * - A killed agent (SIGKILL) tells nothing: the tab says since when the agent is unreachable and
 *   that the agent keeps the shell for up to the grace period if it is still running, never that
 *   the shell runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import { docker, type TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;
let agent: AgentProcess | undefined;

before(async () => {
  stack = await startStack({ name: 'console-agent-stop' });
  container = await stack.startContainer({ namePrefix: 'stop-plc' });
  ui = await stack.openConsole();
});

after(async () => {
  await agent?.stop();
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

function startOwnAgent(suffix: string, name: string): Promise<AgentProcess> {
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-agent-state-'));
  return startAgent({
    signalingUrl: stack.signaling.url,
    token: stack.agentToken,
    agentId: `${stack.agent.agentId}-${suffix}`,
    name,
    stateDir,
    extraArgs: stack.exposeArgs,
  });
}

test('SIGTERM: every line printed before the stop reaches the tab, which then says the agent stopped and the shell was ended', async () => {
  agent = await startOwnAgent('stop', 'line-9-host');
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  const sessionId = (await ui.tab(tabId)).sessionId;
  await ui.capture(tabId, true);
  // Each line goes to the terminal first, then to a file: a line in the file was printed before.
  await ui.typeLine(tabId, 'rm -f /tmp/ticks; i=0; while :; do i=$((i+1)); echo tick-$i; echo tick-$i >> /tmp/ticks; sleep 0.01; done');
  await ui.waitForLine(tabId, /^tick-30$/);

  const stopping = agent;
  const signalledAt = Date.now();
  let toldAt: number | undefined;
  const watch = (async () => {
    while (toldAt === undefined && Date.now() - signalledAt < 30_000) {
      if ((await ui.tab(tabId)).lastError?.code === 'AGENT_STOPPED') toldAt = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await stopping.stop();
  // The notice comes on the terminal's own channel, before the agent closes the connection and
  // exits: by the time the process is gone, the tab knows.
  const atExit = await ui.tab(tabId);
  await watch;
  assert.equal(atExit.lastError?.code, 'AGENT_STOPPED', `the tab knew when the agent exited: ${JSON.stringify(atExit)}`);
  assert.deepEqual(stopping.exited(), { code: 0, signal: null }, 'a clean stop exits 0');
  console.log(
    `[figure] the tab said the agent stopped ${toldAt! - signalledAt} ms after SIGTERM; the agent exited ${Date.now() - signalledAt} ms after it (with the checks)`,
  );

  const tab = await ui.tab(tabId);
  assert.equal(tab.state, 'failed');
  const banner = ui.panel(tabId).locator('[data-testid="tab-banner"]');
  assert.match((await banner.textContent()) ?? '', new RegExp(`The agent ${stopping.name} stopped; the shell was ended`));
  assert.doesNotMatch((await banner.textContent()) ?? '', /keeps running|reconnecting/);
  assert.equal(await banner.locator('[data-testid="tab-reconnect"]').textContent(), 'Open a new session');
  await ui.screenshot('console-agent-stopped');

  const written = (await docker('exec', container.id, 'cat', '/tmp/ticks')).split('\n').filter(Boolean);
  const shown = new Set(
    Buffer.from(await ui.captured(tabId), 'base64')
      .toString('utf8')
      .split(/\r?\n/),
  );
  const missing = written.filter((line) => !shown.has(line));
  assert.ok(written.length >= 30, `${written.length} lines written`);
  assert.deepEqual(missing, [], `${missing.length} of ${written.length} lines printed before the stop never reached the tab`);
  assert.deepEqual(
    (await container.processes()).filter((p) => /bash|sleep 0/.test(p)),
    [],
    'the shell and its loop are gone',
  );

  const audit = readFileSync(join(stopping.stateDir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const mine = audit.filter((r) => r.sessionId === sessionId).map((r) => r.event);
  assert.deepEqual(mine, ['session.start', 'session.end'], 'no detach before the end');
  assert.match(
    String(audit.find((r) => r.event === 'session.end' && r.sessionId === sessionId)?.reason),
    /agent stopped \(signal SIGTERM\)/,
  );
  agent = undefined;
});

test('SIGKILL: the tab says since when the agent is unreachable, not that the shell runs', async () => {
  agent = await startOwnAgent('kill', 'line-10-host');
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  await agent.kill();
  await waitFor(async () => (await ui.tab(tabId)).state === 'reconnecting', 'the tab to be reconnecting', 30_000);
  const banner = ui.panel(tabId).locator('[data-testid="tab-banner"]');
  const text = await waitFor(async () => {
    const t = (await banner.textContent()) ?? '';
    return /unreachable since/.test(t) ? t : undefined;
  }, 'the unreachable banner');
  assert.match(
    text,
    new RegExp(
      `${agent.name} unreachable since \\d\\d:\\d\\d:\\d\\d; the agent keeps the shell for up to (\\d+ min|\\d+ min \\d+ s|\\d+ s) more if it is still running`,
    ),
  );
  assert.doesNotMatch(text, /keeps running/);
  await ui.screenshot('console-agent-unreachable');
});
