/**
 * Signaling scale-out, end to end: three signaling nodes (child processes of the built CLI) share a
 * real redis-server behind a TCP front, the real agent and the console in headless Chromium reach
 * them through the front only. The console starts on one node and the agent on another; a terminal
 * works across them. Then the agent's node is killed, and later the console's: the open terminal
 * keeps working (WebRTC does not need signaling), both clients reconnect through the front, and
 * new consoles open new terminals through the surviving nodes. Last, the console's path to the
 * agent is dropped too: the tab resumes the same shell through the one node left.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import { launchChromium, newLoggedPage } from '../../harness/browser.js';
import { ConsolePage } from '../../harness/console-page.js';
import { startContainer, type TestContainer } from '../../harness/docker.js';
import { startRedisServer, type RedisServer } from '../../harness/redis-server.js';
import { ensureRendererBuilt } from '../../harness/renderer-build.js';
import { startSignalingNode, type SignalingNode } from '../../harness/signaling-node.js';
import { serveDirectory, type StaticServer } from '../../harness/static-server.js';
import { startTcpFront, type TcpFront } from '../../harness/tcp-front.js';
import { waitFor } from '../../harness/wait.js';
import { runCleanups } from '../../harness/cleanups.js';

const resultsDir = fileURLToPath(new URL('../../test-results/', import.meta.url));
const consoleToken = `console-${randomBytes(12).toString('hex')}`;
const agentToken = `agent-${randomBytes(12).toString('hex')}`;
const cleanups: (() => Promise<unknown>)[] = [];
const pageLog: string[] = [];

let redis: RedisServer;
let nodes: SignalingNode[];
let front: TcpFront;
let web: StaticServer;
let browser: Browser;
let container: TestContainer;
let agent: AgentProcess;
const pages: Page[] = [];

before(async () => {
  redis = await startRedisServer();
  cleanups.push(() => redis.stop());
  const env = {
    TETHER_SIGNALING_CONSOLE_TOKENS: consoleToken,
    TETHER_SIGNALING_AGENT_TOKENS: agentToken,
    TETHER_SIGNALING_REDIS_URL: redis.url,
    TETHER_SIGNALING_REDIS_NODE_TTL_MS: '1000',
  };
  nodes = await Promise.all(['node0', 'node1', 'node2'].map((name) => startSignalingNode(name, env)));
  cleanups.push(() => Promise.all(nodes.map((node) => node.kill())));
  front = await startTcpFront(nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
  cleanups.push(() => front.close());
  const [dist, started] = await Promise.all([ensureRendererBuilt(), startContainer({ namePrefix: 'redis-scale-plc' })]);
  container = started;
  cleanups.push(() => container.remove());
  web = await serveDirectory(dist);
  cleanups.push(() => web.close());
  browser = await launchChromium();
  cleanups.push(() => browser.close());
});

after(() => runCleanups('scale-out', cleanups));

/** Which node logged `msg` for this agent or console connection last. */
const nodeLogging = (pattern: RegExp) => nodes.findIndex((node) => node.logs().some((line) => pattern.test(line)));

async function openConsole(): Promise<ConsolePage> {
  const page = await newLoggedPage(browser, pageLog);
  pages.push(page);
  const query = new URLSearchParams({ signal: front.url, token: consoleToken, test: '1' });
  await page.goto(`${web.url}/index.html?${query.toString()}`);
  await page.waitForFunction(() => 'window' in globalThis && '__tetherTest' in window, undefined, { timeout: 15_000 });
  return new ConsolePage(page);
}

