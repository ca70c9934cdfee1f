/**
 * A relayed session outlives the TURN credentials it was set up with. The signaling server issues
 * credentials that live 20 s; console and agent sit behind two NATs, so the terminal runs through
 * coturn. coturn checks a username's expiry when an allocation is made, not on the Refresh,
 * CreatePermission and ChannelBind that keep it alive (shown with a raw TURN client: the clients'
 * own refreshes come 4 to 9 minutes in); the terminal goes on past the expiry with no reconnect; a
 * resume after the expiry, which needs new allocations, gets them on both ends with the fresh
 * credentials sent since; and a console whose clock is an hour off still uses the ones it has.
 *
 * TETHER_TURN_EXPIRY_WATCH_S=600 keeps the terminal busy ten minutes past the expiry, long enough
 * for Chromium's and werift's own refreshes, which are then checked too (figures in
 * docs/networks.md). That takes about 12 minutes, more than scripts/run-tests.mjs gives a test:
 *   TETHER_TURN_EXPIRY_WATCH_S=600 node --conditions=source --import tsx --test --test-timeout=1500000 test/e2e/turn-expiry.test.ts
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { issueTurnCredentials } from '@tether/signaling';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import { startContainer, type TestContainer } from '../../harness/docker.js';
import {
  launchConsoleIn,
  networkTest,
  startCoturn,
  startSignaling,
  type ConsoleBrowser,
  type Coturn,
  type SignalingInNetwork,
} from '../../harness/net-services.js';
import { TestNetwork } from '../../harness/netns.js';
import { waitFor } from '../../harness/wait.js';
import { runCleanups } from '../../harness/cleanups.js';

const refreshProbe = fileURLToPath(new URL('../../harness/turn-refresh-probe.mjs', import.meta.url));

const TURN_SECRET = `turn-${randomBytes(12).toString('hex')}`;
const CONSOLE_TOKEN = `console-${randomBytes(12).toString('hex')}`;
const AGENT_TOKEN = `agent-${randomBytes(12).toString('hex')}`;
/** Issued credentials live this long; the signaling server sends fresh ones every 10 s. */
const TTL = '20s';
/**
 * How long the terminal is kept busy after the credentials it was set up with have expired: 10 s,
 * five ticks, by default (no client refreshes anything that early; what the expiry could break, the
 * allocation's permissions and channels, shows at once), ten minutes with TETHER_TURN_EXPIRY_WATCH_S.
 */
const WATCH_AFTER_EXPIRY_MS = Number(process.env['TETHER_TURN_EXPIRY_WATCH_S'] ?? 10) * 1000;
/** Long enough for the clients' own refreshes: Chromium's CreatePermission at 4 min, werift's Refresh at 500 s, Chromium's at 540 s. */
const CLIENT_REFRESHES_MS = 560_000;

let net: TestNetwork;
let coturn: Coturn;
let signaling: SignalingInNetwork;
let agent: AgentProcess;
let container: TestContainer;
let consoleBrowser: ConsoleBrowser;
let ui: ConsolePage;
let tabId: string;
const cleanups: (() => Promise<void>)[] = [];

/** One request coturn answered, as its verbose log says, with the wall-clock time the line came. */
interface TurnRequest {
  at: number;
  /** coturn's session: one client transport address, so at most one allocation */
  session: string;
  /** `<expiry>:<role>.<org>.<who>` */
  user: string;
  expiresAt: number;
  method: string;
  /** the error code, 0 for success */
  code: number;
}
const requests: TurnRequest[] = [];

function recordTurnRequests(line: string): void {
  const match = /session (\d+): realm <[^>]*> user <((\d+):[^>]+)>: incoming packet (\w+) processed, (?:success|error (\d+))/.exec(line);
  if (match)
    requests.push({
      at: Date.now(),
      session: match[1]!,
      user: match[2]!,
      expiresAt: Number(match[3]) * 1000,
      method: match[4]!,
      code: Number(match[5] ?? 0),
    });
}

