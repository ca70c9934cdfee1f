/**
 * Two signaling nodes sharing a real redis-server: presence, relay, organisations, negotiation
 * ownership and revocation across nodes; a node killed (a child process, SIGKILL) behind a TCP
 * front: its agents reconnect to the other node, and a node's agents that never come back leave
 * no ghost; Redis lost: the node says so and ends its connections.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { appendRevocation, issueToken, startSignalingServer, type SignalingServer } from '@tether/signaling';
import { startRedisServer, type RedisServer } from '../../harness/redis-server.js';
import { startSignalingNode, type SignalingNode } from '../../harness/signaling-node.js';
import { startTcpFront } from '../../harness/tcp-front.js';
import { waitFor as pollUntil } from '../../harness/wait.js';
import { createJsonLogger } from '../src/log.js';
import { connect, emitAck, nextEvent, noEvent, presenceOf, SDP_ANSWER, SDP_OFFER, sid } from './support.js';

const SECRET = 'scale-out-test-secret-0123456789abcdef';
const NODE_TTL_MS = 1000;
/** Long enough for a dead node to be swept (its TTL and a heartbeat or two), on a busy machine. */
const CONVERGE_MS = 15_000;

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
});

const token = (role: 'console' | 'agent', org: string, subject: string) => {
  const issued = issueToken(SECRET, { role, org, subject });
  assert.ok(issued.ok);
  return issued.value.token;
};

type AgentList = { agents: { agentId: string; name: string }[] };
const ids = (presence: unknown) => (presence as AgentList).agents.map((a) => a.agentId);

