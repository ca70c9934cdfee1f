/**
 * The signaling tier under a fleet (issue 20), for `npm run bench`, on loopback: `tether-signaling`
 * nodes from the built CLI (one, or two sharing a real redis-server), simulated agents in a child
 * process of their own (harness/agent-swarm.ts), ten consoles in this process that keep
 * presence as a console does (snapshot and diffs), and one real console in headless Chromium.
 *
 * For each fleet size and topology: a reconnect storm (every agent connecting at once, ten consoles
 * already connected) — how fast the agents got in, when every console saw every agent, the presence
 * bytes and messages each console got against one snapshot's size, the relay's latency meanwhile,
 * server and Redis CPU, memory per connection, consoles cut by the outbound bound; then a mass
 * departure (5,000 agents at once): the node's event-loop delay, read from /healthz meanwhile.
 * The figures go to bench/results.json under `signalingLoad`; bench/README.md says what each is.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import { startAgentSwarm } from '../harness/agent-swarm.js';
import { launchChromium, newLoggedPage } from '../harness/browser.js';
import { presenceOf } from '../harness/presence-watch.js';
import { LOOP_MONITOR_MS, loopDelayP99Ms, startRelayProbe } from '../harness/relay-probe.js';
import { startRedisServer, type RedisServer } from '../harness/redis-server.js';
import { ensureRendererBuilt } from '../harness/renderer-build.js';
import { startSignalingNode, type SignalingNode } from '../harness/signaling-node.js';
import { serveDirectory } from '../harness/static-server.js';
import { percentile, round } from './stats.js';

const CONSOLE_TOKEN = 'load-console-token-0123456789';
const AGENT_TOKEN = 'load-agent-token-0123456789';
export const FLEET_SIZES = [1000, 5000, 10_000] as const;
const CONSOLES = 10;
const DEPARTING = 5000;
/** A storm that has not converged by then is reported as an error. */
const STORM_LIMIT_MS = 180_000;
/** A candidate every 5 ms: 550–600 samples in a storm of 5,000, so that the p99 is not one or two of them. */
const RELAY_PROBE_MS = 5;

export interface StormFigures {
  agents: number;
  nodes: 1 | 2;
  /** from the first connect to the last agent connected */
  agentsConnectMs: number;
  connectsPerSecond: number;
  /** attempts refused on the way (a busy node answers 503 with Retry-After before the upgrade) */
  refusedHandshakes: number;
  /** from the first connect until the last of the consoles listed every agent */
  consolesSeeAllMs: number;
  /** consolesSeeAllMs / agentsConnectMs (goal ≤ 2) */
  seeAllRatio: number;
  /** presence bytes (snapshot and diffs, as sent) the busiest console got during the storm */
  presenceBytesPerConsole: number;
  presenceMessagesPerConsole: number;
  /** one snapshot of the whole fleet, as sent */
  snapshotBytes: number;
  /** presenceBytesPerConsole / snapshotBytes (goal ≤ 2) */
  bytesRatio: number;
  relayP50Ms: number | null;
  relayP99Ms: number | null;
  relaySamples: number;
  /** the highest event-loop delay p99 a node reported in /healthz during the storm (where a relay's wait can come from) */
  stormEventLoopDelayP99Ms: number;
  /** the event-loop delay p99 of this process (the ten consoles, Chromium's driver) during the storm */
  benchEventLoopDelayP99Ms: number;
  /** the relay probe's process's own event-loop delay p99 during the storm: the part of relayP99Ms that is not the signaling tier's */
  probeEventLoopDelayP99Ms: number;
  /** CPU of the node(s), summed, and of Redis, in % of one core over the storm */
  serverCpuPct: number;
  /** the nodes' CPU time over the storm divided by the agents */
  serverCpuMsPerAgent: number;
  redisCpuPct: number | null;
  /** the nodes' RSS growth over the storm divided by the agents */
  serverKBPerConnection: number;
  /** consoles disconnected during the storm, and connections the nodes ended for not reading */
  consolesCut: number;
  connectionsEnded: number;
  /** the Chromium console (single node only): its longest frame while it applied the storm, and when it listed every agent */
  chromiumLongestFrameMs: number | null;
  chromiumSeeAllMs: number | null;
  /** the departure of DEPARTING agents at once (fleets of at least that many) */
  departure: DepartureFigures | null;
}

export interface DepartureFigures {
  agents: number;
  /** the highest event-loop delay p99 (and max) a node reported in /healthz's 500 ms windows meanwhile */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** the slowest /healthz answer meanwhile */
  healthzMaxMs: number;
  /** CPU time the nodes used (summed) from the departure until every console listed the rest: less sensitive to a shared machine than the delays */
  serverCpuMs: number;
  /** until every console listed the agents that were left */
  consolesSeeDepartureMs: number;
  presenceBytesPerConsole: number;
}

