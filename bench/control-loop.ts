/**
 * The control loop beside a debug session, for `npm run bench` (issue 17): a cyclic task in a test
 * container (harness/cyclic-task.c: a 2 ms tick, 1 ms of work, as a PLC scan at 50 % load)
 * measured three ways, 2500 cycles each: alone; while a Tether session (the built agent, a werift
 * console, the agent's default standing) runs two CPU hogs, an I/O hog and a memory hog; and while
 * plain `docker exec` runs the same hogs as the same user; three rounds of the three, and each
 * way's figures over all its cycles. Then which process the kernel's OOM killer takes when the
 * runtime holds more memory than the hog reaches, once each way.
 *
 * Alone: `node --conditions=source --import tsx bench/control-loop.ts` (after `npm run build`)
 * writes only the `controlLoop` key of bench/results.json.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentProcess, openTerminal, pairedConsole } from '../harness/lan-agent.js';
import { buildAgent, patchedWerift } from '../harness/patched-werift.js';
import { until } from '../harness/werift-console.js';
import {
  calibrate,
  CPU_HOG,
  CyclicTask,
  IO_HOG,
  keepHousekeepingOn,
  MEMORY_HOG,
  oomKills,
  PERIOD_US,
  startHostCpuHogs,
  startLoopContainer,
  WORK_US,
  type CyclicRun,
} from '../harness/control-loop.js';
import { docker, type TestContainer } from '../harness/docker.js';
import { percentile, round } from './stats.js';

const CYCLES = 2500;
const ROUNDS = 3;
const MEMORY_LIMIT = '256m';
/** The runtime's resident memory in the lateness runs: small, so that the hog is always the larger. */
const RESIDENT_MB = 32;
/** In the OOM runs: more than the hog reaches before the limit. */
const OOM_RESIDENT_MB = 160;
/** The memory hog again a second after each kill, for the whole run. */
const HOGS = `${CPU_HOG} & ${CPU_HOG} & ${IO_HOG} & (while :; do ${MEMORY_HOG}; sleep 1; done) &`;
/**
 * Each kind of hog alone beside the cyclic task in a Tether session, one round each: which of them
 * the lateness beside all of them comes from.
 */
const HOGS_ALONE = {
  cpu: `${CPU_HOG} & ${CPU_HOG} &`,
  io: `${IO_HOG} &`,
  memory: `(while :; do ${MEMORY_HOG}; sleep 1; done) &`,
} as const;
/**
 * The second setup: the runtime kept to CPU 0, and the container's rules (docs/operations.md) keep a
 * Tether session's processes to CPU 1 (`tether.session-cpus`) and each of them to 64 MiB of
 * address space (`tether.session-memory`), as a real-time runtime is given its own cores and the
 * agent keeps debug shells off them and out of its memory. Plain `docker exec` knows no such rule.
 */
const RUNTIME_CPUS = '0';
const SESSION_CPUS = '1';
const SESSION_MEMORY = '64m';
/** The busy-CPU floor's hogs in the first setup, where sessions may run on any CPU. */
const ALL_CPUS = `0-${availableParallelism() - 1}`;
/** The exec user of both kinds of session, the agent's default. */
const USER = '1000:1000';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface LoopRun {
  /** cycles over all rounds, and those whose scan ended after the next tick */
  cycles: number;
  overruns: number;
  /** how late the task woke after its tick, over all rounds' cycles */
  wakeLateP50Ms: number;
  wakeLateP99Ms: number;
  wakeLateMaxMs: number;
  /** how late its scan ended after its tick (1 ms of work on an idle core) */
  scanEndP50Ms: number;
  scanEndP99Ms: number;
  scanEndMaxMs: number;
  /** OOM kills in the container during the runs (the memory hog) */
  oomKills: number;
  /** overruns of each round, in order */
  overrunsPerRound: number[];
  /** the host's 1-minute load average as each round began: other work on the machine */
  loadPerRound: number[];
}

interface RoundRun {
  run: CyclicRun;
  kills: number;
  load: number;
}