/** Clients of one test, disconnected after it. */
class Clients {
  readonly #all: Socket[] = [];
  constructor(t: TestContext) {
    t.after(() => this.#all.forEach((socket) => socket.disconnect()));
  }

  socket(url: string, auth: Record<string, unknown>, reconnection = false): Socket {
    const socket = io(url, {
      auth,
      transports: ['websocket'],
      reconnection,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
      forceNew: true,
      autoConnect: false,
    });
    this.#all.push(socket);
    return socket;
  }

  async console(url: string, org = 'acme', subject = 'alice'): Promise<{ socket: Socket; presence: unknown }> {
    const socket = this.socket(url, { role: 'console', token: token('console', org, subject) });
    presenceOf(socket);
    const presence = nextEvent(socket, 'presence:snapshot');
    try {
      await connect(socket);
    } catch (error) {
      presence.catch(() => undefined); // refused: no presence will come
      throw error;
    }
    return { socket, presence: await presence };
  }

  async agent(url: string, agentId: string, org = 'acme', reconnection = false): Promise<Socket> {
    const socket = this.socket(
      url,
      { role: 'agent', token: token('agent', org, agentId), agentId, name: `host ${agentId}`, version: '0.1.0' },
      reconnection,
    );
    await connect(socket);
    return socket;
  }
}

/** Waits until the presence `socket` keeps (snapshot and diffs) satisfies `check`. */
function presenceUntil(socket: Socket, check: (agentIds: string[]) => boolean, timeoutMs = CONVERGE_MS): Promise<string[]> {
  return presenceOf(socket).until(check, timeoutMs);
}

/** Each test's nodes use their own key prefix, so that no test sees what an earlier one left in Redis. */
let cluster = 0;
const nextPrefix = () => `test${++cluster}:`;

async function twoNodes(
  t: TestContext,
  extra: { revocationsFiles?: [string, string] } = {},
): Promise<[SignalingServer, SignalingServer, string[], string]> {
  const logs: string[] = [];
  const prefix = nextPrefix();
  const a = await anotherNode(t, prefix, logs, 0, extra.revocationsFiles?.[0]);
  const b = await anotherNode(t, prefix, logs, 1, extra.revocationsFiles?.[1]);
  return [a, b, logs, prefix];
}

/** A node of the cluster named by `prefix`, in this process, closed after the test. */
async function anotherNode(
  t: TestContext,
  prefix: string,
  logs: string[],
  index: number,
  revocationsFile?: string,
): Promise<SignalingServer> {
  const node = await startSignalingServer({
    host: '127.0.0.1',
    port: 0,
    tokenSecrets: [SECRET],
    redisUrl: redis.url,
    redisPrefix: prefix,
    redisNodeTtlMs: NODE_TTL_MS,
    revocationsFile,
    logger: createJsonLogger({ level: 'debug', write: (line) => logs.push(`node${index} ${line}`) }),
    shedEventLoopDelayMs: Number.POSITIVE_INFINITY, // clients in this process, which do not retry
  });
  t.after(() => node.close());
  return node;
}

test('a console on one node sees the agents of the other, as they come and go', async (t) => {
  const [a, b] = await twoNodes(t);
  const clients = new Clients(t);
  const { socket: console1, presence } = await clients.console(a.url);
  assert.deepEqual(ids(presence), []);

  const arrived = presenceUntil(console1, (list) => list.includes('plc-b'));
  const agent = await clients.agent(b.url, 'plc-b');
  assert.deepEqual(await arrived, ['plc-b']);

  const { socket: late } = await clients.console(a.url);
  await presenceUntil(late, (list) => list.includes('plc-b'));
  assert.deepEqual(presenceOf(late).agents(), [{ agentId: 'plc-b', name: 'host plc-b', version: '0.1.0' }]);

  const both = presenceUntil(console1, (list) => list.length === 2);
  await clients.agent(a.url, 'plc-a');
  assert.deepEqual(await both, ['plc-a', 'plc-b']);

  const left = presenceUntil(console1, (list) => !list.includes('plc-b'));
  agent.disconnect();
  assert.deepEqual(await left, ['plc-a']);
});

/** Two nodes, a console on the first and an agent on the second, and the console's offer delivered: what the relay's tests start from. */
async function offeredAcrossNodes(t: TestContext) {
  const [a, b] = await twoNodes(t);
  const clients = new Clients(t);
  const { socket: console1 } = await clients.console(a.url);
  const agent = await clients.agent(b.url, 'plc-1');
  // Node a learns of an agent on node b through Redis, a moment after it connected there: a
  // console offers to agents it lists, so the test does too.
  await presenceUntil(console1, (list) => list.includes('plc-1'));
  const offered = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(console1, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER }), { ok: true });
  const offer = (await offered) as { sessionId: string; consoleId: string; sdp: string };
  return { clients, console1, agent, offer };
}

test('offer, answer, candidates and disconnect cross nodes both ways', async (t) => {
  const { console1, agent, offer } = await offeredAcrossNodes(t);
  assert.deepEqual([offer.sessionId, offer.sdp], [sid(1), SDP_OFFER]);
  assert.equal(offer.consoleId, console1.id);

  const consoleIce = nextEvent(agent, 'webrtc:ice');
  const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  assert.deepEqual(await emitAck(console1, 'webrtc:ice', { sessionId: sid(1), candidate }), { ok: true });
  assert.deepEqual(await consoleIce, { sessionId: sid(1), candidate });

  const answered = nextEvent(console1, 'webrtc:answer');
  assert.deepEqual(await emitAck(agent, 'webrtc:answer', { sessionId: sid(1), sdp: SDP_ANSWER }), { ok: true });
  assert.deepEqual(await answered, { sessionId: sid(1), sdp: SDP_ANSWER });

  const agentIce = nextEvent(console1, 'webrtc:ice');
  assert.deepEqual(await emitAck(agent, 'webrtc:ice', { sessionId: sid(1), candidate: null }), { ok: true });
  assert.deepEqual(await agentIce, { sessionId: sid(1), candidate: null });

  const ended = nextEvent(agent, 'webrtc:disconnect');
  assert.deepEqual(await emitAck(console1, 'webrtc:disconnect', { sessionId: sid(1), reason: 'tab closed' }), { ok: true });
  assert.deepEqual(await ended, { sessionId: sid(1), reason: 'tab closed' });
  assert.equal(
    ((await emitAck(agent, 'webrtc:ice', { sessionId: sid(1), candidate: null })) as { error: { code: string } }).error.code,
    'UNKNOWN_SESSION',
  );

  // A console leaving ends its negotiations with agents on the other node.
  await emitAck(console1, 'webrtc:offer', { sessionId: sid(2), agentId: 'plc-1', sdp: SDP_OFFER });
  const gone = nextEvent(agent, 'webrtc:disconnect');
  console1.disconnect();
  assert.deepEqual(await gone, { sessionId: sid(2), reason: 'console went offline', offline: true });
});

