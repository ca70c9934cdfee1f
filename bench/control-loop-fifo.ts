/**
 * A diagnostic beside bench/control-loop.ts, not part of `npm run bench`: what reaches the cyclic
 * task past every scheduling priority. The task runs under SCHED_FIFO (as real-time PLC runtimes
 * run their cyclic tasks), so no normal or idle process can take its CPU; whatever still makes it
 * late is the kernel's (or the hypervisor's) work on behalf of the hogs. Each kind of hog runs
 * alone, as the session's user, at a Tether session's standing (SCHED_IDLE, nice 19, idle I/O
 * class, oom_score_adj 1000, set on their parent shell before it starts them), optionally with the
 * task on CPU 0 and the hogs on CPU 1.
 *
 *   node --conditions=source --import tsx bench/control-loop-fifo.ts [kinds] [--pinned]
 *
 * kinds: a comma-separated list of none, cpu, io, io-nofsync, io-notrunc, io-direct, memory,
 * memory-churn (default: all). Needs root and cgroup v1's cpu controller: it lets Docker's cgroups
 * run real-time tasks (`cpu.rt_runtime_us`) for the run and restores them after.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { calibrate, CPU_HOG, CyclicTask, IO_HOG, MEMORY_HOG, oomKills, PERIOD_US, startLoopContainer } from '../harness/control-loop.js';
import { docker } from '../harness/docker.js';
import { percentile } from './stats.js';

const KINDS: Record<string, string> = {
  none: '',
  cpu: `${CPU_HOG} & ${CPU_HOG} &`,
  io: `${IO_HOG} &`,
  'io-nofsync': '(while :; do dd if=/dev/zero of=/tmp/io-hog bs=1M count=32 2>/dev/null; done) &',
  'io-notrunc': '(while :; do dd if=/dev/zero of=/tmp/io-hog bs=1M count=32 conv=notrunc 2>/dev/null; done) &',
  'io-direct': '(while :; do dd if=/dev/zero of=/tmp/io-hog bs=1M count=32 oflag=direct 2>/dev/null; done) &',
  memory: `(while :; do ${MEMORY_HOG}; sleep 1; done) &`,
  'memory-churn': '(while :; do dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; done) &',
};
const CYCLES = 2500;
/** The first cycles run before the task is made real-time: left out of the figures. */
const WARMUP = 100;
const USER = '1000:1000';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const kinds = (process.argv.slice(2).find((a) => !a.startsWith('--')) ?? Object.keys(KINDS).join(',')).split(',');
const pinned = process.argv.includes('--pinned');
for (const kind of kinds) if (!(kind in KINDS)) throw new Error(`unknown kind ${kind}; known: ${Object.keys(KINDS).join(', ')}`);

/** The host pid of the process whose pid in the container's namespace is `inner`. */
function hostPidOf(init: number, inner: number): number {
  const namespace = execFileSync('readlink', [`/proc/${init}/ns/pid`])
    .toString()
    .trim();
  for (const entry of execFileSync('ls', ['/proc']).toString().split('\n')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]?.split(/\s+/);
      if (Number(nspid?.at(-1)) !== inner) continue;
      if (
        execFileSync('readlink', [`/proc/${entry}/ns/pid`])
          .toString()
          .trim() === namespace
      )
        return Number(entry);
    } catch {
      // gone while we looked
    }
  }
  throw new Error(`no host process for pid ${inner} in the container`);
}

const container = await startLoopContainer({ namePrefix: 'tether-bench-fifo', memory: '256m' });
const rtFiles = ['/sys/fs/cgroup/cpu/docker/cpu.rt_runtime_us', `/sys/fs/cgroup/cpu/docker/${container.id}/cpu.rt_runtime_us`];
const rtBefore = rtFiles.map((f) => readFileSync(f, 'utf8').trim());
try {
  for (const f of rtFiles) writeFileSync(f, '900000');
  const iterations = await calibrate(container);
  const init = Number(await docker('inspect', '-f', '{{.State.Pid}}', container.id));
  console.log(`cyclic task at SCHED_FIFO 50${pinned ? ' on CPU 0, the hogs on CPU 1' : ''}, ${CYCLES - WARMUP} cycles each`);
  for (const kind of kinds) {
    if (KINDS[kind]) {
      // A parked shell, given the standing before it starts the hogs, so that all of them inherit it.
      await docker(
        'exec',
        '-d',
        '-u',
        USER,
        container.id,
        'sh',
        '-c',
        `echo $$ > /tmp/hog-shell; until [ -e /tmp/go ]; do sleep 0.1; done; ${KINDS[kind]} wait`,
      );
      let inner = '';
      while (!/^\d+$/.test(inner)) inner = (await docker('exec', container.id, 'cat', '/tmp/hog-shell').catch(() => '')).trim();
      const shell = String(hostPidOf(init, Number(inner)));
      execFileSync('chrt', ['--idle', '-p', '0', shell]);
      execFileSync('renice', ['-n', '19', '-p', shell], { stdio: 'ignore' });
      execFileSync('ionice', ['-c', '3', '-p', shell]);
      writeFileSync(`/proc/${shell}/oom_score_adj`, '1000');
      if (pinned) execFileSync('taskset', ['-p', '-c', '1', shell], { stdio: 'ignore' });
      await docker('exec', container.id, 'touch', '/tmp/go');
      await sleep(500);
    }
    const kills = oomKills(init);
    const load = loadavg()[0]!;
    const task = CyclicTask.start(container, { iterations, cycles: CYCLES, residentMb: 32, cpus: pinned ? '0' : undefined });
    let pid: number | undefined;
    while (pid === undefined) pid = await task.hostPid();
    execFileSync('chrt', ['-f', '-p', '50', String(pid)]);
    const run = await task.finished;
    if (!run) throw new Error('the cyclic task ended without its report');
    if (KINDS[kind]) {
      await docker('exec', '-u', USER, container.id, 'sh', '-c', 'kill -9 -1').catch(() => undefined);
      await docker('exec', container.id, 'rm', '-f', '/tmp/go', '/tmp/hog-shell', '/tmp/io-hog');
      await sleep(1000);
    }
    const wake = run.wakeLateUs.slice(WARMUP);
    const end = run.endLateUs.slice(WARMUP);
    const overruns = end.filter((us) => us > PERIOD_US).length; // ended after the next tick
    const ms = (us: number) => (us / 1000).toFixed(2);
    console.log(
      `${kind.padEnd(13)} load ${load.toFixed(1).padStart(4)}  woke late p50/p99/max ${ms(percentile(wake, 50))} / ${ms(percentile(wake, 99))} / ${ms(Math.max(...wake))} ms  scan end p99 ${ms(percentile(end, 99))} ms  overruns ${overruns}  OOM kills ${oomKills(init) - kills}`,
    );
  }
} finally {
  // The container's own first: a cgroup may not hold more real-time time than its parent.
  for (const i of [1, 0]) {
    try {
      writeFileSync(rtFiles[i]!, rtBefore[i]!);
    } catch {
      // the container's cgroup is gone with it
    }
  }
  await container.remove();
}
