/**
 * A control loop beside a debug session, for the standing test (agent/test/control-loop.test.ts)
 * and `npm run bench` (bench/control-loop.ts): cyclic-task.c built statically with the machine's
 * gcc and copied into a test container (busybox only), where it runs as a vPLC runtime would; the
 * hogs an operator might type into a debug tab; and what the host's /proc says of a process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
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
