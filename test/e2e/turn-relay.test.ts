/**
 * NAT traversal through a real coturn: the console and the agent each sit behind their own NAT in
 * separate network namespaces, with no path between them; the signaling server and coturn are in a
 * "cloud" namespace both reach. The signaling server hands both ends time-limited TURN credentials
 * (TURN REST API, coturn's use-auth-secret); the terminal works, relayed, and the console and the
 * agent both say so. Expired credentials are refused by coturn, and a console holding only expired
 * ones cannot connect and says that the TURN server refused them.
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

const turnProbe = fileURLToPath(new URL('../../harness/turn-probe.mjs', import.meta.url));

const TURN_SECRET = `turn-${randomBytes(12).toString('hex')}`;
const CONSOLE_TOKEN = `console-${randomBytes(12).toString('hex')}`;
const AGENT_TOKEN = `agent-${randomBytes(12).toString('hex')}`;

let net: TestNetwork;
let coturn: Coturn;
let signaling: SignalingInNetwork;
let agent: AgentProcess;
let container: TestContainer;
let consoleBrowser: ConsoleBrowser;
/** agents started by a test, whose logs go into its failure report */
const extraAgents: AgentProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  net = await TestNetwork.create([{ name: 'cloud' }, { name: 'console', behindNat: true }, { name: 'agent', behindNat: true }]);
  cleanups.push(() => net.close());
  coturn = await startCoturn(net, 'cloud', TURN_SECRET);
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
  ]);
  cleanups.push(() => signaling.stop());
  container = await startContainer({ namePrefix: 'relay-plc' });
  cleanups.push(() => container.remove());
  agent = await startAgent({
    netns: net.host('agent').ns,
    signalingUrl: signaling.url,
    token: AGENT_TOKEN,
    agentId: `relay-${net.runId}`,
    name: 'agent behind NAT',
  });
  cleanups.push(() => agent.stop());
  consoleBrowser = await launchConsoleIn(net, 'console');
  cleanups.push(() => consoleBrowser.browser.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`turn-relay teardown: ${String(error)}`);
    }
  }
});

/** On failure: the page, agent, signaling and coturn logs in test-results/. */
const test = networkTest(
  'turn-relay',
  () => consoleBrowser?.page,
  () => [
    ['agent', agent?.logs().slice(-300) ?? []],
    ...extraAgents.map((extra): [string, string[]] => [`agent ${extra.agentId}`, extra.logs().slice(-300)]),
    ['signaling', signaling?.logs().slice(-100) ?? []],
    ['coturn', coturn?.logs().slice(-150) ?? []],
    ['page', consoleBrowser?.log.slice(-100) ?? []],
  ],
);

interface AgentLogLine {
  msg?: string;
  path?: { kind: string; local: string; remote: string };
}

function agentLines(process: AgentProcess): AgentLogLine[] {
  return process.logs().flatMap((line) => {
    try {
      return [JSON.parse(line) as AgentLogLine];
    } catch {
      return [];
    }
  });
}

test('with no path between console and agent, a terminal works through coturn, and both ends report it relayed', async () => {
  const ui: ConsolePage = await consoleBrowser.open({ signal: signaling.url, token: CONSOLE_TOKEN });
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  await ui.typeLine(tabId, 'echo relayed-$((6 * 7))');
  await ui.waitForLine(tabId, /relayed-42$/);

  const pathLabel = ui.panel(tabId).locator('[data-testid="tab-path"]');
  await waitFor(async () => (await pathLabel.getAttribute('data-path')) === 'relayed', 'the tab to show a relayed path', 15_000);
  assert.match((await pathLabel.textContent()) ?? '', /^relayed/);
  assert.equal((await ui.tab(tabId)).path, 'relayed');
  assert.match((await ui.agentState(agent.agentId)).text, /relayed/);

  const connected = agentLines(agent).filter((line) => line.msg === 'peer connected');
  assert.equal(connected.length, 1, 'one peer connection');
  assert.equal(connected[0]?.path?.kind, 'relayed', `the agent's selected pair: ${JSON.stringify(connected[0]?.path)}`);
  // The credentials the signaling server issued, as coturn saw them: `<expiry>:<role>.<org>.<who>`.
  const allocated = (user: RegExp) => coturn.logs().some((line) => user.test(line) && /ALLOCATE processed, success/.test(line));
  assert.ok(allocated(new RegExp(`user <\\d+:agent\\.default\\.${agent.agentId}>`)), "coturn granted the agent's allocation");
  assert.ok(allocated(/user <\d+:console\.default\./), "coturn granted the console's allocation");
  await ui.closeByClick(tabId);
});

