/**
 * Resume with the signaling server down too: the path to the agent dies (console-side hook) and
 * the signaling server is stopped for 20 s, so every reconnect attempt fails at once ("not connected
 * to the signaling server"). The console keeps trying with its capped backoff; once the server is
 * back on the same port, both ends reconnect to it and the tab takes its shell back, with every
 * line of a running loop once and in order.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { createJsonLogger, startSignalingServer, type SignalingServer } from '@tether/signaling';
import type { Page } from 'playwright-core';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import { newLoggedPage } from '../../harness/browser.js';
import { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { freePort } from '../../harness/lan-pairing.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

const consoleToken = `console-${randomBytes(12).toString('hex')}`;
const agentToken = `agent-${randomBytes(12).toString('hex')}`;
const signalingLog: string[] = [];
const pageLog: string[] = [];

let stack: Stack;
let container: TestContainer;
let port: number;
let signaling: SignalingServer | undefined;
let agent: AgentProcess;
let page: Page;
let ui: ConsolePage;

function startOwnSignaling(): Promise<SignalingServer> {
  return startSignalingServer({
    port,
    host: '127.0.0.1',
    consoleTokens: [consoleToken],
    agentTokens: [agentToken],
    logger: createJsonLogger({ level: 'debug', write: (line) => signalingLog.push(line) }),
  });
}

before(async () => {
  // The stack gives the browser, the served renderer and container cleanup; this file runs its own
  // signaling server (on a fixed port, to stop and start it again) and its own agent.
  stack = await startStack({ name: 'console-resume-signaling' });
  container = await stack.startContainer({ namePrefix: 'resume-sig-plc' });
  port = await freePort();
  signaling = await startOwnSignaling();
  agent = await startAgent({
    signalingUrl: signaling.url,
    token: agentToken,
    agentId: `resume-sig-${randomBytes(3).toString('hex')}`,
    name: 'agent behind a flaky cloud',
    extraArgs: stack.exposeArgs,
  });
  page = await newLoggedPage(stack.browser, pageLog);
  const query = new URLSearchParams({ signal: signaling.url, token: consoleToken, test: '1' });
  await page.goto(`${stack.baseUrl}/index.html?${query.toString()}`);
  await page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 15_000 });
  ui = new ConsolePage(page);
});

after(async () => {
  await agent?.stop();
  await signaling?.close();
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) =>
  it(name, async () => {
    try {
      await body();
    } catch (error) {
      console.error(
        `--- agent log tail ---\n${agent?.logs().slice(-60).join('\n')}\n--- signaling ---\n${signalingLog.slice(-40).join('\n')}\n--- page ---\n${pageLog.slice(-60).join('\n')}`,
      );
      throw error;
    }
  });

async function numberedLines(tabId: string): Promise<number[]> {
  const text = Buffer.from(await ui.captured(tabId), 'base64')
    .toString('utf8')
    .replace(/\r/g, '');
  return text.split('\n').flatMap((l) => (/^line-(\d+)$/.exec(l) ? [Number(l.slice(5))] : []));
}

test('with the signaling server down for 20 s, the console retries with capped backoff and resumes once it is back', async () => {
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  await ui.capture(tabId, true);
  await ui.typeLine(tabId, 'echo pid""=$$; i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo line-$i; sleep 0.05; done; echo loop""-done');
  const pid = (await ui.waitForLine(tabId, /^pid=\d+$/))
    .split('\n')
    .find((l) => /^pid=\d+$/.test(l.trim()))
    ?.trim();
  await waitFor(async () => (await numberedLines(tabId)).length >= 20, 'the first 20 numbered lines');

  await signaling?.close();
  signaling = undefined;
  assert.equal(await ui.dropPath(agent.agentId, 0), true);
  const downAt = Date.now();
  await waitFor(async () => (await ui.tab(tabId)).state === 'reconnecting', 'the tab to be reconnecting');
  await new Promise((resolve) => setTimeout(resolve, 20_000));
  const during = await ui.tab(tabId);
  assert.equal(during.state, 'reconnecting', 'no way to the agent while signaling is down');
  // 0.5 + 1 + 2 + 4 + 5 + 5 … s: at least five attempts in 20 s, at most a dozen (the backoff is capped, not zero).
  assert.ok((during.reconnectAttempt ?? 0) >= 5 && (during.reconnectAttempt ?? 0) <= 12, `attempts in 20 s: ${during.reconnectAttempt}`);

  signaling = await startOwnSignaling();
  await waitFor(async () => (await ui.tab(tabId)).state === 'open', 'the tab to resume once signaling is back', 60_000);
  console.log(`[resume-signaling] shell back ${Date.now() - downAt} ms after the drop (20 s of it with signaling down)`);
  await ui.waitForLine(tabId, 'loop-done', 90_000);
  assert.deepEqual(
    await numberedLines(tabId),
    Array.from({ length: 600 }, (_, i) => i + 1),
    'every line once, in order',
  );
  await ui.typeLine(tabId, 'echo pid""=$$');
  const screen = await ui.waitForLine(tabId, /^pid=\d+$/);
  const pids = screen
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^pid=\d+$/.test(l));
  assert.equal(pids[pids.length - 1], pid, 'the same shell');
  // The prompt after pid=… may still be arriving: the two counts agree once it has (read once, they
  // once differed by the prompt's bytes on a quiet machine).
  const counts = async () => ({ shown: await ui.received(tabId), session: (await ui.tab(tabId)).sessionReceived });
  await waitFor(
    async () => {
      const { shown, session } = await counts();
      return shown === session;
    },
    'the bytes the terminal shows to equal the bytes the session received',
    60_000,
  ).catch(async (error: unknown) => {
    assert.fail(`${String(error)}: ${JSON.stringify(await counts())}`);
  });
});
