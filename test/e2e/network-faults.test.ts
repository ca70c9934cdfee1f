/**
 * What field networks do, on a network the test builds (harness/netns.ts): the console, the
 * agent and the signaling server each in a namespace of their own, joined by a router, with a
 * direct path between console and agent.
 *
 * - The agent's link is cut for 20 s in the middle of a long-running command: signaling and the
 *   peer connection both die. When the link is back, the console has reconnected by itself, the
 *   same shell goes on, every line the command printed meanwhile arrives once and in order, and
 *   the terminal's byte count is the agent's. Keys typed into the dead path before the console
 *   noticed never reach the shell, and the tab says exactly which.
 * - 30 % loss and 300 ms delay each way on the agent's link: typing still works, and nothing is
 *   run or shown twice. A drop can swallow keys sent just before it; the tab names them, and the
 *   test types them again as a user would.
 * - The agent's link becomes slow (300 ms each way) after the terminal connected, and stays slow
 *   past ICE's 30 s consent expiry: the same connection carries the terminal throughout (werift
 *   once ignored every consent answer slower than the round trip it measured at first: patch 023).
 * - DTLS application data dropped while STUN passes: ICE stays `connected` but SCTP delivers
 *   nothing, as when an association wedges. The console's keepalive notices, it reconnects once
 *   data passes again, and the same shell goes on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import { startContainer, type TestContainer } from '../../harness/docker.js';
import { auditEntries } from '../../harness/lan-pairing.js';
import { launchConsoleIn, networkTest, startSignaling, type ConsoleBrowser, type SignalingInNetwork } from '../../harness/net-services.js';
import { TestNetwork } from '../../harness/netns.js';
import { waitFor } from '../../harness/wait.js';
import { runCleanups } from '../../harness/cleanups.js';

const CONSOLE_TOKEN = `console-${randomBytes(12).toString('hex')}`;
const AGENT_TOKEN = `agent-${randomBytes(12).toString('hex')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let net: TestNetwork;
let signaling: SignalingInNetwork;
let agent: AgentProcess;
let container: TestContainer;
let consoleBrowser: ConsoleBrowser;
let ui: ConsolePage;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  net = await TestNetwork.create([{ name: 'cloud' }, { name: 'console' }, { name: 'agent' }]);
  cleanups.push(() => net.close());
  signaling = await startSignaling(net, 'cloud', 7300, ['--console-token', CONSOLE_TOKEN, '--agent-token', AGENT_TOKEN]);
  cleanups.push(() => signaling.stop());
  container = await startContainer({ namePrefix: 'faults-plc' });
  cleanups.push(() => container.remove());
  agent = await startAgent({
    netns: net.host('agent').ns,
    signalingUrl: signaling.url,
    token: AGENT_TOKEN,
    agentId: `faults-${net.runId}`,
    name: 'agent on a bad link',
  });
  cleanups.push(() => agent.stop());
  consoleBrowser = await launchConsoleIn(net, 'console');
  cleanups.push(() => consoleBrowser.browser.close());
  ui = await consoleBrowser.open({ signal: signaling.url, token: CONSOLE_TOKEN });
});

after(() => runCleanups('network-faults', cleanups));

/** On failure: a screenshot and the agent, signaling and page logs in test-results/; the link restored. */
const test = networkTest(
  'network-faults',
  () => consoleBrowser?.page,
  () => [
    ['agent', agent?.logs().slice(-400) ?? []],
    ['signaling', signaling?.logs().slice(-150) ?? []],
    ['page', consoleBrowser?.log.slice(-150) ?? []],
  ],
  () => net.restore('agent').catch(() => undefined),
);

async function capturedText(tabId: string): Promise<string> {
  return Buffer.from(await ui.captured(tabId), 'base64')
    .toString('utf8')
    .replace(/\r/g, '');
}

interface AgentPeerLine {
  time: string;
  msg: string;
  negotiationId?: string;
  state?: string;
}

