/**
 * A control loop beside a debug session, for the standing test (agent/test/control-loop.test.ts)
 * and `npm run bench` (bench/control-loop.ts): cyclic-task.c built statically with the machine's
 * gcc and copied into a test container (busybox only), where it runs as a vPLC runtime would; the
 * hogs an operator might type into a debug tab; and what the host's /proc says of a process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { cpuSet } from '../agent/src/session-standing.js';
import { docker, startContainer, TEST_IMAGE_SH, type TestContainer } from './docker.js';

const source = fileURLToPath(new URL('./cyclic-task.c', import.meta.url));
const buildDir = fileURLToPath(new URL('../test-results/bin/', import.meta.url));
const binary = `${buildDir}cyclic-task`;

/** The loop of a PLC scan at 50 % load: a 2 ms tick, 1 ms of work. */
export const PERIOD_US = 2000;
export const WORK_US = 1000;

/** Two CPU hogs, an I/O hog (writes with fsync, again and again), and a memory hog, as typed into a shell. */
export const CPU_HOG = 'yes > /dev/null';
export const IO_HOG = '(while :; do dd if=/dev/zero of=/tmp/io-hog bs=1M count=32 conv=fsync 2>/dev/null; done)';
/** busybox `tail` keeps the last "line" of /dev/zero, which never ends: it grows until it is killed. */
export const MEMORY_HOG = 'tail /dev/zero';

/** Compiles cyclic-task (static: the test image has no C library) when missing or older than its source. */
export function ensureCyclicTaskBuilt(): string {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(buildDir, { recursive: true });
  const result = spawnSync('gcc', ['-O2', '-Wall', '-static', '-o', binary, source], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `cannot build cyclic-task (needs gcc and libc6-dev; scripts/setup-debian.sh installs them): ${result.stderr || result.error?.message}`,
    );
  }
  return binary;
}

export interface LoopContainerOptions {
  namePrefix: string;
  labels?: Record<string, string>;
  /** the container's memory limit, swap included (`--memory`, `--memory-swap`) */
  memory: string;
}

/** A busybox test container with a memory limit and cyclic-task in /usr/bin. */
export async function startLoopContainer(options: LoopContainerOptions): Promise<TestContainer> {
  const built = ensureCyclicTaskBuilt();
  const container = await startContainer({
    image: TEST_IMAGE_SH,
    namePrefix: options.namePrefix,
    labels: options.labels ?? { 'tether.vplc': 'true' },
    runArgs: ['--memory', options.memory, '--memory-swap', options.memory],
  });
  await docker('cp', built, `${container.id}:/usr/bin/cyclic-task`);
  return container;
}

/** The work loop iterations that take WORK_US on an idle core in `container`. */
export async function calibrate(container: TestContainer): Promise<number> {
  const out = await docker('exec', container.id, 'cyclic-task', '--calibrate', '--work-us', String(WORK_US));
  if (!/^\d+$/.test(out)) throw new Error(`cyclic-task --calibrate printed ${JSON.stringify(out)}`);
  return Number(out);
}

/** What cyclic-task prints at its end: one sample per cycle, in microseconds. */
export interface CyclicRun {
  cycles: number;
  overruns: number;
  periodUs: number;
  workIterations: number;
  wakeLateUs: number[];
  endLateUs: number[];
}

export interface CyclicTaskOptions {
  iterations: number;
  /** 0: until stopped */
  cycles: number;
  /** memory the task holds resident, as a runtime holds its process image */
  residentMb?: number;
  /** the CPUs it runs on (busybox `taskset -c`), as a real-time runtime is kept to its own cores; any when absent */
  cpus?: string;
}

/** cyclic-task running in a container through `docker exec`, as the container's own workload. */
export class CyclicTask {
  /** its report once it ended; undefined when it was killed before printing one */
  readonly finished: Promise<CyclicRun | undefined>;
  private output = '';