/** How many GETs Redis has served: the only GET a node makes is its read of a negotiation. */
const negotiationReads = () => commandCalls('get');

test('answers and candidates cross nodes without reading the negotiation from Redis, and in order', async (t) => {
  const { console1, agent } = await offeredAcrossNodes(t);

  // Each node knows the negotiation: node a recorded it, node b delivered its offer. A burst of
  // candidates each way (as trickle ICE sends them) waits for no Redis round trip in turn.
  const readsBefore = await negotiationReads();
  const burst = 20;
  const receivedBy = (socket: Socket) => {
    const seen: string[] = [];
    socket.on('webrtc:ice', (msg: { candidate: { candidate: string } }) => seen.push(msg.candidate.candidate));
    return seen;
  };
  const atAgent = receivedBy(agent);
  const atConsole = receivedBy(console1);
  const line = (n: number) => `candidate:${n} 1 udp 2122260223 127.0.0.1 ${50000 + n} typ host`;
  const answered = nextEvent(console1, 'webrtc:answer');
  assert.deepEqual(await emitAck(agent, 'webrtc:answer', { sessionId: sid(1), sdp: SDP_ANSWER }), { ok: true });
  await answered;
  const acks: Promise<unknown>[] = [];
  for (let n = 0; n < burst; n++) {
    const candidate = { candidate: line(n), sdpMid: '0', sdpMLineIndex: 0 };
    acks.push(emitAck(console1, 'webrtc:ice', { sessionId: sid(1), candidate }));
    acks.push(emitAck(agent, 'webrtc:ice', { sessionId: sid(1), candidate }));
  }
  for (const ack of await Promise.all(acks)) assert.deepEqual(ack, { ok: true });
  const expected = Array.from({ length: burst }, (_, n) => line(n));
  await pollUntil(() => atAgent.length === burst && atConsole.length === burst, 'every candidate, each way', CONVERGE_MS, 10);
  assert.deepEqual(atAgent, expected, `agent got ${JSON.stringify(atAgent)}`);
  assert.deepEqual(atConsole, expected, `console got ${JSON.stringify(atConsole)}`);
  assert.equal((await negotiationReads()) - readsBefore, 0, 'no negotiation was read from Redis for the answer and the candidates');

  // A negotiation ended on one node is ended on the other: the disconnect passed through it.
  const ended = nextEvent(agent, 'webrtc:disconnect');
  assert.deepEqual(await emitAck(console1, 'webrtc:disconnect', { sessionId: sid(1), reason: 'tab closed' }), { ok: true });
  await ended;
  const late = (await emitAck(agent, 'webrtc:ice', { sessionId: sid(1), candidate: null })) as { error?: { code: string } };
  assert.equal(late.error?.code, 'UNKNOWN_SESSION');
});