/** The agent's JSON log lines (its stderr and any other line left out). */
function agentPeerLines(): AgentPeerLine[] {
  return agent.logs().flatMap((line) => {
    try {
      return [JSON.parse(line) as AgentPeerLine];
    } catch {
      return [];
    }
  });
}

/** The output lines that are exactly `<prefix><n>`, as numbers, in order. */
async function numbered(tabId: string, prefix: string): Promise<number[]> {
  const pattern = new RegExp(`^${prefix}(\\d+)$`);
  return (await capturedText(tabId)).split('\n').flatMap((line) => {
    const match = pattern.exec(line);
    return match ? [Number(match[1])] : [];
  });
}

/** Restores the agent's link, waits for the tab to have resumed, and prints how long that took. */
async function restoreAndResume(tabId: string, when: string, resumes = 1): Promise<void> {
  await net.restore('agent');
  const restoredAt = Date.now();
  await waitFor(
    async () => {
      const tab = await ui.tab(tabId);
      return tab.state === 'open' && tab.resumeCount >= resumes ? tab : undefined;
    },
    `the tab to resume ${when}`,
    120_000,
    500,
  );
  console.log(`[network-faults] shell back ${Date.now() - restoredAt} ms ${when}`);
}

async function shellPid(tabId: string, tag: string): Promise<string> {
  await ui.typeLine(tabId, `echo ${tag}""=$$`);
  await ui.waitForLine(tabId, new RegExp(`^${tag}=\\d+$`), 60_000);
  const line = (await capturedText(tabId))
    .split('\n')
    .reverse()
    .find((l) => new RegExp(`^${tag}=\\d+$`).test(l));
  assert.ok(line);
  return line.slice(tag.length + 1);
}

/** The lines of the command that runs through the cut. */
const LINES = 300;

test('the agent link cut for 20 s mid-command: the same shell goes on, every line arrives once and in order, the byte count matches', async () => {
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  await ui.capture(tabId, true);
  const pidBefore = await shellPid(tabId, 'pid-before');
  // About 30 s of output, a line every 0.1 s: it runs on through the 20 s cut, and what it prints
  // meanwhile waits in the agent's buffer.
  await ui.typeLine(tabId, `i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo line-$i; sleep 0.1; done; echo loop""-done`);
  await waitFor(async () => (await numbered(tabId, 'line-')).length >= 30, 'the first 30 lines', 30_000);

  await net.cut('agent');
  const linesAtCut = (await numbered(tabId, 'line-')).length;
  // Typed into the dead path before the console notices (that takes seconds): sent, never received.
  const lostKeys = 'echo lost""-keys\r';
  assert.equal((await ui.tab(tabId)).state, 'open', 'the console has not noticed the cut yet');
  await ui.typeKeys(tabId, lostKeys);
  await sleep(20_000);
  const linesDuringCut = (await numbered(tabId, 'line-')).length;
  await restoreAndResume(tabId, 'after the link came back');
  await ui.waitForLine(tabId, 'loop-done', 120_000);
  const tab = await ui.tab(tabId);
  assert.ok(linesAtCut < LINES && linesDuringCut < LINES, `the loop was still running during the cut (${linesAtCut}, ${linesDuringCut})`);
  assert.equal(tab.lastResumed?.lost, 0, 'nothing fell out of the agent buffer');
  // Each key went into the dead channel (undelivered) or was typed once the tab knew (dropped).
  const undelivered = tab.undeliveredInput.join('');
  assert.ok(undelivered.length > 0, 'the tab reports keys that did not reach the shell');
  assert.equal(undelivered.length + tab.droppedInput, lostKeys.length, 'every typed key is accounted for');
  assert.equal(undelivered, lostKeys.slice(0, undelivered.length), 'the reported keys are the ones typed, in order');
  const notice = `never reached the shell and ${undelivered.length === 1 ? 'was' : 'were'} not sent again: ${undelivered.replace(/\r/g, '⏎')}]`;
  assert.ok((await ui.screen(tabId)).replace(/\n/g, '').includes(notice), `the terminal says: …${notice}`);
  assert.ok(!(await capturedText(tabId)).includes('lost-keys'), 'the lost command never ran');
  assert.deepEqual(
    await numbered(tabId, 'line-'),
    Array.from({ length: LINES }, (_, i) => i + 1),
    `every line 1..${LINES} exactly once, in order`,
  );
  assert.equal(await shellPid(tabId, 'pid-after'), pidBefore, 'the same shell');

  // Once quiet, the terminal took exactly the bytes the agent says the session produced.
  let last = -1;
  const received = await waitFor(
    async () => {
      const now = (await ui.tab(tabId)).sessionReceived;
      const stable = now === last;
      last = now;
      return stable ? now : undefined;
    },
    'the output to go quiet',
    20_000,
    1_000,
  );
  const sessionId = tab.sessionId;
  await ui.closeByClick(tabId);
  const end = await waitFor(
    () => auditEntries(agent.stateDir).find((e) => e.event === 'session.end' && e.sessionId === sessionId),
    'the session end in the audit log',
    30_000,
  );
  assert.equal(end.bytesOut, received, 'bytes produced by the agent = bytes the terminal took');
});