async function dumpFailure(name: string, error: unknown): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const base = `${resultsDir}scale-out-${name.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
  for (const [i, page] of pages.entries()) {
    await page
      .screenshot({ path: `${base}-page${i}.png`, fullPage: true })
      .catch((shot: unknown) => pageLog.push(`[screenshot failed] ${String(shot)}`));
  }
  const report = [
    `test: ${name}`,
    `error: ${error instanceof Error ? error.stack : String(error)}`,
    `front choices: ${JSON.stringify(front.choices)}`,
    '--- agent log ---',
    ...(agent?.logs().slice(-300) ?? []),
    ...nodes.flatMap((node) => [`--- ${node.name} log ---`, ...node.logs().slice(-150)]),
    '--- page log ---',
    ...pageLog.slice(-200),
  ].join('\n');
  writeFileSync(`${base}.log`, report);
  console.error(`\n[${name}] failed; screenshots and logs in ${base}*`);
}

const test = (name: string, body: () => Promise<void>) =>
  it(name, async () => {
    try {
      await body();
    } catch (error) {
      await dumpFailure(name, error);
      throw error;
    }
  });

test("a terminal across two nodes survives the death of the agent's node and then of the console's", async () => {
  // The agent on node 1, the console on node 0: the offer, answer and candidates cross nodes.
  front.prefer(1);
  agent = await startAgent({
    signalingUrl: front.url,
    token: agentToken,
    agentId: `redis-e2e-${randomBytes(3).toString('hex')}`,
    name: 'scale-out host',
  });
  cleanups.push(() => agent.stop());
  const agentOn = new RegExp(`"msg":"agent connected".*"agentId":"${agent.agentId}"`);
  await waitFor(() => nodeLogging(agentOn) === 1, 'the agent to connect to node 1');
  front.prefer(0);
  const ui = await openConsole();
  await waitFor(() => nodeLogging(/"msg":"console connected"/) === 0, 'the console to connect to node 0');
  front.prefer(undefined);

  const tab = await ui.openTargetByClick(agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tab);
  await ui.typeLine(tab, 'echo across""-nodes');
  await ui.waitForLine(tab, 'across-nodes');
  await ui.typeLine(tab, 'cd /tmp && X=kept-shell');

  // The agent's node dies: the terminal goes on, the agent reconnects through the front.
  const agentLines = agent.logs().length;
  await nodes[1]!.kill();
  await ui.typeLine(tab, 'echo after-agent-node""-died $X $(pwd)');
  await ui.waitForLine(tab, 'after-agent-node-died kept-shell /tmp');
  await waitFor(
    () =>
      agent
        .logs()
        .slice(agentLines)
        .some((line) => line.includes('agent ready')),
    'the agent to reconnect through the front',
    30_000,
  );
  // The node logs the connection a moment after the agent sees it accepted.
  const { agentNow } = await waitFor(
    () => {
      const index = nodes.findIndex((node, i) => i !== 1 && node.logs().some((line) => agentOn.test(line)));
      return index >= 0 ? { agentNow: index } : undefined;
    },
    "a surviving node to log the agent's connection",
    10_000,
  );
  assert.ok(agentNow === 0 || agentNow === 2, `the agent is on a surviving node (${agentNow})`);

  // A new console reaches the agent through the surviving nodes.
  const second = await openConsole();
  const secondTab = await second.openTargetByClick(agent.agentId, container.name, 45_000);
  await second.waitForPrompt(secondTab);
  await second.typeLine(secondTab, 'echo second""-console');
  await second.waitForLine(secondTab, 'second-console');

  // Now the first console's node dies too: its terminal goes on; it reconnects to node 2.
  const consolesOn2 = () => nodes[2]!.logs().filter((line) => line.includes('"msg":"console connected"')).length;
  const before2 = consolesOn2();
  await nodes[0]!.kill();
  await ui.typeLine(tab, 'echo after-console-node""-died $X');
  await ui.waitForLine(tab, 'after-console-node-died kept-shell');
  const status = ui.page.locator('[data-testid="signaling-state"]');
  await waitFor(
    async () => consolesOn2() > before2 && (await status.getAttribute('data-state')) === 'connected',
    'the first console to reconnect to node 2',
    30_000,
  );
  const item = ui.page.locator(`[data-testid="agent"][data-agent-id="${agent.agentId}"]`);
  await waitFor(async () => (await item.getAttribute('data-online')) === 'true', 'the agent to be listed online after the re-list', 30_000);
  // Its new tab works (on its peer connection), and so does a third console, all through node 2.
  const newTab = await ui.openTargetByClick(agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(newTab);
  await ui.typeLine(newTab, 'echo new""-tab');
  await ui.waitForLine(newTab, 'new-tab');
  const third = await openConsole();
  const thirdTab = await third.openTargetByClick(agent.agentId, container.name, 45_000);
  await third.waitForPrompt(thirdTab);
  await third.typeLine(thirdTab, 'echo third""-console');
  await third.waitForLine(thirdTab, 'third-console');
  await ui.typeLine(tab, 'echo still""-the-first $X');
  await ui.waitForLine(tab, 'still-the-first kept-shell');

  // And if the console's path to the agent dies as well, the tab resumes its shell through the
  // surviving node: a new negotiation via node 2, then `resume` on the agent.
  const sessionBefore = (await ui.tab(tab)).sessionId;
  const offersOn2 = () => nodes[2]!.logs().filter((line) => line.includes('"msg":"relayed offer"')).length;
  const offersBefore = offersOn2();
  assert.equal(await ui.dropPath(agent.agentId, 0), true);
  await waitFor(async () => (await ui.tab(tab)).state === 'reconnecting', 'the tab to be reconnecting');
  await waitFor(async () => (await ui.tab(tab)).state === 'open', 'the tab to resume through node 2', 60_000);
  assert.equal((await ui.tab(tab)).sessionId, sessionBefore, 'the same session');
  await ui.typeLine(tab, 'echo resumed""-through-node2 $X');
  await ui.waitForLine(tab, 'resumed-through-node2 kept-shell');
  assert.ok(offersOn2() > offersBefore, 'the new negotiation went through node 2');
});
