/**
 * Presence across two nodes over a real redis-server, with a fleet (issue 20): the nodes exchange
 * presence as deltas (each published with its organisation's rev by the script that applies it),
 * and every console keeps a snapshot and diffs. After a storm of 2,000 simulated agents (split
 * over the nodes) a console on each node lists exactly the agents Redis holds; after one node is
 * SIGKILLed (its agents do not come back) the console on the other lists exactly the survivors,
 * as does a console that connects afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { startAgentSwarm, type AgentSwarm } from '../../harness/agent-swarm.js';
import { presenceOf } from '../../harness/presence-watch.js';
import { startRedisServer, type RedisServer } from '../../harness/redis-server.js';
import { startSignalingNode, type SignalingNode } from '../../harness/signaling-node.js';

const CONSOLE_TOKEN = 'fleet-console-token-0123456789';
const AGENT_TOKEN = 'fleet-agent-token-0123456789';
const PREFIX = 'fleet:';
const AGENTS = 2000;
/** Long enough for a storm and a dead node's sweep on a busy machine; a bound on the test, not a figure. */
const CONVERGE_MS = 120_000;

let redis: RedisServer;
let nodes: SignalingNode[];
let swarm: AgentSwarm;
let store: Redis;
const sockets: Socket[] = [];
/** set once both tests have seen what they waited for */
let converged = false;

async function consoleOn(url: string): Promise<Socket> {
  const socket = io(url, {
    auth: { role: 'console', token: CONSOLE_TOKEN },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    autoConnect: false,
  });
  sockets.push(socket);
  presenceOf(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
    socket.connect();
  });
  return socket;
}

/** The agentIds Redis holds for the legacy tokens' organisation, sorted as the watches sort them. */
async function inRedis(): Promise<string[]> {
  return (await store.hkeys(`${PREFIX}agents:default`)).sort((a, b) => a.localeCompare(b));
}

before(async () => {
  redis = await startRedisServer();
  store = new Redis(redis.url);
  const env = {
    TETHER_SIGNALING_CONSOLE_TOKENS: CONSOLE_TOKEN,
    TETHER_SIGNALING_AGENT_TOKENS: AGENT_TOKEN,
    TETHER_SIGNALING_MAX_CONNECTIONS_PER_ADDRESS: '0',
    TETHER_SIGNALING_REDIS_URL: redis.url,
    TETHER_SIGNALING_REDIS_PREFIX: PREFIX,
    // A node is swept as dead after this long without its heartbeat. The default (5 s), not a
    // shorter one: the swarm's agents do not reconnect, so a live node swept after a stall of a
    // loaded machine (0.8-0.9 s were seen with 1 s) would lose them and the lists never agree.
    // The killed node's sweep then takes up to 5 s of the test.
    TETHER_SIGNALING_REDIS_NODE_TTL_MS: '5000',
  };
  nodes = [await startSignalingNode('fleet0', env), await startSignalingNode('fleet1', env)];
  swarm = startAgentSwarm();
});

after(async () => {
  // What the nodes said beyond each connection: a sweep, a lost Redis, shed connections (a
  // storm that did not converge under load was seen twice; this says why).
  if (!converged) {
    const told = (nodes ?? []).flatMap((node) => node.logs()).filter((line) => /"level":"(warn|error)"/.test(line));
    console.error(`the nodes' warnings and errors (${told.length}):\n${told.slice(0, 200).join('\n')}`);
    console.error(`swarm connected; Redis holds ${(await inRedis().catch(() => [])).length} agents`);
  }
  for (const socket of sockets) socket.disconnect();
  await swarm?.stop();
  await Promise.all((nodes ?? []).map((node) => node.kill()));
  store?.disconnect();
  await redis?.stop();
});

test(`after a storm of ${AGENTS} agents over two nodes, a console on each lists exactly what Redis holds`, async () => {
  const [a, b] = [await consoleOn(nodes[0]!.url), await consoleOn(nodes[1]!.url)];
  await swarm.connect({ urls: nodes.map((node) => node.url), token: AGENT_TOKEN, prefix: 'fleet-', count: AGENTS });
  const listedA = await presenceOf(a).until((ids) => ids.length === AGENTS, CONVERGE_MS);
  const listedB = await presenceOf(b).until((ids) => ids.length === AGENTS, CONVERGE_MS);
  assert.deepEqual(listedA, listedB);
  assert.deepEqual(listedA, await inRedis());
  // Diffs, not lists: far fewer presence messages than agents.
  assert.ok(presenceOf(a).diffs.length < AGENTS / 4, `${presenceOf(a).diffs.length} diffs for ${AGENTS} agents`);
});

test("after one node is killed, the other node's console lists exactly the agents left, as does a new console", async () => {
  const [survivor] = sockets;
  await nodes[1]!.kill();
  // The swarm's agents alternate between the nodes: the even ones were on the survivor.
  const left = await presenceOf(survivor!).until((ids) => ids.length === AGENTS / 2, CONVERGE_MS);
  assert.ok(
    left.every((id) => Number(id.slice('fleet-'.length)) % 2 === 0),
    'only the agents of the node that lives',
  );
  assert.deepEqual(left, await inRedis());
  const late = await consoleOn(nodes[0]!.url);
  assert.deepEqual(await presenceOf(late).until((ids) => ids.length === AGENTS / 2, CONVERGE_MS), left);
  converged = true;
});