/**
 * Types `command` and Enter until it has run, as a user on a bad link would: keys that a drop
 * swallowed (the tab names them once it has resumed) or that were typed while it reconnected
 * (dropped) are typed again, and only those. Returns how many bytes were typed again.
 */
async function typeUntilRun(tabId: string, command: string, expected: string): Promise<number> {
  let keys = `${command}\r`;
  let retyped = 0;
  for (;;) {
    await waitFor(async () => (await ui.tab(tabId)).state === 'open', 'the tab to be open', 120_000, 500);
    const before = await ui.tab(tabId);
    await ui.typeKeys(tabId, keys);
    const outcome = await waitFor(
      async () => {
        if ((await ui.screen(tabId)).split('\n').some((line) => line.trim() === expected)) return { missing: 0 };
        const now = await ui.tab(tabId);
        if (now.resumeCount === before.resumeCount || now.state !== 'open') return undefined;
        // The keys lost are the end of what was typed: sent into the dead path, then dropped while reconnecting.
        const missing = now.undeliveredInput.slice(before.undeliveredInput.length).join('').length + now.droppedInput - before.droppedInput;
        return missing > 0 ? { missing } : undefined;
      },
      `a line ${expected} in tab ${tabId}`,
      120_000,
      250,
    );
    if (outcome.missing === 0) return retyped;
    console.log(
      `[network-faults] ${outcome.missing} of ${keys.length} bytes of ${JSON.stringify(keys)} were lost in a drop; typing them again`,
    );
    keys = keys.slice(keys.length - outcome.missing);
    retyped += outcome.missing;
  }
}

test('30 % loss and 300 ms delay each way: typing works and nothing runs or shows twice', async () => {
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  await ui.capture(tabId, true);
  await net.impair('agent', { lossPercent: 30, delayMs: 300 });
  let retyped = 0;
  for (let n = 1; n <= 5; n++) retyped += await typeUntilRun(tabId, `echo typed-$((${n}*1000+${n}))`, `typed-${n * 1000 + n}`);
  await net.restore('agent');
  // A drop just before the restore may still be resuming: this line too is typed as a user would.
  retyped += await typeUntilRun(tabId, 'echo all""-typed', 'all-typed');
  const text = await capturedText(tabId);
  for (let n = 1; n <= 5; n++) {
    const shown = text.split('\n').filter((line) => line === `typed-${n * 1000 + n}`).length;
    assert.equal(shown, 1, `typed-${n * 1000 + n} ran once`);
    const echoed = text.split(`echo typed-$((${n}*1000+${n}))`).length - 1;
    assert.equal(echoed, 1, `the command ${n} was echoed once`);
  }
  const tab = await ui.tab(tabId);
  const losses = (await ui.notices(tabId)).filter((line) => line.includes('connection lost'));
  console.log(
    `[network-faults] lossy typing: ${tab.resumeCount} resumes, ${retyped} bytes typed again${losses.map((line) => `\n  ${line}`).join('')}`,
  );
  assert.equal(tab.undeliveredInput.join('').length + tab.droppedInput, retyped, 'every key typed again was one the tab reported lost');
  await ui.closeByClick(tabId);
});

