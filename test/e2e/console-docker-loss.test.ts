/**
 * The Docker engine gone under an open terminal, as the console shows it (the nine-tab review): the
 * agent reaches the engine through a socket of the test's own (harness/engine-socket.ts), which the
 * test cuts and opens again; the engine itself is shared and never stopped. The tab says its session
 * ended, in words, with the code in the detail; the device list stops saying the containers run;
 * once the engine is back, the list says so again and a new session opens.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { EngineSocket } from '../../harness/engine-socket.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;
let agent: AgentProcess;
const dir = mkdtempSync(join(tmpdir(), 'tether-console-engine-'));
const engine = new EngineSocket(dir);

before(async () => {
  stack = await startStack({ name: 'console-docker-loss' });
  container = await stack.startContainer({ namePrefix: 'engine-plc' });
  await engine.listen();
  agent = await startAgent({
    signalingUrl: stack.signaling.url,
    token: stack.agentToken,
    agentId: `${stack.agent.agentId}-engine`,
    name: 'line 9 host',
    extraArgs: [...stack.exposeArgs, '--docker-socket', engine.path],
  });
  ui = await stack.openConsole();
});

after(async () => {
  await agent?.stop();
  await engine.cut();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

test('the Docker engine gone: the tab says its session ended, the list stops saying the container runs; back, both recover', async () => {
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  const row = ui.page.locator(`[data-testid="agent"][data-agent-id="${agent.agentId}"]`);
  const target = row.locator(`[data-testid="target"][data-target-name="${container.name}"]`);
  assert.equal(await target.getAttribute('data-state'), 'running');

  await engine.cut();
  const banner = ui.panel(tabId).locator('[data-testid="tab-banner"]');
  await waitFor(async () => (await ui.tab(tabId)).state !== 'open', 'the tab to learn its shell is out of reach', 45_000);
  await waitFor(async () => (await banner.isVisible()) || undefined, 'the banner');
  const title = (await banner.locator('[data-testid="tab-banner-title"]').textContent()) ?? '';
  const text = (await banner.textContent()) ?? '';
  assert.doesNotMatch(title, /Could not open|DOCKER_UNAVAILABLE/, `the headline is words: ${title}`);
  assert.match(text, /Docker engine/i);
  // The list asks the agent every 3 s: its answer now is that the engine does not answer.
  await waitFor(
    async () => (await target.getAttribute('data-state')) === 'unknown' || undefined,
    'the container no longer listed as running',
    30_000,
  );
  assert.match(await row.locator('[data-testid="agent-engine"]').innerText(), /Docker engine on this host does not answer/);

  await engine.listen();
  await waitFor(
    async () => (await target.getAttribute('data-state')) === 'running' || undefined,
    'the container listed as running again',
    30_000,
  );
  assert.equal(await row.locator('[data-testid="agent-engine"]').count(), 0);
  await ui.panel(tabId).locator('[data-testid="tab-reconnect"]').click();
  await ui.waitOpened(tabId, 45_000);
  await ui.typeLine(tabId, 'echo engine""-back');
  await ui.waitForLine(tabId, 'engine-back');
  await ui.closeByClick(tabId);
});
