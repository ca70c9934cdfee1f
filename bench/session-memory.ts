/**
 * Agent memory per session for `npm run bench`: its own agent (LAN endpoint, debug stats, GC
 * exposed), one container, werift consoles. RSS and heap after a full GC with N idle sessions,
 * minus the same after a warm-up with none, divided by N; once with a peer connection per
 * session (N operators), once with N tabs on one connection (one operator); then 100 sessions as
 * ten operators with ten tabs each, idle, and busy once each has written more than its resume log.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { patchedWerift } from '../harness/patched-werift.js';
import { startAgent } from '../harness/agent-process.js';
import { startContainer } from '../harness/docker.js';
import { debugStats } from './soak/probes.js';
import { unitNodeArgs } from './soak/unit-env.js';
import { enrollConsole, SoakPeer, type SoakTerminal } from './soak/soak-console.js';

const cli = fileURLToPath(new URL('../agent/dist/cli.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SessionMemory {
  sessions: number;
  baselineRssMB: number;
  /** per session, each on its own peer connection */
  rssPerSessionMB: number;
  heapPerSessionMB: number;
  /** per session, all as tabs of one peer connection */
  rssPerTabMB: number;
  heapPerTabMB: number;
  /** `crowd` sessions, CROWD_TABS_PER_PEER tabs per peer connection: per session, idle and busy */
  crowd: number;
  rssPerSessionCrowdIdleMB: number;
  rssPerSessionCrowdBusyMB: number;
  heapPerSessionCrowdBusyMB: number;
}

/** node flags of the shipped systemd unit (agent/systemd/tether-agent.service, NODE_OPTIONS) */
export const AGENT_NODE_ARGS = unitNodeArgs();

/** Tabs per peer connection when `crowd` sessions are opened (ten operators with ten tabs). */
const CROWD_TABS_PER_PEER = 10;
/** Output each busy session writes: more than its resume log (1 MiB) holds. */
const BUSY_OUTPUT_BYTES = 1_500_000;

/**
 * The agent runs with `nodeArgs` (default: the V8 flags of the shipped systemd unit, as the rest of
 * the bench) and `--expose-gc`, with `env` added to its environment.
 */
