/**
 * Signaling scale-out figures for `npm run bench`: the relay's latency on one node and across two
 * nodes sharing a real redis-server, and how long a killed node takes to stop mattering (its agent
 * listed again through the other node; its agent that does not come back removed from the list).
 * No browser and no agent process: socket.io-client stands for both ends.
 */
import { issueToken, startSignalingServer, type SignalingServer } from '@tether/signaling';
import { io, type Socket } from 'socket.io-client';
import { presenceOf } from '../harness/presence-watch.js';
import { startRedisServer } from '../harness/redis-server.js';
import { startSignalingNode } from '../harness/signaling-node.js';
import { startTcpFront } from '../harness/tcp-front.js';
import { percentile, round } from './stats.js';

const SECRET = 'bench-scale-out-secret-0123456789abcdef';
const RELAY_SAMPLES = 300;
const WAIT_MS = 30_000;

export interface ScaleOutFigures {
  relayP50Ms: number;
  relayP99Ms: number;
  crossNodeRelayP50Ms: number;
  crossNodeRelayP99Ms: number;
  /** SIGKILL of the agent's node → an offer from a console on the other node reaches the agent again (it reconnected through the front) */
  nodeDeathToReachableMs: number;
  /** SIGKILL of a node → its agent that does not reconnect gone from the list (default node TTL, 5 s) */
  nodeDeathToGhostGoneMs: number;
}

const token = (role: 'console' | 'agent', subject: string) => {
  const issued = issueToken(SECRET, { role, org: 'bench', subject });
  if (!issued.ok) throw new Error(String(issued.error));
  return issued.value.token;
};

function client(url: string, auth: Record<string, unknown>, reconnection = false): Promise<Socket> {
  const socket = io(url, {
    auth,
    transports: ['websocket'],
    forceNew: true,
    reconnection,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  if (auth['role'] === 'console') presenceOf(socket); // before its snapshot arrives
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const agentAuth = (agentId: string) => ({ role: 'agent', token: token('agent', agentId), agentId, name: agentId, version: 'bench' });

/** Time from a console's `webrtc:ice` to its arrival at the agent, `RELAY_SAMPLES` times. */
export async function relayLatency(consoleUrl: string, agentUrl: string): Promise<number[]> {
  const agentId = `relay-${Math.random().toString(36).slice(2, 8)}`;
  const agent = await client(agentUrl, agentAuth(agentId));
  const console = await client(consoleUrl, { role: 'console', token: token('console', 'bench') });
  try {
    const sessionId = `bench-${agentId}`;
    // The agent may be listed on the console's node a moment after it connected elsewhere.
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const reply = (await console.timeout(5000).emitWithAck('webrtc:offer', { sessionId, agentId, sdp: 'v=0\r\n' })) as { ok: boolean };
      if (reply.ok) break;
      if (Date.now() > deadline) throw new Error('the agent never became reachable');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const samples: number[] = [];
    for (let i = 0; i < RELAY_SAMPLES; i++) {
      const arrived = new Promise<void>((resolve) => agent.once('webrtc:ice', () => resolve()));
      const t0 = performance.now();
      console.emit('webrtc:ice', { sessionId, candidate: null });
      await arrived;
      samples.push(performance.now() - t0);
      // Under the relay's 100 messages/s per connection.
      await new Promise((resolve) => setTimeout(resolve, 12));
    }
    return samples;
  } finally {
    agent.disconnect();
    console.disconnect();
  }
}

/** Resolves with the time at which the console's presence first satisfies `check`. */
async function listedUntil(console: Socket, check: (ids: string[]) => boolean): Promise<number> {
  await presenceOf(console).until(check, WAIT_MS);
  return performance.now();
}

/** Offers to the agent every 100 ms until one reaches it; resolves to when one did. */
async function reachableAgain(console: Socket, agent: Socket): Promise<number> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    let onOffer: () => void = () => undefined;
    const reached = new Promise<boolean>((resolve) => {
      onOffer = () => resolve(true);
      agent.once('webrtc:offer', onOffer);
      setTimeout(() => resolve(false), 100);
    });
    if (console.connected) console.emit('webrtc:offer', { sessionId: 'bench-reach-0001', agentId: 'survivor', sdp: 'v=0\r\n' });
    const ok = await reached;
    agent.off('webrtc:offer', onOffer);
    if (ok) return performance.now();
  }
  throw new Error('the agent was not reachable again');
}

export async function measureScaleOut(): Promise<ScaleOutFigures> {
  const redis = await startRedisServer();
  const servers: SignalingServer[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const single = await startSignalingServer({ host: '127.0.0.1', port: 0, tokenSecrets: [SECRET] });
    servers.push(single);
    const relay = await relayLatency(single.url, single.url);
    const [a, b] = [
      await startSignalingServer({ host: '127.0.0.1', port: 0, tokenSecrets: [SECRET], redisUrl: redis.url }),
      await startSignalingServer({ host: '127.0.0.1', port: 0, tokenSecrets: [SECRET], redisUrl: redis.url }),
    ];
    servers.push(a, b);
    const crossNode = await relayLatency(a.url, b.url);

    const env = {
      TETHER_SIGNALING_TOKEN_SECRET: SECRET,
      TETHER_SIGNALING_REDIS_URL: redis.url,
      TETHER_SIGNALING_REDIS_PREFIX: 'bench-kill:',
    };
    const nodes = [await startSignalingNode('bench0', env), await startSignalingNode('bench1', env)];
    cleanups.push(() => Promise.all(nodes.map((node) => node.kill())));
    const front = await startTcpFront(nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
    cleanups.push(() => front.close());
    front.prefer(0);
    const watcher = await client(front.url, { role: 'console', token: token('console', 'watcher') });
    cleanups.push(async () => watcher.disconnect());
    front.prefer(1);
    const listed = listedUntil(watcher, (ids) => ids.includes('survivor') && ids.includes('ghost'));
    const survivor = await client(front.url, agentAuth('survivor'), true);
    const ghost = await client(front.url, agentAuth('ghost'));
    cleanups.push(async () => [survivor, ghost].forEach((socket) => socket.disconnect()));
    await listed;
    front.prefer(undefined);

    const ghostGone = listedUntil(watcher, (ids) => !ids.includes('ghost'));
    const killedAt = performance.now();
    await nodes[1]!.kill();
    const reachable = await reachableAgain(watcher, survivor);
    return {
      relayP50Ms: round(percentile(relay, 50), 3),
      relayP99Ms: round(percentile(relay, 99), 3),
      crossNodeRelayP50Ms: round(percentile(crossNode, 50), 3),
      crossNodeRelayP99Ms: round(percentile(crossNode, 99), 3),
      nodeDeathToReachableMs: round(reachable - killedAt, 0),
      nodeDeathToGhostGoneMs: round((await ghostGone) - killedAt, 0),
    };
  } finally {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((error: unknown) => console.error(`[bench] scale-out cleanup: ${String(error)}`));
    await Promise.all(servers.map((server) => server.close()));
    await redis.stop();
  }
}