async function allocate(username: string, password: string): Promise<{ ok: boolean; code?: number; relayed?: string; reason?: string }> {
  const out = await net.exec('console', process.execPath, [turnProbe, coturn.address, String(coturn.port), username, password]);
  return JSON.parse(out) as { ok: boolean; code?: number; relayed?: string };
}

test('coturn grants an allocation to fresh credentials and refuses expired or forged ones with 401', async () => {
  const options = { urls: [coturn.url], secret: TURN_SECRET, ttlSeconds: 3600 };
  const fresh = issueTurnCredentials(options, 'console.probe.fresh').iceServers[0]!;
  const granted = await allocate(fresh.username!, fresh.credential!);
  assert.equal(granted.ok, true, JSON.stringify(granted));
  assert.match(granted.relayed ?? '', new RegExp(`^${coturn.address.replaceAll('.', '\\.')}:\\d+$`));

  const expired = issueTurnCredentials(options, 'console.probe.expired', Date.now() - 2 * 3600 * 1000).iceServers[0]!;
  assert.deepEqual(await allocate(expired.username!, expired.credential!), { ok: false, code: 401, reason: 'Unauthorized' });

  const forged = issueTurnCredentials({ ...options, secret: 'not-the-secret' }, 'console.probe.forged').iceServers[0]!;
  assert.equal((await allocate(forged.username!, forged.credential!)).code, 401);
});

test('with expired TURN credentials on both ends the console cannot reach an agent behind NAT, and says the TURN server refused them', async () => {
  // A second signaling server that issues no credentials: the console has only the expired ones
  // of its `ice` setting, the agent only expired static ones. One working relay end would be
  // enough (the other end's NAT address, learnt from coturn's STUN answer, is reachable from it).
  const bare = await startSignaling(net, 'cloud', 7301, ['--console-token', CONSOLE_TOKEN, '--agent-token', AGENT_TOKEN]);
  cleanups.push(() => bare.stop());
  const options = { urls: [coturn.url], secret: TURN_SECRET, ttlSeconds: 3600 };
  const twoHoursAgo = Date.now() - 2 * 3600 * 1000;
  const agentExpired = issueTurnCredentials(options, 'agent.expired', twoHoursAgo).iceServers[0]!;
  const second = await startAgent({
    netns: net.host('agent').ns,
    signalingUrl: bare.url,
    token: AGENT_TOKEN,
    agentId: `relay-expired-${net.runId}`,
    name: 'agent with expired TURN credentials',
    extraArgs: [
      '--ice-server',
      JSON.stringify({ urls: agentExpired.urls[0], username: agentExpired.username, credential: agentExpired.credential }),
    ],
  });
  cleanups.push(() => second.stop());
  extraAgents.push(second);
  const consoleExpired = issueTurnCredentials(options, 'console.expired', twoHoursAgo).iceServers[0]!;
  const ui = await consoleBrowser.open({ signal: bare.url, token: CONSOLE_TOKEN, ice: JSON.stringify([consoleExpired]) });
  const state = await waitFor(
    async () => {
      const current = await ui.agentState(second.agentId);
      return current.stage === 'failed' ? current : undefined;
    },
    'the connection to fail',
    60_000,
  );
  assert.match(state.text, /refused the credentials \(wrong or expired\)/, state.text);
  const refused = (user: string) => coturn.logs().some((line) => line.includes(user) && /401|Cannot find credentials/.test(line));
  assert.ok(refused(consoleExpired.username!), "coturn refused the console's allocation");
  assert.ok(refused(agentExpired.username!), "coturn refused the agent's allocation");
  assert.ok(
    second.logs().some((line) => line.includes('no TURN relay candidate')),
    'the agent logged that it has no relay',
  );
  assert.equal(agentLines(second).filter((line) => line.msg === 'peer connected').length, 0, 'no peer connection came up');
});
