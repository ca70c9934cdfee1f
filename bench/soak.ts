/**
 * `npm run soak`: the built agent (agent/dist/cli.js) against real containers and werift consoles,
 * for long enough to see leaks. Phases: 1,000 open-and-close cycles; 50 busy sessions for 10
 * minutes; sessions whose connection drops without `close` (ended by the agent's resume grace).
 * After each: no process left in any container, and the agent's heap, RSS, descriptors, peers and
 * sessions back to the baseline within the tolerance. Prints a table, writes bench/soak-results.json,
 * exits 1 on a leak or an error. Options: `npm run soak -- --help`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { patchedWerift } from '../harness/patched-werift.js';
import { startAgent, type AgentProcess } from '../harness/agent-process.js';
import { docker, startContainer, type TestContainer } from '../harness/docker.js';
import { busySessions, droppedSessions, openCloseCycles, type Enrolled, type PhaseOutcome } from './soak/phases.js';
import { heapSnapshot, mallocTrim, settle, snapshot, type Snapshot, type Tolerance } from './soak/probes.js';
import { report, type PhaseResult, type SoakResults } from './soak/report.js';
import { enrollConsole } from './soak/soak-console.js';
import { unitAllocatorEnv, unitNodeArgs } from './soak/unit-env.js';
import { percentile, round } from './stats.js';

const HELP = `npm run soak -- [options]   (environment variable in brackets)
  --cycles <n>            open-and-close cycles [SOAK_CYCLES] (1000)
  --concurrency <n>       cycles running at once (4)
  --cycles-per-peer <n>   a fresh peer connection after this many cycles (25)
  --sessions <n>          busy sessions [SOAK_SESSIONS] (50)
  --peers <n>             peer connections the busy sessions share (10)
  --duration <dur>        how long the sessions stay busy, e.g. 1m [SOAK_DURATION] (10m)
  --interval <dur>        mean pause between two commands of a session (2s)
  --dropped <n>           sessions dropped without close (10)
  --resume-grace <dur>    the agent's resume grace for the run, where it has one (3s)
  --settle <dur>          how long the figures may take to come back (60s)
  --phases <list>         cycles,busy,dropped (all), in this order; a name may repeat
                          (busy,busy,busy: does RSS grow with the work or level off?)
  --agent-env <list>      KEY=VALUE,... the agent's allocator environment instead of the systemd
                          unit's (Environment=MALLOC_…), e.g. MALLOC_ARENA_MAX=2; none: glibc's defaults
  --trim                  at the end, call glibc's malloc_trim(0) in the agent (gdb) and
                          record RSS before and after: what malloc held free
  --heap-snapshots        a V8 heap snapshot of the agent at the baseline and after each
                          phase, in test-results/soak-heap/ (for a diff in Chrome's DevTools)
  --out <file>            results (bench/soak-results.json)
`;

const ms = (text: string): number => {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms'];
};

const names = [
  'cycles',
  'concurrency',
  'cycles-per-peer',
  'sessions',
  'peers',
  'duration',
  'interval',
  'dropped',
  'resume-grace',
  'settle',
  'phases',
  'agent-env',
  'out',
];
const options: Record<string, { type: 'string' | 'boolean' }> = {
  help: { type: 'boolean' },
  trim: { type: 'boolean' },
  'heap-snapshots': { type: 'boolean' },
};
for (const name of names) options[name] = { type: 'string' };
const values = parseArgs({ options }).values as Record<string, string | boolean | undefined>;
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
/** The unit's MALLOC_ settings unless told otherwise: the soak checks the agent as it ships. */
function agentEnv(option: string | undefined): Record<string, string> {
  if (option === undefined) return unitAllocatorEnv();
  if (option === 'none') return {};
  return Object.fromEntries(
    option
      .split(',')
      .filter(Boolean)
      .map((kv) => {
        const at = kv.indexOf('=');
        if (at <= 0) throw new Error(`--agent-env: not KEY=VALUE: ${kv}`);
        return [kv.slice(0, at), kv.slice(at + 1)];
      }),
  );
}
const opt = (key: string, env: string | undefined, fallback: string) => (values[key] as string | undefined) ?? env ?? fallback;
const config = {
  cycles: Number(opt('cycles', process.env.SOAK_CYCLES, '1000')),
  concurrency: Number(opt('concurrency', undefined, '4')),
  cyclesPerPeer: Number(opt('cycles-per-peer', undefined, '25')),
  sessions: Number(opt('sessions', process.env.SOAK_SESSIONS, '50')),
  peers: Number(opt('peers', undefined, '10')),
  durationMs: ms(opt('duration', process.env.SOAK_DURATION, '10m')),
  intervalMs: ms(opt('interval', undefined, '2s')),
  dropped: Number(opt('dropped', undefined, '10')),
  resumeGraceMs: ms(opt('resume-grace', undefined, '3s')),
  settleMs: ms(opt('settle', undefined, '60s')),
  phases: opt('phases', undefined, 'cycles,busy,dropped').split(','),
  agentEnv: agentEnv(values['agent-env'] as string | undefined),
  /** the unit's NODE_OPTIONS, which the agent runs with */
  agentNodeArgs: unitNodeArgs(),
  trim: values.trim === true,
  heapSnapshots: values['heap-snapshots'] === true,
  containers: 5,
  consoles: 4,
};
const unknownPhases = config.phases.filter((p) => !['cycles', 'busy', 'dropped'].includes(p));
if (unknownPhases.length > 0) throw new Error(`unknown phase(s) ${unknownPhases.join(', ')}: cycles, busy or dropped`);
/**
 * Tolerances, after a full GC in the agent, over the baseline taken after a warm-up: the V8 heap
 * 8 MB, memory outside it (Buffers, the sessions' output logs) 4 MB, active handles none, file
 * descriptors 6 (keep-alive sockets to the Docker engine come and go). RSS 48 MB: part of it never
 * comes back, and that part is not a leak (docs/operations.md, "RSS after the soak"): rounds of a
 * phase level off at +30 to +36 MB once V8 has shrunk its young generation, free memory glibc's
 * malloc keeps in its main heap (its top pinned by live blocks; malloc_trim(0) returns it).
 */