before(async () => {
  net = await TestNetwork.create([{ name: 'cloud' }, { name: 'console', behindNat: true }, { name: 'agent', behindNat: true }]);
  cleanups.push(() => net.close());
  coturn = await startCoturn(net, 'cloud', TURN_SECRET);
  let rest = '';
  coturn.child.stdout?.on('data', (chunk: string | Buffer) => {
    const lines = (rest + String(chunk)).split('\n');
    rest = lines.pop() ?? '';
    lines.forEach(recordTurnRequests);
  });
  cleanups.push(() => coturn.stop());
  signaling = await startSignaling(net, 'cloud', 7300, [
    '--console-token',
    CONSOLE_TOKEN,
    '--agent-token',
    AGENT_TOKEN,
    '--turn-url',
    coturn.url,
    '--turn-secret',
    TURN_SECRET,
    '--turn-ttl',
    TTL,
  ]);
  cleanups.push(() => signaling.stop());
  container = await startContainer({ namePrefix: 'expiry-plc' });
  cleanups.push(() => container.remove());
  agent = await startAgent({
    netns: net.host('agent').ns,
    signalingUrl: signaling.url,
    token: AGENT_TOKEN,
    agentId: `expiry-${net.runId}`,
    name: 'agent behind NAT',
  });
  cleanups.push(() => agent.stop());
  consoleBrowser = await launchConsoleIn(net, 'console');
  cleanups.push(() => consoleBrowser.browser.close());
});

after(() => runCleanups('turn-expiry', cleanups));

/** On failure: the page, agent, signaling and coturn logs in test-results/. */
const test = networkTest(
  'turn-expiry',
  () => consoleBrowser?.page,
  () => [
    ['agent', agent?.logs().slice(-300) ?? []],
    ['signaling', signaling?.logs().slice(-100) ?? []],
    ['coturn', coturn?.logs().slice(-300) ?? []],
    ['page', consoleBrowser?.log.slice(-100) ?? []],
  ],
);