function summarize(rounds: RoundRun[]): LoopRun {
  const ms = (us: number) => round(us / 1000, 2);
  const wake = rounds.flatMap((r) => r.run.wakeLateUs);
  const end = rounds.flatMap((r) => r.run.endLateUs);
  return {
    cycles: rounds.reduce((sum, r) => sum + r.run.cycles, 0),
    overruns: rounds.reduce((sum, r) => sum + r.run.overruns, 0),
    wakeLateP50Ms: ms(percentile(wake, 50)),
    wakeLateP99Ms: ms(percentile(wake, 99)),
    wakeLateMaxMs: ms(Math.max(...wake)),
    scanEndP50Ms: ms(percentile(end, 50)),
    scanEndP99Ms: ms(percentile(end, 99)),
    scanEndMaxMs: ms(Math.max(...end)),
    oomKills: rounds.reduce((sum, r) => sum + r.kills, 0),
    overrunsPerRound: rounds.map((r) => r.run.overruns),
    loadPerRound: rounds.map((r) => round(r.load, 2)),
  };
}

/** One run of CYCLES cycles, while the hogs the caller started run. */
async function measure(container: TestContainer, iterations: number, cpus?: string): Promise<RoundRun> {
  const load = loadavg()[0]!;
  // The container's memory cgroup, through its init.
  const init = Number(await docker('inspect', '-f', '{{.State.Pid}}', container.id));
  const kills = oomKills(init);
  const run = await CyclicTask.start(container, { iterations, cycles: CYCLES, residentMb: RESIDENT_MB, cpus }).finished;
  if (!run) throw new Error('the cyclic task ended without its report (killed?)');
  return { run, kills: oomKills(init) - kills, load };
}

/** Kills every process of the exec user in the container: the plain exec's hogs (the workload runs as root). */
async function killPlainHogs(container: TestContainer): Promise<void> {
  await docker('exec', '-u', USER, container.id, 'sh', '-c', 'kill -9 -1').catch(() => undefined);
}

/** Whether the runtime survives a memory hog typed `how`; the hog's exit status. */
async function oomVictim(
  container: TestContainer,
  iterations: number,
  runHog: () => Promise<string>,
): Promise<{ runtimeSurvived: boolean; hogExit: string }> {
  const task = CyclicTask.start(container, { iterations, cycles: 0, residentMb: OOM_RESIDENT_MB });
  let pid: number | undefined;
  for (let i = 0; i < 100 && pid === undefined; i++) {
    pid = await task.hostPid();
    if (pid === undefined) await sleep(50);
  }
  if (pid === undefined) throw new Error('the cyclic task did not start');
  await sleep(500); // its memory touched
  const hogExit = await runHog();
  const survived = (await task.hostPid()) !== undefined;
  if (survived) await task.stop();
  else await task.finished;
  return { runtimeSurvived: survived, hogExit };
}