test("an agent's answer follows its console to another node after the console's node went away", async (t) => {
  const [a, b, logs, prefix] = await twoNodes(t);
  const c = await anotherNode(t, prefix, logs, 2);
  const clients = new Clients(t);
  const { socket: first } = await clients.console(c.url);
  const agent = await clients.agent(b.url, 'plc-1');
  await presenceUntil(first, (list) => list.includes('plc-1'));
  const offered = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(first, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER }), { ok: true });
  await offered;
  const heard = nextEvent(first, 'webrtc:ice');
  assert.deepEqual(await emitAck(agent, 'webrtc:ice', { sessionId: sid(1), candidate: null }), { ok: true });
  await heard;

  // Node c shuts down: its console's peers are not told (the console reconnects elsewhere and its
  // terminals carry on), so node b hears of no disconnect and still knows the old route.
  const agentHearsNothing = noEvent(agent, 'webrtc:disconnect', 300);
  await c.close();
  await agentHearsNothing;
  const { socket: again } = await clients.console(a.url);
  const reoffered = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(again, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER }), { ok: true });
  assert.equal(((await reoffered) as { consoleId: string }).consoleId, again.id);
  const answered = nextEvent(again, 'webrtc:answer');
  assert.deepEqual(await emitAck(agent, 'webrtc:answer', { sessionId: sid(1), sdp: SDP_ANSWER }), { ok: true });
  assert.deepEqual(await answered, { sessionId: sid(1), sdp: SDP_ANSWER });
});

/** How many times Redis has run a command (`INFO commandstats`). */
async function commandCalls(command: string): Promise<number> {
  const client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
  try {
    const stats = await client.info('commandstats');
    return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  } finally {
    client.disconnect();
  }
}

test('agents leaving one node at once reach the other node as a few deltas, and its consoles list exactly the rest', async (t) => {
  const [a, b] = await twoNodes(t);
  const clients = new Clients(t);
  const { socket: watcher } = await clients.console(a.url);
  const agentIds = Array.from({ length: 300 }, (_, i) => `plc-${String(i).padStart(3, '0')}`);
  const agents = await Promise.all(agentIds.map((agentId) => clients.agent(b.url, agentId)));
  await clients.agent(b.url, 'plc-stays');
  await presenceUntil(watcher, (list) => list.length === agentIds.length + 1);

  // What the nodes send Redis for the departures, as MONITOR sees it: commands a script runs are
  // its own step's, the rest are round trips.
  const monitor = await new Redis(redis.url).monitor();
  t.after(() => monitor.disconnect());
  const sent: string[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') sent.push(String(args[0]).toLowerCase());
  });
  const publishedBefore = await commandCalls('publish');
  for (const agent of agents) agent.disconnect();
  assert.deepEqual(await presenceUntil(watcher, (list) => list.length === 1), ['plc-stays']);
  const deltas = (await commandCalls('publish')) - publishedBefore;
  assert.ok(deltas >= 2 && deltas <= 30, `${deltas} presence deltas for 300 departures (one per step of up to 256)`);
  // Each departure's cleanup has three steps (its entry, its negotiations, the node's record of the
  // socket): three round trips per step of up to 256, where it was four or more per departure.
  const byCommand = new Map<string, number>();
  for (const command of sent) byCommand.set(command, (byCommand.get(command) ?? 0) + 1);
  assert.ok(
    sent.length < 100,
    `${sent.length} commands sent to Redis for 300 departures: ${[...byCommand].map((e) => e.join(' ')).join(', ')}`,
  );
  const { socket: late } = await clients.console(a.url);
  assert.deepEqual(await presenceUntil(late, (list) => list.length === 1), ['plc-stays']);
});