  private constructor(
    readonly container: TestContainer,
    private readonly child: ChildProcess,
  ) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.finished = new Promise((resolve) => {
      child.once('close', () => {
        const line = this.output.trim();
        resolve(line.startsWith('{') ? (JSON.parse(line) as CyclicRun) : undefined);
      });
    });
  }

  static start(container: TestContainer, options: CyclicTaskOptions): CyclicTask {
    const args = [
      'exec',
      container.id,
      ...(options.cpus === undefined ? [] : ['taskset', '-c', options.cpus]),
      'cyclic-task',
      '--period-us',
      String(PERIOD_US),
      '--work-iterations',
      String(options.iterations),
      '--cycles',
      String(options.cycles),
    ];
    if (options.residentMb) args.push('--resident-mb', String(options.residentMb));
    return new CyclicTask(container, spawn('docker', args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  }

  /** Its host pid, once it runs (found by name in the container's pid namespace); undefined when it does not. */
  async hostPid(): Promise<number | undefined> {
    const initPid = await docker('inspect', '-f', '{{.State.Pid}}', this.container.id);
    const namespace = readlinkSync(`/proc/${initPid}/ns/pid`);
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
      if (comm.trim() !== 'cyclic-task') continue;
      if ((await readlink(`/proc/${entry}/ns/pid`).catch(() => '')) !== namespace) continue;
      const state = (await hostProcessFacts(Number(entry)))?.state;
      if (state !== undefined && state !== 'Z') return Number(entry);
    }
    return undefined;
  }

  /** Ends a task that runs until stopped (SIGTERM); its report. */
  async stop(): Promise<CyclicRun | undefined> {
    await docker('exec', this.container.id, 'killall', '-TERM', 'cyclic-task').catch(() => undefined);
    return this.finished;
  }
}

/** What the host's /proc says of one process; undefined once it is gone. */
export interface HostProcessFacts {
  pid: number;
  comm: string;
  state: string;
  nice: number;
  /** field 41 of stat: 0 SCHED_OTHER, 3 SCHED_BATCH, 5 SCHED_IDLE */
  policy: number;
  oomScoreAdj: number;
  cpus: string;
  /** its `TETHER_SESSION`, when it has one */
  session: string | undefined;
}

export async function hostProcessFacts(pid: number): Promise<HostProcessFacts | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
    const session = environ
      .split('\0')
      .find((e) => e.startsWith('TETHER_SESSION='))
      ?.slice('TETHER_SESSION='.length);
    return {
      pid,
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      state: fields[0]!,
      nice: Number(fields[16]),
      policy: Number(fields[38]),
      oomScoreAdj: Number((await readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim()),
      cpus: /^Cpus_allowed_list:\s*(\S+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '',
      session,
    };
  } catch {
    return undefined; // it ended while we looked
  }
}

/** Every live host process whose environment carries `TETHER_SESSION=<sessionId>`. */
export async function sessionProcesses(sessionId: string): Promise<HostProcessFacts[]> {
  const found: HostProcessFacts[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (!environ.split('\0').includes(`TETHER_SESSION=${sessionId}`)) continue;
    const facts = await hostProcessFacts(Number(entry));
    if (facts && facts.state !== 'Z') found.push(facts);
  }
  return found;
}