export async function sessionMemory(
  n = 20,
  crowd = 100,
  nodeArgs: string[] = AGENT_NODE_ARGS,
  env: Record<string, string> = {},
): Promise<SessionMemory> {
  const runId = randomBytes(3).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), `tether-bench-mem-${runId}-`));
  const container = await startContainer({ namePrefix: `tether-bench-mem-${runId}`, labels: { 'tether.benchmem': runId } });
  const agent = await startAgent({
    lanListen: '127.0.0.1:0',
    agentId: `bench-mem-${runId}`,
    name: 'bench memory agent',
    stateDir,
    nodeArgs: [...nodeArgs, '--expose-gc'],
    env: { TETHER_AGENT_DEBUG_STATS: '1', ...env },
    extraArgs: ['--label', `tether.benchmem=${runId}`, '--max-sessions-per-container', '0', '--log-level', 'info'],
  });
  // Peer connections still open when a phase fails: closed on the way out, or their sockets keep
  // the bench's process alive.
  const opened: SoakPeer[] = [];
  try {
    const w = await patchedWerift();
    const enrolled = await enrollConsole(cli, stateDir, `http://127.0.0.1:${agent.lanPort}`);
    const open = async (peer: SoakPeer): Promise<SoakTerminal> => {
      const term = await peer.terminal(container.name);
      await term.prompt();
      return term;
    };
    /** stats after GC once the agent holds no peer, settled */
    const idle = async () => {
      for (let i = 0; i < 60 && (await debugStats(agent)).peers > 0; i++) await sleep(500);
      // werift lets go of a closed connection's last buffers a few seconds after it closed
      await sleep(8000);
      return debugStats(agent);
    };
    // Warm-up: the first peer connection and session pay for code, certificates and caches.
    const warm = await SoakPeer.connect(w, enrolled.console, enrolled.agent);
    for (let i = 0; i < 3; i++) await (await open(warm)).close();
    await warm.close();

    const base1 = await idle();
    const peers = [];
    const terms: SoakTerminal[] = [];
    for (let i = 0; i < n; i++) {
      const peer = await SoakPeer.connect(w, enrolled.console, enrolled.agent);
      peers.push(peer);
      terms.push(await open(peer));
    }
    await sleep(2000);
    const loaded1 = await debugStats(agent);
    for (const t of terms.splice(0)) await t.close();
    for (const p of peers) await p.close();

    const base2 = await idle();
    const one = await SoakPeer.connect(w, enrolled.console, enrolled.agent);
    for (let i = 0; i < n; i++) terms.push(await open(one));
    await sleep(2000);
    const loaded2 = await debugStats(agent);
    for (const t of terms.splice(0)) await t.close();
    await one.close();

    // `crowd` sessions, idle after their prompt, then busy: each has written more output than
    // its resume log keeps, acknowledged by its console.
    const base3 = await idle();
    const crowdPeers: SoakPeer[] = [];
    for (let i = 0; i < crowd; i++) {
      if (i % CROWD_TABS_PER_PEER === 0) crowdPeers.push(await SoakPeer.connect(w, enrolled.console, enrolled.agent));
      opened.push(crowdPeers.at(-1)!);
      terms.push(await open(crowdPeers.at(-1)!));
    }
    await sleep(2000);
    const crowdIdle = await debugStats(agent);
    for (let i = 0; i < terms.length; i += CROWD_TABS_PER_PEER) {
      // ten sessions at a time write their output; the marker is split so that the echoed command does not hold it
      try {
        await Promise.all(
          terms
            .slice(i, i + CROWD_TABS_PER_PEER)
            .map((term, j) => term.run(`yes x | head -c ${BUSY_OUTPUT_BYTES}; echo BUSY""DONE${i + j}`, `BUSYDONE${i + j}`, 120_000)),
        );
      } catch (error) {
        // what the agent's side of the stuck sessions looked like: output flow and SCTP state
        const stats = (await debugStats(agent).catch(() => undefined)) as unknown as { figures?: Record<string, unknown> } | undefined;
        const stuck = Object.entries(stats?.figures ?? {}).filter(
          ([name, f]) => name.startsWith('peer:') || JSON.stringify(f).includes('"paused":true'),
        );
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}; agent figures: ${JSON.stringify(stuck).slice(0, 4000)}`,
          { cause: error },
        );
      }
    }
    await sleep(2000);
    const crowdBusy = await debugStats(agent);
    for (const t of terms) await t.close();
    for (const p of crowdPeers) await p.close();
    enrolled.console.close();

    const per = (loaded: number, base: number) => Math.round(((loaded - base) / n / 1e6) * 100) / 100;
    return {
      sessions: n,
      baselineRssMB: Math.round(base1.rssBytes / 1e5) / 10,
      rssPerSessionMB: per(loaded1.rssBytes, base1.rssBytes),
      heapPerSessionMB: per(loaded1.heapUsedBytes, base1.heapUsedBytes),
      rssPerTabMB: per(loaded2.rssBytes, base2.rssBytes),
      heapPerTabMB: per(loaded2.heapUsedBytes, base2.heapUsedBytes),
      crowd,
      rssPerSessionCrowdIdleMB: Math.round(((crowdIdle.rssBytes - base3.rssBytes) / crowd / 1e6) * 100) / 100,
      rssPerSessionCrowdBusyMB: Math.round(((crowdBusy.rssBytes - base3.rssBytes) / crowd / 1e6) * 100) / 100,
      heapPerSessionCrowdBusyMB: Math.round(((crowdBusy.heapUsedBytes - base3.heapUsedBytes) / crowd / 1e6) * 100) / 100,
    };
  } finally {
    await Promise.all(opened.map((p) => p.close().catch(() => undefined)));
    await agent.stop();
    await container.remove();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

// node --conditions=source --import tsx bench/session-memory.ts [sessions] [crowd] ['node flags'] [ENV=value ...]
// One measurement on its own (npm run bench runs it among the rest).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [n = '16', crowd = '100', flags, ...envs] = process.argv.slice(2);
  const env = Object.fromEntries(envs.map((kv) => kv.split('=', 2) as [string, string]));
  console.log(
    JSON.stringify(
      await sessionMemory(Number(n), Number(crowd), flags === undefined ? AGENT_NODE_ARGS : flags.split(' ').filter(Boolean), env),
    ),
  );
}