test('a link that slows from milliseconds to a 600 ms round trip after the terminal connected, for 40 s: the same connection carries it throughout', async () => {
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  await ui.capture(tabId, true);
  const resumes = (await ui.tab(tabId)).resumeCount;
  await net.impair('agent', { delayMs: 300 });
  // ICE consent expires 30 s after the last answer counted (RFC 7675); 40 s of slow link is past it.
  const slowSince = Date.now();
  for (let n = 1; Date.now() - slowSince < 40_000; n++) {
    await ui.typeLine(tabId, `echo slow""-${n}`);
    await ui.waitForLine(tabId, `slow-${n}`, 30_000);
    const tab = await ui.tab(tabId);
    assert.equal(tab.state, 'open', `the tab is open after ${Math.round((Date.now() - slowSince) / 1000)} s of slow link`);
    assert.equal(tab.resumeCount, resumes, 'no reconnect');
    await sleep(2_000);
  }
  await net.restore('agent');
  // The peer that carries the tab: the last to connect before the link slowed (a peer an earlier
  // test left behind may still end meanwhile, and says nothing of this one).
  const peerLines = agentPeerLines();
  const carrier = peerLines.filter((l) => l.msg === 'peer connected' && Date.parse(l.time) < slowSince).at(-1)?.negotiationId;
  assert.ok(carrier, 'the agent logged the peer that carries the tab');
  const left = peerLines.filter(
    (l) => l.negotiationId === carrier && l.msg === 'connection state' && l.state !== 'connected' && Date.parse(l.time) >= slowSince,
  );
  assert.deepEqual(left, [], "the agent's peer connection never left `connected`");
  await ui.closeByClick(tabId);
});

test('data stalled while ICE stays up, as a wedged SCTP association: the keepalive notices, the console reconnects once data passes, the same shell goes on', async () => {
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  await ui.capture(tabId, true);
  const pidBefore = await shellPid(tabId, 'stall-pid-before');
  // With only STUN arriving, Chromium now and then stops counting the path as receiving and ICE
  // goes `disconnected` before the keepalive's 15 s are up (seen once in ten runs). That loss is real
  // too, but it proves nothing about the keepalive: the stall is then lifted and made again.
  const keepaliveLoss = /no answer from the agent on the data channels for \d+ s, although the network path \(ICE\) is up/;
  const losses: string[] = [];
  for (let stall = 1; stall <= 3 && !losses.some((line) => keepaliveLoss.test(line)); stall++) {
    await net.impair('agent', { stallData: true });
    const stalledAt = Date.now();
    await waitFor(
      async () => ((await ui.tab(tabId)).state === 'reconnecting' ? true : undefined),
      'the console to notice that nothing arrives',
      60_000,
      250,
    );
    const notice = (await ui.notices(tabId)).filter((line) => line.includes('connection lost')).at(-1) ?? '';
    losses.push(notice);
    console.log(`[network-faults] stall ${stall} noticed after ${Date.now() - stalledAt} ms: ${notice}`);
    await restoreAndResume(tabId, 'after data passed again', stall);
  }
  assert.ok(
    losses.some((line) => keepaliveLoss.test(line)),
    `the keepalive found a stall while ICE was up: ${losses.join(' | ')}`,
  );
  assert.equal(await shellPid(tabId, 'stall-pid-after'), pidBefore, 'the same shell');
  await ui.closeByClick(tabId);
});