export async function measureControlLoop(): Promise<Record<string, unknown>> {
  await buildAgent();
  const w = await patchedWerift();
  const container = await startLoopContainer({ namePrefix: 'tether-bench-loop', memory: MEMORY_LIMIT });
  const pinnedContainer = await startLoopContainer({
    namePrefix: 'tether-bench-loop-pinned',
    memory: MEMORY_LIMIT,
    labels: { 'tether.vplc': 'true', 'tether.session-cpus': SESSION_CPUS, 'tether.session-memory': SESSION_MEMORY },
  });
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-bench-loop-'));
  let agent: AgentProcess | undefined;
  try {
    const iterations = await calibrate(container);
    agent = await AgentProcess.start(stateDir);
    const { console: c, agentInfo } = await pairedConsole(agent);

    type Way = 'idle' | 'cpuFloor' | 'tether' | 'plainExec';
    type Runs = Record<Way, RoundRun[]>;
    const noRuns = (): Runs => ({ idle: [], cpuFloor: [], tether: [], plainExec: [] });
    /**
     * One round of the ways in `target`, the runtime on `runtimeCpus` (any when absent): alone;
     * beside two CPU hogs on the host at SCHED_IDLE on the sessions' CPUs, outside any session
     * (what a busy CPU beside the runtime costs on this machine, whatever runs there); beside a
     * Tether session's hogs; beside plain `docker exec`'s (unless `plain` is false).
     */
    const ways = async (target: TestContainer, runs: Runs, options: { runtimeCpus?: string; sessionCpus: string; plain: boolean }) => {
      const { runtimeCpus } = options;
      runs.idle.push(await measure(target, iterations, runtimeCpus));

      const floor = startHostCpuHogs(options.sessionCpus);
      await sleep(500);
      runs.cpuFloor.push(await measure(target, iterations, runtimeCpus).finally(() => floor.stop()));
      await sleep(1000);

      const t = await openTerminal(w, c, agentInfo, target.name);
      if (t.first.type !== 'opened') throw new Error(`the session did not open: ${JSON.stringify(t.first)}`);
      await t.run(`${HOGS} echo hogs-$((6*7))`, 'hogs-42');
      await sleep(500);
      runs.tether.push(await measure(target, iterations, runtimeCpus));
      await t.close();
      await sleep(1000);

      if (!options.plain) return;
      await docker('exec', '-d', '-u', USER, target.id, 'sh', '-c', `${HOGS} wait`);
      await sleep(500);
      runs.plainExec.push(await measure(target, iterations, runtimeCpus).finally(() => killPlainHogs(target)));
      await sleep(1000);
    };
    const anyCpu = noRuns();
    const pinned = noRuns();
    const isolated = noRuns();
    let housekeeping: Record<string, unknown> = {};
    // Rounds of the ways, one after another, so that the machine's other load falls on each alike.
    for (let n = 1; n <= ROUNDS; n++) {
      console.log(
        `[bench] control loop round ${n}/${ROUNDS}: alone, beside a busy CPU, a Tether session's hogs, plain docker exec's hogs…`,
      );
      await ways(container, anyCpu, { sessionCpus: ALL_CPUS, plain: true });
      console.log(
        `[bench] control loop round ${n}/${ROUNDS}, the runtime on CPU ${RUNTIME_CPUS}, Tether's sessions on CPU ${SESSION_CPUS}…`,
      );
      await ways(pinnedContainer, pinned, { runtimeCpus: RUNTIME_CPUS, sessionCpus: SESSION_CPUS, plain: true });
      console.log(`[bench] control loop round ${n}/${ROUNDS}, the same, and the host's own work kept to CPU ${SESSION_CPUS}…`);
      const kept = keepHousekeepingOn(SESSION_CPUS);
      try {
        const { restore: _restore, ...moved } = kept;
        housekeeping = moved;
        await ways(pinnedContainer, isolated, { runtimeCpus: RUNTIME_CPUS, sessionCpus: SESSION_CPUS, plain: false });
      } finally {
        kept.restore();
      }
    }
    const summarized = (runs: Runs) =>
      Object.fromEntries(
        Object.entries(runs)
          .filter(([, r]) => r.length > 0)
          .map(([way, r]) => [way, summarize(r)]),
      );

    const tetherByHog: Record<string, LoopRun> = {};
    for (const [kind, hogs] of Object.entries(HOGS_ALONE)) {
      console.log(`[bench] control loop beside a Tether session's ${kind} hog alone…`);
      const t = await openTerminal(w, c, agentInfo, container.name);
      if (t.first.type !== 'opened') throw new Error(`the session did not open: ${JSON.stringify(t.first)}`);
      await t.run(`${hogs} echo hogs-$((6*7))`, 'hogs-42');
      await sleep(500);
      tetherByHog[kind] = summarize([await measure(container, iterations)]);
      await t.close();
      await sleep(1000);
    }

    console.log('[bench] control loop: which process the OOM killer takes, the runtime holding more than the hog reaches…');
    const viaTether = await oomVictim(container, iterations, async () => {
      const s = await openTerminal(w, c, agentInfo, container.name);
      if (s.first.type !== 'opened') throw new Error(`the session did not open: ${JSON.stringify(s.first)}`);
      s.tty.send(Buffer.from(`${MEMORY_HOG}; echo memory-hog-ended-$?\n`));
      const code = await until(() => /memory-hog-ended-(\d+)/.exec(s.term.output())?.[1], 'the memory hog to end', 120_000);
      await s.close();
      return code;
    });
    const viaPlainExec = await oomVictim(container, iterations, async () => {
      const code = await docker('exec', '-u', USER, container.id, 'sh', '-c', `${MEMORY_HOG}; echo $?`).catch((error: unknown) =>
        String((error as { code?: number }).code),
      );
      return code.trim();
    });
    c.close();
    return {
      periodMs: PERIOD_US / 1000,
      workMs: WORK_US / 1000,
      workIterations: iterations,
      cyclesPerRun: CYCLES,
      memoryLimit: MEMORY_LIMIT,
      residentMb: RESIDENT_MB,
      hogs: HOGS,
      user: USER,
      rounds: ROUNDS,
      ...summarized(anyCpu),
      pinned: {
        runtimeCpus: RUNTIME_CPUS,
        sessionCpus: SESSION_CPUS,
        sessionMemory: SESSION_MEMORY,
        ...summarized(pinned),
      },
      isolated: {
        runtimeCpus: RUNTIME_CPUS,
        sessionCpus: SESSION_CPUS,
        sessionMemory: SESSION_MEMORY,
        housekeepingCpus: SESSION_CPUS,
        housekeeping,
        ...summarized(isolated),
      },
      tetherByHog,
      oom: { runtimeResidentMb: OOM_RESIDENT_MB, tether: viaTether, plainExec: viaPlainExec },
    };
  } finally {
    await agent?.stop();
    await container.remove();
    await pinnedContainer.remove();
  }
}