function rssKB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Polls every node's /healthz every 100 ms until stopped: the highest event-loop delay p99 and max reported, the slowest answer. */
function watchHealth(nodes: SignalingNode[]): { stop(): Promise<{ p99: number; max: number; healthzMax: number }> } {
  const seen = { p99: 0, max: 0, healthzMax: 0 };
  let polling = true;
  const poll = (async () => {
    while (polling) {
      for (const node of nodes) {
        const t0 = performance.now();
        const health = (await (await fetch(`${node.url}/healthz`)).json()) as {
          eventLoopDelayP99Ms?: number;
          eventLoopDelayMaxMs?: number;
        };
        seen.healthzMax = Math.max(seen.healthzMax, performance.now() - t0);
        seen.p99 = Math.max(seen.p99, health.eventLoopDelayP99Ms ?? 0);
        seen.max = Math.max(seen.max, health.eventLoopDelayMaxMs ?? 0);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      polling = false;
      await poll;
      return seen;
    },
  };
}

/** A console of the bench: its presence, and the presence bytes and messages it received. */
interface LoadConsole {
  socket: Socket;
  bytes: number;
  messages: number;
  cut: boolean;
}

async function connectConsole(url: string): Promise<LoadConsole> {
  const socket = io(url, {
    auth: { role: 'console', token: CONSOLE_TOKEN },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    autoConnect: false,
  });
  presenceOf(socket);
  const load: LoadConsole = { socket, bytes: 0, messages: 0, cut: false };
  socket.io.on('open', () => {
    socket.io.engine.on('packet', (packet: { type: string; data?: unknown }) => {
      if (packet.type !== 'message' || typeof packet.data !== 'string' || !packet.data.startsWith('2["presence:')) return;
      load.bytes += packet.data.length;
      load.messages++;
    });
  });
  socket.on('disconnect', () => (load.cut = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
    socket.connect();
  });
  await presenceOf(socket).until(() => true, 10_000);
  return load;
}

/** Waits until every console lists `count` agents; resolves with the time (performance.now()) the last one did. */
async function allSee(consoles: LoadConsole[], count: number): Promise<number> {
  const times = await Promise.all(
    consoles.map(async ({ socket }) => {
      await presenceOf(socket).until((ids) => ids.length === count, STORM_LIMIT_MS);
      return performance.now();
    }),
  );
  return Math.max(...times);
}

/** Records the page's longest frame from now on (requestAnimationFrame gaps and long animation frames). */
async function watchFrames(page: Page): Promise<void> {
  // A string, not a function: the page must not see the bundler's helpers.
  await page.evaluate(`(() => {
    window.__longestFrame = 0;
    let last = performance.now();
    const tick = (now) => {
      window.__longestFrame = Math.max(window.__longestFrame, now - last);
      last = now;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__longestFrame = Math.max(window.__longestFrame, entry.duration);
    }).observe({ type: 'long-animation-frame', buffered: false });
  })()`);
}

async function pageCount(page: Page): Promise<number> {
  const text = await page.locator('[data-testid="device-counts"] [data-state="online"]').getAttribute('data-count');
  return Number(text ?? 0);
}

async function storm(agents: number, nodeCount: 1 | 2, chromium: boolean): Promise<StormFigures> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    let redis: RedisServer | undefined;
    const env: Record<string, string> = {
      TETHER_SIGNALING_CONSOLE_TOKENS: CONSOLE_TOKEN,
      TETHER_SIGNALING_AGENT_TOKENS: AGENT_TOKEN,
      // Every simulated client comes from 127.0.0.1.
      TETHER_SIGNALING_MAX_CONNECTIONS_PER_ADDRESS: '0',
      // For docs/scale-out.md's comparison of the adapters; the default otherwise.
      ...(process.env['TETHER_SIGNALING_REDIS_ADAPTER']
        ? { TETHER_SIGNALING_REDIS_ADAPTER: process.env['TETHER_SIGNALING_REDIS_ADAPTER'] }
        : {}),
    };
    if (nodeCount === 2) {
      redis = await startRedisServer();
      cleanups.push(() => redis!.stop());
      env['TETHER_SIGNALING_REDIS_URL'] = redis.url;
    }
    const nodes: SignalingNode[] = [];
    // At the CLI's default level: a line per connection, as a deployment logs.
    for (let i = 0; i < nodeCount; i++) nodes.push(await startSignalingNode(`load${i}`, env, { logLevel: 'info' }));
    cleanups.push(() => Promise.all(nodes.map((node) => node.kill())));
    const urls = nodes.map((node) => node.url);

    const consoles: LoadConsole[] = [];
    for (let i = 0; i < CONSOLES; i++) consoles.push(await connectConsole(urls[i % urls.length]!));
    cleanups.push(async () => consoles.forEach(({ socket }) => socket.disconnect()));
    // The relay probe, in a process of its own: a console on the first node, an agent on the last
    // (across Redis with two).
    const probe = startRelayProbe();
    cleanups.push(() => probe.close());
    await probe.connect({
      consoleUrl: urls[0]!,
      agentUrl: urls.at(-1)!,
      consoleToken: CONSOLE_TOKEN,
      agentToken: AGENT_TOKEN,
      intervalMs: RELAY_PROBE_MS,
    });
    await allSee(consoles, 1);

    let page: Page | undefined;
    if (chromium) {
      const root = await ensureRendererBuilt();
      const site = await serveDirectory(root);
      cleanups.push(() => site.close());
      const browser = await launchChromium();
      cleanups.push(() => browser.close());
      page = await newLoggedPage(browser, []);
      await page.goto(`${site.url}/index.html?signal=${encodeURIComponent(urls[0]!)}&token=${encodeURIComponent(CONSOLE_TOKEN)}&test=1`);
      await page.locator('[data-testid="device-counts"] [data-state="online"][data-count="1"]').waitFor({ timeout: 30_000 });
      await watchFrames(page);
    }

    const swarm = startAgentSwarm();
    cleanups.push(() => swarm.stop());
    for (const c of consoles) Object.assign(c, { bytes: 0, messages: 0 });
    const rssBefore = nodes.reduce((sum, node) => sum + rssKB(node.pid), 0);
    const cpuBefore = nodes.reduce((sum, node) => sum + cpuSeconds(node.pid), 0);
    const redisPid = redis?.pid();
    const redisCpuBefore = redisPid ? cpuSeconds(redisPid) : 0;
    probe.measure();
    const stormHealth = watchHealth(nodes);
    const benchDelay = monitorEventLoopDelay({ resolution: LOOP_MONITOR_MS });
    benchDelay.enable();
    const started = performance.now();
    if (process.env['TETHER_BENCH_NODE_PROFILE_DIR']) console.log(`[bench] storm at ${process.hrtime.bigint() / 1000n} µs (monotonic)`);
    const connected = swarm.connect({ urls, token: AGENT_TOKEN, prefix: 'swarm-', count: agents });
    let chromiumSeeAll: Promise<number | null> = Promise.resolve(null);
    if (page) {
      const watched = page;
      chromiumSeeAll = (async () => {
        while ((await pageCount(watched)) < agents + 1) {
          if (performance.now() - started > STORM_LIMIT_MS) return null;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return performance.now() - started;
      })();
    }
    const { ms: connectMs, refusals } = await connected;
    const seeAll = await allSee(consoles, agents + 1);
    const { samples: relay, probeEventLoopDelayP99Ms } = await probe.stop();
    benchDelay.disable();
    const stormDelay = await stormHealth.stop();
    const elapsedS = (performance.now() - started) / 1000;
    const serverCpu = nodes.reduce((sum, node) => sum + cpuSeconds(node.pid), 0) - cpuBefore;
    const redisCpu = redisPid ? cpuSeconds(redisPid) - redisCpuBefore : undefined;
    const chromiumSeeAllMs = await chromiumSeeAll;
    const longestFrame = page ? ((await page.evaluate('window.__longestFrame')) as number) : null;
    const rssAfter = nodes.reduce((sum, node) => sum + rssKB(node.pid), 0);
    const busiest = consoles.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const stormBytes = busiest.bytes;
    const stormMessages = busiest.messages;
    const snapshot = presenceOf(consoles[0]!.socket);
    const snapshotBytes = `2${JSON.stringify(['presence:snapshot', { seq: snapshot.replica.seq ?? 0, agents: snapshot.agents() }])}`.length;
    const ended = nodes.reduce(
      (sum, node) => sum + node.logs().filter((line) => line.includes('it does not read what the server sends')).length,
      0,
    );

    let departure: DepartureFigures | null = null;
    if (agents >= DEPARTING) {
      for (const c of consoles) Object.assign(c, { bytes: 0, messages: 0 });
      const health = watchHealth(nodes);
      const departureCpuBefore = nodes.reduce((sum, node) => sum + cpuSeconds(node.pid), 0);
      const departed = performance.now();
      // For a profile of the nodes (TETHER_BENCH_NODE_PROFILE_DIR): when the departure began, in the profile's clock.
      if (process.env['TETHER_BENCH_NODE_PROFILE_DIR'])
        console.log(`[bench] departure at ${process.hrtime.bigint() / 1000n} µs (monotonic)`);
      await swarm.disconnect(DEPARTING);
      await allSee(consoles, agents + 1 - DEPARTING);
      const consolesSeeDepartureMs = performance.now() - departed;
      const departureCpuMs = 1000 * (nodes.reduce((sum, node) => sum + cpuSeconds(node.pid), 0) - departureCpuBefore);
      // The windows that cover the end of it: /healthz reports the last whole 1 s window, and the
      // sample of a stall is recorded when it ends, possibly into the window after; one second
      // was not always enough to see it.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const { p99, max, healthzMax } = await health.stop();
      departure = {
        agents: DEPARTING,
        eventLoopDelayP99Ms: round(p99, 1),
        eventLoopDelayMaxMs: round(max, 1),
        healthzMaxMs: round(healthzMax, 1),
        serverCpuMs: round(departureCpuMs, 0),
        consolesSeeDepartureMs: round(consolesSeeDepartureMs, 0),
        presenceBytesPerConsole: consoles.reduce((a, b) => Math.max(a, b.bytes), 0),
      };
    }

    return {
      agents,
      nodes: nodeCount,
      agentsConnectMs: round(connectMs, 0),
      connectsPerSecond: round(agents / (connectMs / 1000), 0),
      refusedHandshakes: refusals,
      consolesSeeAllMs: round(seeAll - started, 0),
      seeAllRatio: round((seeAll - started) / connectMs, 2),
      presenceBytesPerConsole: stormBytes,
      presenceMessagesPerConsole: stormMessages,
      snapshotBytes,
      bytesRatio: round(stormBytes / snapshotBytes, 2),
      relayP50Ms: relay.length > 0 ? round(percentile(relay, 50), 2) : null,
      relayP99Ms: relay.length > 0 ? round(percentile(relay, 99), 2) : null,
      relaySamples: relay.length,
      stormEventLoopDelayP99Ms: round(stormDelay.p99, 1),
      benchEventLoopDelayP99Ms: round(loopDelayP99Ms(benchDelay), 1),
      probeEventLoopDelayP99Ms: round(probeEventLoopDelayP99Ms, 1),
      serverCpuPct: round((100 * serverCpu) / elapsedS, 0),
      serverCpuMsPerAgent: round((1000 * serverCpu) / agents, 3),
      redisCpuPct: redisCpu === undefined ? null : round((100 * redisCpu) / elapsedS, 0),
      serverKBPerConnection: round((rssAfter - rssBefore) / agents, 1),
      consolesCut: consoles.filter((c) => c.cut).length,
      connectionsEnded: ended,
      chromiumLongestFrameMs: longestFrame === null ? null : round(longestFrame, 1),
      chromiumSeeAllMs: chromiumSeeAllMs === null ? null : round(chromiumSeeAllMs, 0),
      departure,
    };
  } finally {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((error: unknown) => console.error(`[bench] signaling load cleanup: ${String(error)}`));
  }
}

/** Every storm, smallest first; one that fails is reported and the others still run. */
export async function measureSignalingLoad(
  sizes: readonly number[] = FLEET_SIZES,
  onError: (label: string, error: unknown) => void = () => undefined,
  topologies: readonly (1 | 2)[] = [1, 2],
): Promise<StormFigures[]> {
  const figures: StormFigures[] = [];
  for (const nodes of topologies) {
    for (const agents of sizes) {
      const label = `signaling load: ${agents} agents, ${nodes} node${nodes === 1 ? '' : 's'}`;
      console.log(`[bench] ${label}…`);
      try {
        figures.push(await storm(agents, nodes, nodes === 1));
      } catch (error) {
        onError(label, error);
      }
    }
  }
  return figures;
}

// `node --conditions=source --import tsx bench/signaling-load.ts [--nodes 1|2] [sizes…]`: this part of the bench alone.
if (process.argv[1]?.endsWith('signaling-load.ts')) {
  const args = process.argv.slice(2);
  const nodesAt = args.indexOf('--nodes');
  const topologies = nodesAt >= 0 ? [Number(args.splice(nodesAt, 2)[1]) as 1 | 2] : ([1, 2] as const);
  const sizes = args.map(Number).filter((n) => n > 0);
  const figures = await measureSignalingLoad(
    sizes.length > 0 ? sizes : FLEET_SIZES,
    (label, error) => console.error(`[bench] ERROR ${label}: ${String(error)}`),
    topologies,
  );
  console.log(JSON.stringify(figures, null, 2));
}