test('organisations and negotiation ownership hold across nodes', async (t) => {
  const [a, b] = await twoNodes(t);
  const clients = new Clients(t);
  const { socket: alice } = await clients.console(a.url, 'acme', 'alice');
  const { socket: bob } = await clients.console(b.url, 'acme', 'bob');
  const { socket: mallory, presence: malloryList } = await clients.console(b.url, 'globex', 'mallory');
  const agent = await clients.agent(b.url, 'plc-1', 'acme');
  const other = await clients.agent(a.url, 'plc-2', 'acme');
  assert.deepEqual(ids(malloryList), []);
  const malloryHears = noEvent(mallory, 'presence:diff', 300);
  await clients.agent(a.url, 'plc-9', 'acme');
  await malloryHears;

  const code = (reply: unknown) => (reply as { ok: boolean; error?: { code: string } }).error?.code;
  // Another organisation's agent is as offline as one that does not exist.
  assert.equal(code(await emitAck(mallory, 'webrtc:offer', { sessionId: sid(9), agentId: 'plc-1', sdp: SDP_OFFER })), 'AGENT_OFFLINE');

  const offered = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(alice, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER }), { ok: true });
  await offered;
  // Bob, on the other node, may neither take Alice's sessionId nor speak in her negotiation.
  const agentHears = noEvent(agent, 'webrtc:ice', 300);
  assert.equal(code(await emitAck(bob, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER })), 'FORBIDDEN');
  assert.equal(code(await emitAck(bob, 'webrtc:ice', { sessionId: sid(1), candidate: null })), 'FORBIDDEN');
  assert.equal(code(await emitAck(mallory, 'webrtc:disconnect', { sessionId: sid(1), reason: 'x' })), 'FORBIDDEN');
  await agentHears;
  // Alice may not move her sessionId to another agent; another agent may not answer it.
  assert.equal(code(await emitAck(alice, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-2', sdp: SDP_OFFER })), 'FORBIDDEN');
  const aliceHears = noEvent(alice, 'webrtc:answer', 300);
  assert.equal(code(await emitAck(other, 'webrtc:answer', { sessionId: sid(1), sdp: SDP_ANSWER })), 'FORBIDDEN');
  await aliceHears;
  assert.equal(code(await emitAck(bob, 'webrtc:ice', { sessionId: sid(7), candidate: null })), 'UNKNOWN_SESSION');
});

test('an agent reconnecting to another node replaces its older connection there', async (t) => {
  const [a, b] = await twoNodes(t);
  const clients = new Clients(t);
  const { socket: console1 } = await clients.console(a.url);
  const old = await clients.agent(a.url, 'plc-1');
  // Registered, as an agent that reconnects has long been: node a registers a connection a moment
  // after it connected, and of two registrations the later one wins, whichever connected first.
  await presenceUntil(console1, (list) => list.includes('plc-1'));
  const oldError = nextEvent(old, 'signal:error');
  const oldGone = nextEvent(old, 'disconnect');
  const newer = await clients.agent(b.url, 'plc-1');
  assert.equal(((await oldError) as { code: string }).code, 'FORBIDDEN');
  assert.equal(await oldGone, 'io server disconnect');

  const offered = nextEvent(newer, 'webrtc:offer');
  assert.deepEqual(await emitAck(console1, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER }), { ok: true });
  assert.equal(((await offered) as { sessionId: string }).sessionId, sid(1));
  const { socket: late } = await clients.console(b.url);
  assert.deepEqual(await presenceUntil(late, (list) => list.length === 1), ['plc-1']);
});

test("a token revoked in one node's file is refused and cut on every node", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-redis-revoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files: [string, string] = [join(dir, 'a.jsonl'), join(dir, 'b.jsonl')];
  const [, b, logs] = await twoNodes(t, { revocationsFiles: files });
  const clients = new Clients(t);
  t.after(() => {
    if (!agentCut) console.error(logs.filter((line) => /revo|tether:|error/.test(line)).join('\n'));
  });
  let agentCut = false;
  const agentToken = token('agent', 'acme', 'plc-1');
  const agent = clients.socket(b.url, { role: 'agent', token: agentToken, agentId: 'plc-1', name: 'x', version: '1' });
  await connect(agent);
  const cut = nextEvent(agent, 'signal:error', CONVERGE_MS);
  const jti = (JSON.parse(Buffer.from(agentToken.split('.')[1] ?? '', 'base64url').toString()) as { jti: string }).jti;
  assert.ok(appendRevocation(files[0], jti).ok);
  assert.equal(((await cut) as { code: string }).code, 'UNAUTHORIZED');
  agentCut = true;

  const again = clients.socket(b.url, { role: 'agent', token: agentToken, agentId: 'plc-1', name: 'x', version: '1' });
  await assert.rejects(connect(again), /was revoked/);
});