/** Prints each setup's ways side by side, and whether issue 17's goal holds in each. */
export function printControlLoop(figures: Record<string, unknown>): void {
  const ways = ['idle', 'cpuFloor', 'tether', 'plainExec'] as const;
  const setups = [
    ["the runtime on any CPU, the agent's defaults", figures],
    [`the runtime on CPU ${RUNTIME_CPUS}, sessions on CPU ${SESSION_CPUS} with ${SESSION_MEMORY} per process`, figures.pinned ?? {}],
    [`the same, and the host's own work (interrupts, unbound workqueues, kernel threads) on CPU ${SESSION_CPUS}`, figures.isolated ?? {}],
  ] as const;
  console.log(
    `\ncontrol loop (2 ms tick, 1 ms of work, ${ROUNDS} × ${CYCLES} cycles per way); cpuFloor: two yes at SCHED_IDLE on the host, on the sessions' CPUs, outside any session`,
  );
  for (const [label, set] of setups) {
    const runs = set as Record<string, LoopRun | undefined>;
    const present = ways.filter((way) => runs[way]);
    if (present.length === 0) continue;
    console.log(`\n${label}`);
    console.log(`${''.padEnd(17)} ${present.map((way) => way.padStart(12)).join(' ')}`);
    for (const key of [
      'wakeLateP50Ms',
      'wakeLateP99Ms',
      'wakeLateMaxMs',
      'scanEndP50Ms',
      'scanEndP99Ms',
      'scanEndMaxMs',
      'overruns',
      'overrunsPerRound',
      'oomKills',
      'loadPerRound',
    ] as const)
      console.log(`${key.padEnd(17)} ${present.map((way) => String(runs[way]![key]).padStart(12)).join(' ')}`);
    // Issue 17's goal: beside a Tether session's hogs, wake-up lateness p99 within 1.5× of the idle
    // run's and no more overruns than it. Beside the busy-CPU floor: what no way of running the
    // hogs could do better than on this machine.
    const { idle, tether, cpuFloor } = runs;
    if (!idle || !tether) continue;
    const ratio = round(tether.wakeLateP99Ms / Math.max(idle.wakeLateP99Ms, 0.01), 2);
    const met = ratio <= 1.5 && tether.overruns <= idle.overruns;
    console.log(
      `goal: Tether's p99 ${ratio}× idle (≤ 1.5×), overruns ${tether.overruns} vs ${idle.overruns} idle: ${met ? 'met' : 'missed'}` +
        (cpuFloor
          ? `; beside a busy CPU alone: p99 ${round(cpuFloor.wakeLateP99Ms / Math.max(idle.wakeLateP99Ms, 0.01), 2)}× idle, ${cpuFloor.overruns} overruns`
          : ''),
    );
  }
  const isolated = figures.isolated as { housekeeping?: unknown } | undefined;
  if (isolated?.housekeeping) console.log(`moved for the last setup: ${JSON.stringify(isolated.housekeeping)}`);
  const byHog = figures.tetherByHog as Record<string, LoopRun> | undefined;
  if (byHog) {
    console.log(`\nbeside one kind of a Tether session's hogs (1 × ${CYCLES} cycles): woke late p50 / p99 / max, overruns`);
    for (const [kind, r] of Object.entries(byHog))
      console.log(`  ${kind.padEnd(8)} ${r.wakeLateP50Ms} / ${r.wakeLateP99Ms} / ${r.wakeLateMaxMs} ms, ${r.overruns} overruns`);
  }
  console.log(`OOM, runtime ${OOM_RESIDENT_MB} MiB resident: ${JSON.stringify(figures.oom)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url));
  const figures = await measureControlLoop();
  const results = JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>;
  results.controlLoop = { ...figures, date: new Date().toISOString() };
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  printControlLoop(figures);
  console.log(`\nwritten to ${resultsPath} (controlLoop)`);
}