const tolerance: Tolerance = { heapBytes: 8e6, externalBytes: 4e6, rssBytes: 48e6, fds: 6 };
const outPath = values.out ? String(values.out) : fileURLToPath(new URL('./soak-results.json', import.meta.url));
const cli = fileURLToPath(new URL('../agent/dist/cli.js', import.meta.url));
/** the agent's log of the last run goes here, as the end-to-end tests' logs do */
const resultsDir = fileURLToPath(new URL('../test-results/', import.meta.url));
const heapDir = `${resultsDir}soak-heap`;
const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);

const results: SoakResults = {
  date: new Date().toISOString(),
  config: { ...config, tolerance },
  phases: [],
  errors: [],
};

async function main(): Promise<void> {
  const runId = randomBytes(3).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), `tether-soak-${runId}-`));
  const help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  const graceArgs = help.includes('--resume-grace') ? ['--resume-grace', `${config.resumeGraceMs}ms`] : [];
  results.resumeGrace = graceArgs.length > 0 ? config.resumeGraceMs : 'the agent has no resume grace: dropped sessions end at once';
  const containers: TestContainer[] = [];
  let agent: AgentProcess | undefined;
  // Ctrl-C: stop the agent (it ends its sessions) and remove the containers before leaving.
  process.once('SIGINT', () => {
    log('interrupted; cleaning up…');
    void (async () => {
      await agent?.stop();
      await Promise.all(containers.map((c) => c.remove()));
      rmSync(stateDir, { recursive: true, force: true });
      process.exit(130);
    })();
  });
  try {
    log(
      `starting ${config.containers} containers and the agent (run ${runId}; allocator environment: ${JSON.stringify(config.agentEnv)})…`,
    );
    for (let i = 0; i < config.containers; i++)
      containers.push(await startContainer({ namePrefix: `tether-soak-${runId}`, labels: { 'tether.soak': runId } }));
    agent = await startAgent({
      lanListen: '127.0.0.1:0',
      agentId: `soak-${runId}`,
      name: 'soak agent',
      stateDir,
      // the unit's node flags (NODE_OPTIONS), as it ships
      nodeArgs: [
        ...config.agentNodeArgs,
        '--expose-gc',
        ...(config.heapSnapshots ? [`--heapsnapshot-signal=SIGUSR1`, `--diagnostic-dir=${heapDir}`] : []),
      ],
      env: { ...config.agentEnv, TETHER_AGENT_DEBUG_STATS: '1' },
      extraArgs: [
        '--label',
        `tether.soak=${runId}`,
        '--max-sessions-per-container',
        '0',
        '--log-level',
        process.env.SOAK_AGENT_LOG_LEVEL ?? 'info',
        ...graceArgs,
      ],
    });
    const w = await patchedWerift();
    const url = `http://127.0.0.1:${agent.lanPort}`;
    const consoles: Enrolled[] = [];
    for (let i = 0; i < config.consoles; i++) consoles.push(await enrollConsole(cli, stateDir, url));
    const targets = containers.map((c) => c.name);
    results.versions = {
      node: process.version,
      docker: await docker('version', '--format', '{{.Server.Version}}').catch(() => null),
      werift: (
        JSON.parse(readFileSync(new URL('../agent/node_modules/werift/package.json', import.meta.url), 'utf8')) as { version: string }
      ).version,
      cpus: cpus().length,
    };
    results.agentStart = await snapshot(agent, containers);

    log('warm-up: 20 cycles, then the baseline');
    await openCloseCycles(w, consoles, targets, { cycles: 20, concurrency: 2, cyclesPerPeer: 10, log });
    const zero = { ...(results.agentStart as Snapshot), heapUsedBytes: Infinity, rssBytes: Infinity, fds: Infinity };
    const warm = await settle(agent, containers, zero, tolerance, config.settleMs);
    if (warm.leaks.length > 0) throw new Error(`the warm-up did not settle: ${warm.leaks.join('; ')}`);
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = await snapshot(agent, containers);
    results.baseline = baseline;
    // Writing a snapshot stops the agent for longer than Socket.IO's ping timeout: the consoles
    // connect and authenticate again afterwards.
    const snapshotHeap = async (label: string) => {
      await heapSnapshot(agent!, heapDir, label);
      for (const c of consoles) {
        await c.console.open(url);
        const ack = await c.console.auth();
        if (!ack.ok) throw new Error(`console not authenticated again after the heap snapshot: ${JSON.stringify(ack)}`);
      }
    };
    if (config.heapSnapshots) await snapshotHeap('baseline');

    const runPhase = async (name: string, kind: string, body: (sample: () => Promise<void>) => Promise<PhaseOutcome>) => {
      log(`phase ${name}…`);
      const t0 = performance.now();
      let peakRss = agent!.rssBytes();
      let peakSessions = 0;
      const sample = async () => {
        const s = await snapshot(agent!, []);
        peakRss = Math.max(peakRss, s.rssBytes);
        peakSessions = Math.max(peakSessions, s.sessions);
      };
      const timer = setInterval(() => {
        try {
          peakRss = Math.max(peakRss, agent!.rssBytes());
        } catch (error) {
          log(`agent RSS not readable (${String(error)}); is it still running?`);
        }
      }, 1000);
      let outcome: PhaseOutcome;
      try {
        outcome = await body(sample);
      } finally {
        clearInterval(timer);
      }
      const durationS = round((performance.now() - t0) / 1000, 1);
      log(`phase ${name} done in ${durationS} s; settling…`);
      const settled = await settle(
        agent!,
        containers,
        baseline,
        tolerance,
        config.settleMs + (kind === 'dropped' && graceArgs.length > 0 ? config.resumeGraceMs : 0),
      );
      const result: PhaseResult = {
        name,
        kind,
        durationS,
        work: outcome.work,
        errors: outcome.errors,
        extra: outcome.extra,
        latencyP50Ms: outcome.latenciesMs.length > 0 ? round(percentile(outcome.latenciesMs, 50), 1) : null,
        latencyP99Ms: outcome.latenciesMs.length > 0 ? round(percentile(outcome.latenciesMs, 99), 1) : null,
        peakRssBytes: peakRss,
        peakSessions,
        after: settled.snapshot,
        settledS: settled.settledS,
        leaks: settled.leaks,
      };
      results.phases.push(result);
      if (config.heapSnapshots) await snapshotHeap(name);
      log(
        `phase ${name}: ${result.leaks.length === 0 ? 'back to baseline' : `LEAK: ${result.leaks.join('; ')}`} after ${result.settledS} s; ${result.errors.length} errors`,
      );
    };

    const bodies: Record<string, (sample: () => Promise<void>) => Promise<PhaseOutcome>> = {
      cycles: () =>
        openCloseCycles(w, consoles, targets, {
          cycles: config.cycles,
          concurrency: config.concurrency,
          cyclesPerPeer: config.cyclesPerPeer,
          log,
        }),
      busy: (sample) =>
        busySessions(w, consoles, targets, {
          sessions: config.sessions,
          peers: config.peers,
          durationMs: config.durationMs,
          intervalMs: config.intervalMs,
          log,
          sample,
        }),
      dropped: () => droppedSessions(w, consoles, targets, config.dropped),
    };
    // A repeated phase is named by its round (busy, busy#2, …): RSS after each round tells a leak,
    // which grows with the work, from memory the allocators keep, which levels off.
    const rounds: Record<string, number> = {};
    for (const kind of config.phases) {
      rounds[kind] = (rounds[kind] ?? 0) + 1;
      await runPhase(rounds[kind] > 1 ? `${kind}#${rounds[kind]}` : kind, kind, bodies[kind]!);
    }
    if (config.trim) results.trim = await mallocTrim(agent, containers);
    for (const c of consoles) c.console.close();
  } catch (error) {
    results.errors.push(`soak aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    if (agent) console.error(`--- agent log tail ---\n${agent.logs().slice(-40).join('\n')}`);
  } finally {
    if (agent) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(`${resultsDir}soak-agent.log`, agent.logs().join('\n'));
    }
    await agent?.stop();
    if (process.env.SOAK_KEEP === '1') log(`containers kept: ${containers.map((c) => c.name).join(' ')}`);
    else await Promise.all(containers.map((c) => c.remove()));
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const started = performance.now();
await main();
results.durationS = round((performance.now() - started) / 1000, 1);
process.exit(report(results, outPath));