/** The I/O scheduling class of host process `pid` as util-linux `ionice -p` prints it (`idle`, `none: prio 4`). */
export function ioClass(pid: number): string | undefined {
  const result = spawnSync('ionice', ['-p', String(pid)], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** How many times the kernel's OOM killer has killed in the memory cgroup of host process `pid` (cgroup v1 or v2). */
export function oomKills(pid: number): number {
  const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = cgroups.find((line) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(line));
  if (v1) {
    const path = v1.slice(v1.indexOf(':', v1.indexOf(':') + 1) + 1);
    const control = readFileSync(`/sys/fs/cgroup/memory${path}/memory.oom_control`, 'utf8');
    return Number(/^oom_kill (\d+)/m.exec(control)?.[1] ?? NaN);
  }
  const v2 = cgroups.find((line) => line.startsWith('0::'));
  if (!v2) throw new Error(`no memory cgroup for pid ${pid}: ${cgroups.join(' | ')}`);
  const events = readFileSync(`/sys/fs/cgroup${v2.slice(3)}/memory.events`, 'utf8');
  return Number(/^oom_kill (\d+)/m.exec(events)?.[1] ?? NaN);
}

/** A value written to a kernel file, and how to put back what was there. */
interface Written {
  path: string;
  before: string;
}

function writeKernelFile(path: string, value: string, written: Written[]): boolean {
  let before: string;
  try {
    before = readFileSync(path, 'utf8').trim();
  } catch {
    return false;
  }
  if (before === value) return true;
  try {
    writeFileSync(path, value);
    written.push({ path, before });
    return true;
  } catch {
    return false; // not movable (a per-CPU interrupt, a managed one) or not ours to write
  }
}

/** A CPU list (`1`, `0-1`, `1,3`) as the hexadecimal mask /proc/irq and the workqueue cpumask take. */
export function cpuMask(cpus: string): string {
  const list = cpuSet(cpus);
  if (!list) throw new Error(`not a CPU list: ${cpus}`);
  return list.reduce((mask, cpu) => mask | (1n << BigInt(cpu)), 0n).toString(16);
}

/** What `keepHousekeepingOn` moved, and how to put it back. */
export interface Housekeeping {
  /** interrupts whose affinity was set to the housekeeping CPUs, of those /proc/irq lists */
  interrupts: { moved: number; of: number };
  /** kernel threads allowed on every CPU, now kept to the housekeeping CPUs */
  kernelThreads: { moved: number; of: number };
  /** whether unbound workqueues (writeback, most `kworker/u…`) now run on the housekeeping CPUs only */
  workqueues: boolean;
  restore(): void;
}

/**
 * Keeps the host's own work (device interrupts, unbound workqueues such as writeback, kernel
 * threads such as jbd2 and kswapd that may run anywhere) on `cpus`, off a real-time runtime's
 * cores, as `isolcpus=managed_irq,domain,…`, `irqaffinity=…` and the workqueue cpumask do on a
 * host set up for one (docs/operations.md, "The host's own work"). Root only; `restore()` puts
 * every value back. Per-CPU interrupts and threads (timers, ksoftirqd/N, kworker/N) stay where
 * they are: nothing can move them.
 */
export function keepHousekeepingOn(cpus: string): Housekeeping {
  const mask = cpuMask(cpus);
  const written: Written[] = [];
  const irqs = readdirSync('/proc/irq').filter((entry) => /^\d+$/.test(entry));
  const interrupts = irqs.filter((irq) => writeKernelFile(`/proc/irq/${irq}/smp_affinity`, mask, written)).length;
  const workqueues = writeKernelFile('/sys/devices/virtual/workqueue/cpumask', mask, written);
  const moved: number[] = [];
  let threads = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let status: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      status = readFileSync(`/proc/${entry}/status`, 'utf8');
    } catch {
      continue;
    }
    // Kernel threads are kthreadd's children (ppid 2); those bound to one CPU stay.
    if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] !== '2') continue;
    const allowed = /^Cpus_allowed:\s*(\S+)/m.exec(status)?.[1];
    if (allowed === undefined || BigInt(`0x${allowed.replace(/,/g, '')}`) !== allCpusMask()) continue;
    threads++;
    if (spawnSync('taskset', ['-p', mask, entry], { stdio: 'ignore' }).status === 0) moved.push(Number(entry));
  }
  const all = allCpusMask().toString(16);
  return {
    interrupts: { moved: interrupts, of: irqs.length },
    kernelThreads: { moved: moved.length, of: threads },
    workqueues,
    restore() {
      for (const pid of moved) spawnSync('taskset', ['-p', all, String(pid)], { stdio: 'ignore' });
      for (const { path, before } of written.reverse()) {
        try {
          writeFileSync(path, before);
        } catch (error) {
          console.error(`cannot restore ${path} to ${before}: ${String(error)}`);
        }
      }
    },
  };
}

function allCpusMask(): bigint {
  return (1n << BigInt(availableParallelism())) - 1n;
}

/**
 * Two CPU hogs started on the host, outside any container and any session, at the lowest
 * priority there is (`SCHED_IDLE`) on `cpus`: the least any way of running a debug shell's hogs
 * could disturb the runtime, what a busy CPU beside it costs on this machine whatever runs there.
 */
export function startHostCpuHogs(cpus: string): { stop(): void } {
  const hogs = [0, 1].map(() => spawn('chrt', ['--idle', '0', 'taskset', '-c', cpus, 'yes'], { stdio: 'ignore' }));
  return {
    stop() {
      for (const hog of hogs) hog.kill('SIGKILL');
    },
  };
}