function peersConnected(): { path?: { kind: string } }[] {
  return agent.logs().flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as { msg?: string; path?: { kind: string } };
      return parsed.msg === 'peer connected' ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

const byAgent = (r: TurnRequest) => r.user.includes(`:agent.default.${agent.agentId}`);
const byConsole = (r: TurnRequest) => r.user.includes(':console.default.');
/**
 * The allocations coturn granted to the agent and the console, oldest first: one per session. A
 * client that retransmits its Allocate before the answer comes (a busy machine) gets the same
 * allocation again, and coturn logs that answer as another success.
 */
const allocations = () =>
  requests.filter(
    (r, i) =>
      r.method === 'ALLOCATE' &&
      r.code === 0 &&
      (byAgent(r) || byConsole(r)) &&
      requests.findIndex((other) => other.method === 'ALLOCATE' && other.code === 0 && other.session === r.session) === i,
  );

async function capturedLines(): Promise<string[]> {
  return Buffer.from(await ui.captured(tabId), 'base64')
    .toString('utf8')
    .replace(/\r/g, '')
    .split('\n');
}

/** `<tag>=<pid>` of the tab's shell, printed anew. */
async function shellPid(tag: string): Promise<string> {
  await ui.typeLine(tabId, `echo ${tag}""=$$`);
  const screen = await ui.waitForLine(tabId, new RegExp(`^${tag}=\\d+$`));
  const line = screen
    .split('\n')
    .map((l) => l.trim())
    .reverse()
    .find((l) => l.startsWith(`${tag}=`));
  assert.ok(line);
  return line.slice(tag.length + 1);
}

test('coturn keeps an allocation alive past its credentials: Refresh, CreatePermission and ChannelBind succeed after the expiry, only a new allocation is refused', async () => {
  const probe = issueTurnCredentials({ urls: [coturn.url], secret: TURN_SECRET, ttlSeconds: 3 }, 'console.probe.expiry').iceServers[0]!;
  const expiresAt = Number(probe.username!.split(':')[0]) * 1000;
  const peer = net.host('agent').publicAddress!;
  const out = await net.exec('console', process.execPath, [
    refreshProbe,
    coturn.address,
    String(coturn.port),
    probe.username!,
    probe.credential!,
    String(expiresAt + 1_000),
    peer,
  ]);
  const report = JSON.parse(out) as Record<string, { ok: boolean; code?: number; lifetime?: number }>;
  assert.equal(report['allocate']?.ok, true, out);
  assert.equal(report['refresh']?.ok, true, `Refresh after the expiry: ${out}`);
  assert.ok((report['refresh']?.lifetime ?? 0) > 0, `the allocation was extended: ${out}`);
  assert.equal(report['createPermission']?.ok, true, `CreatePermission after the expiry: ${out}`);
  assert.equal(report['channelBind']?.ok, true, `ChannelBind after the expiry: ${out}`);
  assert.equal(report['newAllocate']?.code, 401, `a new allocation with the expired username is refused: ${out}`);
});

test('a relayed terminal goes on past the expiry of its credentials: no reconnect, the same shell, every line once and in order', async () => {
  ui = await consoleBrowser.open({ signal: signaling.url, token: CONSOLE_TOKEN });
  tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  await ui.capture(tabId, true);
  const pidBefore = await shellPid('pid-before');
  const first = allocations();
  const agentAllocation = first.find(byAgent);
  const consoleAllocation = first.find(byConsole);
  assert.ok(agentAllocation && consoleAllocation, `both ends allocated: ${JSON.stringify(first)}`);
  assert.equal(peersConnected()[0]?.path?.kind, 'relayed');
  const expired = Math.max(agentAllocation.expiresAt, consoleAllocation.expiresAt);

  let ticks = 0;
  while (Date.now() < expired + WATCH_AFTER_EXPIRY_MS) {
    await ui.typeLine(tabId, `echo tick""-${++ticks}`);
    await ui.waitForLine(tabId, `tick-${ticks}`);
    const tab = await ui.tab(tabId);
    assert.equal(
      tab.state,
      'open',
      `tick ${ticks}, ${Math.round((Date.now() - expired) / 1000)} s after the expiry: ${JSON.stringify(tab)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  // A second tab an hour into a session (here, after the expiry) rides on the same peer connection.
  const second = await ui.openTargetByClick(agent.agentId, container.name, 30_000);
  await ui.waitForPrompt(second);
  assert.equal(await shellPid('pid-after'), pidBefore, 'the same shell');

  const tab = await ui.tab(tabId);
  assert.equal(tab.resumeCount, 0, 'never reconnected');
  assert.deepEqual(await ui.notices(tabId), [], 'no "connection lost" in the terminal');
  assert.equal(peersConnected().length, 1, 'one peer connection throughout');
  const lines = (await capturedLines()).filter((l) => /^tick-\d+$/.test(l));
  assert.deepEqual(
    lines,
    Array.from({ length: ticks }, (_, i) => `tick-${i + 1}`),
    'every tick once and in order',
  );
  assert.equal(allocations().length, 2, 'no new allocation: the second tab used the same path');

  // Whatever the clients sent on their allocations after the expiry was accepted (a 438 only asks
  // for the request again with a new nonce, on a coturn that makes nonces stale).
  const original = new Set([agentAllocation.user, consoleAllocation.user]);
  const late = requests.filter((r) => original.has(r.user) && r.at > r.expiresAt);
  assert.deepEqual(
    late.filter((r) => r.code !== 0 && r.code !== 438),
    [],
    'no request on the allocations refused after the expiry',
  );
  if (WATCH_AFTER_EXPIRY_MS >= CLIENT_REFRESHES_MS) {
    const seconds = (r: TurnRequest) => Math.round((r.at - r.expiresAt) / 1000);
    console.log(
      `turn-expiry: requests after the expiry: ${late.map((r) => `${byAgent(r) ? 'agent' : 'console'} ${r.method} ${r.code || 'ok'} +${seconds(r)} s`).join(', ')}`,
    );
    for (const [who, user] of [
      ['agent (werift)', agentAllocation.user],
      ['console (Chromium)', consoleAllocation.user],
    ]) {
      const refreshed = late.filter((r) => r.user === user && r.code === 0).map((r) => r.method);
      assert.ok(refreshed.includes('REFRESH'), `the ${who} refreshed its allocation after the expiry: ${JSON.stringify(refreshed)}`);
    }
  }
  await ui.closeByClick(second);
});

test('a resume after the expiry relays again: both ends allocate with fresh credentials, and the same shell goes on with every line', async () => {
  const before = allocations();
  const expiredBefore = Math.max(...before.map((r) => r.expiresAt));
  assert.ok(Date.now() > expiredBefore, 'the first credentials have expired');
  const pidBefore = await shellPid('pid-resume');
  const resumesBefore = (await ui.tab(tabId)).resumeCount;
  await ui.typeLine(tabId, 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo line-$i; sleep 0.05; done; echo loop""-done');
  await waitFor(async () => (await capturedLines()).filter((l) => /^line-\d+$/.test(l)).length >= 20, 'the first 20 lines');
  assert.equal(await ui.dropPath(agent.agentId, 2_000), true);
  await waitFor(async () => (await ui.tab(tabId)).state === 'reconnecting', 'the tab to be reconnecting');
  await waitFor(
    async () => {
      const tab = await ui.tab(tabId);
      return tab.state === 'open' && tab.resumeCount === resumesBefore + 1;
    },
    'the tab to resume',
    60_000,
  );
  await ui.waitForLine(tabId, 'loop-done', 60_000);

  const lines = (await capturedLines()).filter((l) => /^line-\d+$/.test(l));
  assert.deepEqual(
    lines,
    Array.from({ length: 200 }, (_, i) => `line-${i + 1}`),
    'every line once and in order',
  );
  assert.equal(await shellPid('pid-resumed'), pidBefore, 'the same shell');
  const connected = peersConnected();
  assert.equal(connected.length, resumesBefore + 2, 'a new peer connection');
  assert.equal(connected.at(-1)?.path?.kind, 'relayed', `the new path: ${JSON.stringify(connected.at(-1))}`);

  // New allocations on both ends, each with a username that had not expired: the credentials the
  // signaling server sent after the first ones, not the first ones again (coturn would refuse those).
  const fresh = allocations().slice(before.length);
  for (const [who, mine] of [
    ['agent', byAgent],
    ['console', byConsole],
  ] as const) {
    const made = fresh.filter(mine);
    assert.ok(made.length > 0, `the ${who} allocated anew: ${JSON.stringify(fresh)}`);
    assert.ok(
      made.every((r) => r.expiresAt > expiredBefore && r.expiresAt > r.at),
      `the ${who}'s new credentials were fresh: ${JSON.stringify(made)}`,
    );
  }
  const refused = requests.filter((r) => (byAgent(r) || byConsole(r)) && r.code === 401 && r.at > expiredBefore);
  assert.deepEqual(refused, [], 'no client offered expired credentials');
});

test('a console whose clock is an hour fast still relays: it times its credentials from their arrival, not by its own clock', async () => {
  const skewed = await launchConsoleIn(net, 'console');
  cleanups.push(() => skewed.browser.close());
  // A laptop that keeps local time as UTC, an hour ahead: the credentials look an hour old to it.
  await skewed.page.addInitScript(() => {
    const now = Date.now.bind(Date);
    Date.now = () => now() + 3_600_000;
  });
  const allocatedBefore = allocations().length;
  const fast = await skewed.open({ signal: signaling.url, token: CONSOLE_TOKEN });
  const tab = await fast.openTargetByClick(agent.agentId, container.name, 60_000);
  await fast.waitForPrompt(tab);
  await fast.typeLine(tab, 'echo skewed-$((6 * 7))');
  await fast.waitForLine(tab, 'skewed-42');
  const made = allocations().slice(allocatedBefore).filter(byConsole);
  assert.equal(made.length, 1, `the console allocated a relay with the credentials it was given: ${JSON.stringify(made)}`);
  await waitFor(async () => (await fast.tab(tab)).path === 'relayed', 'the tab to show a relayed path', 15_000);
});