function startNodeProcess(t: TestContext, name: string, prefix: string): Promise<SignalingNode> {
  const started = startSignalingNode(name, {
    TETHER_SIGNALING_REDIS_PREFIX: prefix,
    TETHER_SIGNALING_TOKEN_SECRET: SECRET,
    TETHER_SIGNALING_REDIS_URL: redis.url,
    // Longer than a reconnection takes, so that the console below takes its negotiation over
    // before the dead node is swept (after the sweep, its offer would be a new negotiation).
    TETHER_SIGNALING_REDIS_NODE_TTL_MS: '3000',
  });
  t.after(async () => (await started).kill());
  return started;
}

test('a node killed: its agents reconnect through the front to the other, and leave no ghost', async (t) => {
  const prefix = nextPrefix();
  const nodeA = await startNodeProcess(t, 'nodeA', prefix);
  const nodeB = await startNodeProcess(t, 'nodeB', prefix);
  const front = await startTcpFront([
    { host: '127.0.0.1', port: nodeA.port },
    { host: '127.0.0.1', port: nodeB.port },
  ]);
  t.after(() => front.close());
  const clients = new Clients(t);

  front.prefer(0);
  const { socket: watcher } = await clients.console(front.url);
  front.prefer(1);
  // One agent that reconnects on its own, as tether-agent does, and one that never comes back.
  const survivor = await clients.agent(front.url, 'plc-survivor', 'acme', true);
  const listed = presenceUntil(watcher, (list) => list.includes('plc-survivor') && list.includes('plc-lost'));
  await clients.agent(front.url, 'plc-lost', 'acme', false);
  await listed;
  // A console on the node about to die, in the middle of a negotiation with an agent on the other.
  const roamer = clients.socket(front.url, { role: 'console', token: token('console', 'acme', 'roamer') }, true);
  await connect(roamer);
  // And an agent on the node that lives, which that console is negotiating with too: node A knows
  // the negotiation under the console's connection on node B.
  front.prefer(0);
  const anchor = await clients.agent(front.url, 'plc-anchor', 'acme', true);
  assert.deepEqual(front.choices, [0, 1, 1, 1, 0]);
  front.prefer(undefined);
  await presenceUntil(watcher, (list) => list.includes('plc-anchor'));
  const watcherOffered = nextEvent(survivor, 'webrtc:offer');
  assert.deepEqual(await emitAck(roamer, 'webrtc:offer', { sessionId: sid(5), agentId: 'plc-survivor', sdp: SDP_OFFER }), { ok: true });
  await watcherOffered;
  const anchorOffered = nextEvent(anchor, 'webrtc:offer');
  assert.deepEqual(await emitAck(roamer, 'webrtc:offer', { sessionId: sid(6), agentId: 'plc-anchor', sdp: SDP_OFFER }), { ok: true });
  await anchorOffered;
  const roamerHeard = nextEvent(roamer, 'webrtc:ice');
  assert.deepEqual(await emitAck(anchor, 'webrtc:ice', { sessionId: sid(6), candidate: null }), { ok: true });
  await roamerHeard;
  const roamerBack = new Promise<void>((resolve) => roamer.io.once('reconnect', () => resolve()));

  const reconnected = new Promise<void>((resolve) => survivor.io.once('reconnect', () => resolve()));
  const converged = presenceUntil(watcher, (list) => list.length === 2 && !list.includes('plc-lost'));
  await nodeB.kill();
  await reconnected;
  assert.equal(front.choices.at(-1), 0, 'the surviving node took the agent');

  // The reconnected console may repeat its offer (an ICE restart) on the same sessionId; no one else may.
  await roamerBack;
  const restarted = nextEvent(survivor, 'webrtc:offer');
  assert.deepEqual(await emitAck(roamer, 'webrtc:offer', { sessionId: sid(5), agentId: 'plc-survivor', sdp: SDP_OFFER }), { ok: true });
  assert.equal(((await restarted) as { consoleId: string }).consoleId, roamer.id);
  // The agents' answers go to the console's new connection, not to the one node A knew.
  const roamerAnswered = nextEvent(roamer, 'webrtc:answer');
  assert.deepEqual(await emitAck(survivor, 'webrtc:answer', { sessionId: sid(5), sdp: SDP_ANSWER }), { ok: true });
  assert.deepEqual(await roamerAnswered, { sessionId: sid(5), sdp: SDP_ANSWER });
  const anchorRestarted = nextEvent(anchor, 'webrtc:offer');
  assert.deepEqual(await emitAck(roamer, 'webrtc:offer', { sessionId: sid(6), agentId: 'plc-anchor', sdp: SDP_OFFER }), { ok: true });
  assert.equal(((await anchorRestarted) as { consoleId: string }).consoleId, roamer.id);
  const anchorAnswered = nextEvent(roamer, 'webrtc:answer');
  assert.deepEqual(await emitAck(anchor, 'webrtc:answer', { sessionId: sid(6), sdp: SDP_ANSWER }), { ok: true });
  assert.deepEqual(await anchorAnswered, { sessionId: sid(6), sdp: SDP_ANSWER });
  const { socket: intruder } = await clients.console(front.url, 'acme', 'intruder');
  const intruderReply = (await emitAck(intruder, 'webrtc:offer', { sessionId: sid(5), agentId: 'plc-survivor', sdp: SDP_OFFER })) as {
    error?: { code: string };
  };
  assert.equal(intruderReply.error?.code, 'FORBIDDEN');
  assert.ok(
    nodeA.logs().some((line) => line.includes('negotiation taken over')),
    'the offer took the negotiation over',
  );

  assert.deepEqual(await converged, ['plc-anchor', 'plc-survivor']);

  // The agent is reachable through the surviving node.
  const offered = nextEvent(survivor, 'webrtc:offer');
  assert.deepEqual(await emitAck(watcher, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-survivor', sdp: SDP_OFFER }), { ok: true });
  await offered;
  const { socket: late } = await clients.console(front.url);
  assert.deepEqual(await presenceUntil(late, (list) => list.length === 2), ['plc-anchor', 'plc-survivor']);
  assert.ok(
    nodeA.logs().some((line) => line.includes('removed a dead signaling node')),
    'node A swept node B',
  );
});

test('a node killed with many agents is swept in a few deltas, and consoles list exactly the rest', async (t) => {
  const prefix = nextPrefix();
  const dying = await startNodeProcess(t, 'dying', prefix);
  const survivor = await anotherNode(t, prefix, [], 0);
  const clients = new Clients(t);
  const { socket: watcher } = await clients.console(survivor.url);
  // Agents that never come back (no reconnection): only the sweep removes them.
  const agentIds = Array.from({ length: 300 }, (_, i) => `plc-${String(i).padStart(3, '0')}`);
  await Promise.all(agentIds.map((agentId) => clients.agent(dying.url, agentId)));
  await clients.agent(survivor.url, 'plc-stays');
  await presenceUntil(watcher, (list) => list.length === agentIds.length + 1);

  const publishedBefore = await commandCalls('publish');
  await dying.kill();
  assert.deepEqual(await presenceUntil(watcher, (list) => list.length === 1), ['plc-stays']);
  const deltas = (await commandCalls('publish')) - publishedBefore;
  assert.ok(deltas >= 2 && deltas <= 30, `${deltas} presence deltas for a dead node's 300 agents (one per step of up to 256)`);
  const { socket: late } = await clients.console(survivor.url);
  assert.deepEqual(await presenceUntil(late, (list) => list.length === 1), ['plc-stays']);
});

test('a node that stalled and was swept as dead notices, drops its clients and rejoins', async (t) => {
  const [a, b, logs, prefix] = await twoNodes(t);
  const clients = new Clients(t);
  const { socket: watcher } = await clients.console(b.url);
  const listed = presenceUntil(watcher, (list) => list.includes('plc-1'));
  const agent = await clients.agent(a.url, 'plc-1', 'acme', true);
  await listed;
  const { nodeId } = (await (await fetch(`${a.url}/healthz`)).json()) as { nodeId: string };

  // What another node does when it finds a node's heartbeat key expired (as after a long stall).
  const redisClient = new Redis(redis.url);
  t.after(() => redisClient.disconnect());
  const dropped = nextEvent(agent, 'disconnect', 5000);
  // The agent registers again when it reconnects: a join of its new connection, in the same diff as
  // its leave when it reconnects within one batch, else in a later one.
  const registered = new Promise<{ joins: { agentId: string }[] }>((resolve) => {
    const onDiff = (diff: { joins: { agentId: string }[] }) => {
      if (!diff.joins.some((j) => j.agentId === 'plc-1')) return;
      watcher.off('presence:diff', onDiff);
      resolve(diff);
    };
    watcher.on('presence:diff', onDiff);
  });
  await redisClient.multi().del(`${prefix}node:${nodeId}`).srem(`${prefix}nodes`, nodeId).exec();
  assert.equal(await dropped, 'transport close');
  assert.deepEqual(
    ((await registered) as { joins: { agentId: string }[] }).joins.map((a) => a.agentId),
    ['plc-1'],
  );
  const { nodeId: newId } = (await (await fetch(`${a.url}/healthz`)).json()) as { nodeId: string };
  assert.notEqual(newId, nodeId, 'the node rejoined under a new id');
  assert.ok(logs.some((line) => line.includes('taken for dead')));
  const offered = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(watcher, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER }), { ok: true });
  await offered;
});

test('a node that loses Redis says so, drops its connections and takes them back with Redis', async (t) => {
  const [a] = await twoNodes(t);
  const clients = new Clients(t);
  const healthOf = async () => {
    const res = await fetch(`${a.url}/healthz`);
    return { status: res.status, body: (await res.json()) as { ok: boolean; redis?: string } };
  };
  assert.deepEqual((await healthOf()).status, 200);
  // A client that reconnects on its own, as the console and the agent do.
  const console1 = clients.socket(a.url, { role: 'console', token: token('console', 'acme', 'alice') }, true);
  await connect(console1);
  const dropped = nextEvent(console1, 'disconnect', 5000);
  await redis.stop();
  try {
    assert.equal(await dropped, 'transport close', 'closed without a disconnect packet, so that it reconnects');
    const down = await healthOf();
    assert.deepEqual([down.status, down.body.ok, down.body.redis], [503, false, 'down']);
    const refused = clients.socket(a.url, { role: 'console', token: token('console', 'acme', 'bob') });
    await assert.rejects(connect(refused), /websocket error/);
  } finally {
    await redis.start();
  }
  const back = nextEvent(console1, 'presence:snapshot', CONVERGE_MS);
  const agent = await waitFor(() => clients.agent(a.url, 'plc-1'));
  assert.ok(Array.isArray(((await back) as AgentList).agents), 'the console reconnected by itself');
  assert.equal((await healthOf()).status, 200);
  const { socket: late } = await clients.console(a.url);
  assert.deepEqual(await presenceUntil(late, (list) => list.length === 1), ['plc-1']);
  agent.disconnect();
});

/** Retries `attempt` until it resolves, for at most CONVERGE_MS. */
async function waitFor<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + CONVERGE_MS;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

test('the server refuses to start when Redis cannot be reached, and says so without the password', async () => {
  await assert.rejects(
    startSignalingServer({
      host: '127.0.0.1',
      port: 0,
      tokenSecrets: [SECRET],
      redisUrl: 'redis://:hunter2-secret@127.0.0.1:1',
      logger: createJsonLogger({ level: 'silent' }),
    }),
    (error: Error) => {
      assert.match(error.message, /^cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1.*ECONNREFUSED/);
      assert.ok(!error.message.includes('hunter2'));
      return true;
    },
  );
});
