/**
 * A session's standing beside the container's workload (DESIGN.md "Security rules"): by default its
 * processes run at the lowest CPU priority (nice 19, and SCHED_IDLE where allowed), idle I/O
 * priority and `oom_score_adj` 1000, so that a debug shell never competes with a PLC's control loop
 * on equal terms and is the first the kernel kills under memory pressure; optionally pinned to
 * some CPUs and capped in memory and process count (per container, session-rules.ts).
 *
 * How: the exec does not start the shell itself but a small POSIX script (`standingCommand`) that,
 * as the session's user, lowers its own standing with what the container has (shell built-ins:
 * `oom_score_adj`, `ulimit`; busybox or util-linux: `renice`, `ionice`, `chrt`, `taskset`), reads
 * back from /proc/self what holds, writes that as one OSC escape sequence first on the terminal,
 * and `exec`s the shell. Everything it sets is kept across `exec` and inherited by every child.
 * Lowering one's own standing needs no privilege, so this works as any user, in any container
 * with a POSIX shell, whatever the agent may do on the host (the systemd unit runs it unprivileged).
 * The agent reads the report off the stream before the console sees a byte (`readStandingReport`)
 * and, where the host's /proc shows the session's processes and it may, sets on the host what the
 * container lacked the tools for (session-standing-host.ts), typically SCHED_IDLE, which busybox
 * cannot set. What could not be applied is audited and told in the tab (`assessStanding`).
 *
 * The memory cap is RLIMIT_AS of each process and the process cap RLIMIT_NPROC, which counts every
 * process of the exec user's uid (docs/operations.md says what each costs and why not a cgroup).
 */
import type { Duplex } from 'node:stream';
import { MAX_NOTICE_LENGTH } from '@tether/protocol';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** `idle`: sessions yield to the workload (the default); `normal`: they keep the standing Docker gives an exec. */
export type SessionPriority = 'idle' | 'normal';
export const SESSION_PRIORITIES = ['idle', 'normal'] as const;

/** What a container's sessions get (session-rules.ts resolves it per container). */
export interface SessionResources {
  priority: SessionPriority;
  /** CPUs the session's processes may run on, a Linux CPU list (`1`, `2-3`, `0,2`); any when absent */
  cpus?: string | undefined;
  /** RLIMIT_AS of each of the session's processes, in bytes; none when absent */
  memoryBytes?: number | undefined;
  /** RLIMIT_NPROC: the most processes the exec user may have; none when absent */
  processes?: number | undefined;
}

/** The smallest memory cap accepted: a shell and its libraries need a few MiB of address space. */
export const MIN_SESSION_MEMORY_BYTES = 16 * 1024 * 1024;
const MAX_CPU = 4095;

/** The CPUs of a Linux CPU list (`0-2,5`), sorted; undefined when it is not one. */
export function cpuSet(list: string): number[] | undefined {
  const text = list.trim();
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text) || text.length > 256) return undefined;
  const cpus = new Set<number>();
  for (const part of text.split(',')) {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    if (to < from || to > MAX_CPU) return undefined;
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** `256m`, `1g`, `65536k`, `268435456` (bytes) in bytes; undefined when malformed. */
export function parseMemorySize(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  const match = /^(\d+)\s*([kmg])?(i?b)?$/i.exec(value.trim());
  if (!match) return undefined;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

const mib = (bytes: number) => `${Math.round((bytes / 1024 ** 2) * 10) / 10} MiB`;

export type SchedPolicy = 'other' | 'fifo' | 'rr' | 'batch' | 'idle' | 'deadline';
export type IoClass = 'none' | 'realtime' | 'best-effort' | 'idle';

/** What holds for the session's shell; null where it could not be read. */
export interface Standing {
  nice: number | null;
  policy: SchedPolicy | null;
  io: IoClass | null;
  oomScoreAdj: number | null;
  /** its CPU list, as the kernel prints it (`Cpus_allowed_list`) */
  cpus: string | null;
  /** RLIMIT_AS in bytes */
  memoryBytes: number | 'unlimited' | null;
  /** RLIMIT_NPROC */
  processes: number | 'unlimited' | null;
}

/** Field 41 of /proc/<pid>/stat. */
export const POLICIES: Record<string, SchedPolicy> = { '0': 'other', '1': 'fifo', '2': 'rr', '3': 'batch', '5': 'idle', '6': 'deadline' };

/** The report's escape sequence: an OSC that a terminal ignores, should one ever reach it. */
const REPORT_START = '\x1b]7773;tether-standing;';
const REPORT_END = '\x07';
/** A report is a few dozen bytes; more than this before its end means it is not one. */
const MAX_REPORT_BYTES = 512;
/**
 * How long the agent waits for the report while the exec's stream is silent. The script runs a
 * few busybox applets; an exec on a host loaded 12 on 2 cores took over 5 s to start.
 */
export const STANDING_REPORT_TIMEOUT_MS = 15_000;

/**
 * The script the exec runs instead of the shell: `sh -c SCRIPT SHELL PRIORITY CPUS MEMORY_KIB
 * PROCESSES`. POSIX shell and busybox ash alike. Each step may fail (a missing applet, a CPU the
 * container may not use); the report says what holds. SCHED_IDLE comes before `renice`: a
 * `sched_setattr` that sets the policy may reset the nice value. The process cap comes last, after
 * everything that forks: a user already at the cap could not fork.
 *
 * It runs before the user's first prompt, so it forks as little as it can (each fork of the shell
 * cost about 7 ms, each applet run 4 ms, on a 2-core host: agent/README.md, "The first prompt"):
 * `ionice` runs beside `chrt` and `renice` and its exit status says whether the idle I/O class
 * holds; the limits are read from /proc/self/limits (bytes, reported in KiB as `ulimit -v` gives
 * them) rather than by `$(ulimit …)`, which forks (and only where /proc has no limits). Only where
 * the idle class was not set (normal priority, or `ionice` failed) is the class read back by running
 * `ionice -p`.
 */
const STANDING_SCRIPT = [
  's=$0 p=$1 c=$2 m=$3 n=$4 io= ip=',
  'if [ "$p" = idle ]; then',
  '  echo 1000 2>/dev/null >/proc/self/oom_score_adj',
  '  ionice -c 3 -p $$ >/dev/null 2>&1 & ip=$!',
  '  chrt -i -p 0 $$ >/dev/null 2>&1',
  '  renice -n 19 -p $$ >/dev/null 2>&1',
  '  wait $ip && io=idle',
  'fi',
  '[ -n "$c" ] && taskset -c -p "$c" $$ >/dev/null 2>&1',
  '[ -n "$m" ] && ulimit -v "$m" 2>/dev/null',
  // A UTF-8 character type where the container sets no locale and has one (glibc's C.utf8, or musl,
  // where C.UTF-8 needs no file): in the C locale bash's readline takes the bytes of a typed "°" or
  // "ü" for Meta keys, editing commands, and runs another line than the one typed. No fork; before
  // `set -f`, as the musl test is a glob.
  'if [ -z "$LANG$LC_ALL$LC_CTYPE" ]; then for l in /usr/lib/locale/C.utf8 /usr/lib/locale/C.UTF-8 /lib/ld-musl-*; do [ -e "$l" ] && export LC_CTYPE=C.UTF-8 && break; done; fi',
  'set -f',
  'read -r st </proc/$$/stat',
  'set -- ${st##*") "}',
  'ni=${17} po=${39} cl= oo= va= np=',
  'read -r oo </proc/$$/oom_score_adj',
  'while read -r k v; do [ "$k" = Cpus_allowed_list: ] && cl=$v; done </proc/$$/status',
  'while read -r k1 k2 k3 k4 k5; do case "$k1 $k2 $k3" in "Max address space") va=$k4 ;; "Max processes "*) np=$k3 ;; esac; done </proc/$$/limits',
  'case $va in "" | unlimited) ;; *) va=$((va / 1024)) ;; esac',
  // a /proc without limits (none seen): ask the shell, forking
  'if [ -z "$va" ]; then va=$(ulimit -v 2>/dev/null); fi',
  'if [ -z "$np" ]; then np=$(ulimit -u 2>/dev/null); fi',
  'if [ -z "$io" ]; then io=$(ionice -p $$ 2>/dev/null); io=${io%%:*}; fi',
  // dash names the process cap -p (bash's -p is the pipe size, which cannot be set)
  'if [ -n "$n" ]; then { ulimit -u "$n" || ulimit -p "$n"; } 2>/dev/null && np=$n; fi',
  `printf '\\033]7773;tether-standing;nice=%s;policy=%s;io=%s;oom=%s;cpus=%s;as=%s;nproc=%s\\007' "$ni" "$po" "$io" "$oo" "$cl" "$va" "$np"`,
  'exec "$s"',
].join('\n');

/** Shells that run the script as POSIX sh does; another (zsh does not split `$var`, fish is not POSIX) runs it with /bin/sh. */
const POSIX_SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'ksh', 'mksh']);

/** The exec's command: the standing script, then `shell`. */
export function standingCommand(shell: string, resources: SessionResources): string[] {
  const interpreter = POSIX_SHELLS.has(shell.slice(shell.lastIndexOf('/') + 1)) ? shell : '/bin/sh';
  const memoryKiB = resources.memoryBytes === undefined ? '' : String(Math.floor(resources.memoryBytes / 1024));
  return [
    interpreter,
    '-c',
    STANDING_SCRIPT,
    shell,
    resources.priority,
    resources.cpus ?? '',
    memoryKiB,
    resources.processes === undefined ? '' : String(resources.processes),
  ];
}

function limitValue(text: string | undefined, scale: number): number | 'unlimited' | null {
  if (text === 'unlimited') return 'unlimited';
  return text !== undefined && /^\d+$/.test(text) ? Number(text) * scale : null;
}

function integer(text: string | undefined): number | null {
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : null;
}

/** The report's fields (`nice=19;policy=5;…`) as a standing. */
export function parseStandingReport(fields: string): Standing {
  const values = new Map<string, string>();
  for (const field of fields.split(';')) {
    const at = field.indexOf('=');
    if (at > 0) values.set(field.slice(0, at), field.slice(at + 1).trim());
  }
  const io = values.get('io');
  const cpus = values.get('cpus');
  return {
    nice: integer(values.get('nice')),
    policy: POLICIES[values.get('policy') ?? ''] ?? null,
    io: io === 'idle' || io === 'none' || io === 'best-effort' || io === 'realtime' ? io : null,
    oomScoreAdj: integer(values.get('oom')),
    cpus: cpus && cpuSet(cpus) ? cpus : null,
    // `ulimit -v` counts KiB
    memoryBytes: limitValue(values.get('as'), 1024),
    processes: limitValue(values.get('nproc'), 1),
  };
}

export type ReportRead =
  | { kind: 'report'; standing: Standing }
  /** the stream began with something else, or stayed silent too long: nothing was taken from it */
  | { kind: 'none'; why: string }
  /** the stream ended before the report: the script or the shell did not start */
  | { kind: 'ended'; output: string };

/**
 * Takes the standing report off the start of the exec's stream and puts back whatever follows it,
 * for the session to read. Anything else at the start is put back whole and the session goes on
 * without a report. Only the stream's first bytes are looked at, written before the shell runs:
 * nothing the user types or runs can forge it.
 */
export function readStandingReport(stream: Duplex, timeoutMs = STANDING_REPORT_TIMEOUT_MS): Promise<ReportRead> {
  return new Promise((resolve) => {
    let held = Buffer.alloc(0);
    const start = Buffer.from(REPORT_START, 'latin1');
    const done = (result: ReportRead, rest: Buffer) => {
      clearTimeout(timer);
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      if (result.kind !== 'ended' && rest.length > 0) stream.unshift(rest);
      resolve(result);
    };
    const look = () => {
      if (held.length === 0) return;
      const prefix = held.subarray(0, Math.min(held.length, start.length));
      if (!prefix.equals(start.subarray(0, prefix.length)))
        return done({ kind: 'none', why: 'the exec did not begin with a report' }, held);
      const end = held.indexOf(REPORT_END, start.length, 'latin1');
      if (end < 0) {
        if (held.length > MAX_REPORT_BYTES) done({ kind: 'none', why: 'the report did not end' }, held);
        return;
      }
      const standing = parseStandingReport(held.subarray(start.length, end).toString('latin1'));
      done({ kind: 'report', standing }, held.subarray(end + 1));
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) held = Buffer.concat([held, chunk]);
      look();
    };
    const onEnd = () => done({ kind: 'ended', output: held.toString('utf8').slice(0, 1024) }, held);
    const timer = setTimeout(() => {
      log.warn('no standing report from the exec in time; the session goes on without one', { waitedMs: timeoutMs });
      done({ kind: 'none', why: `no report within ${timeoutMs} ms` }, held);
    }, timeoutMs);
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    // Destroyed (the session ended before its shell ran): no 'end' comes.
    stream.once('close', onEnd);
  });
}

/** One thing wanted that does not hold. `minor`: audited, but no notice in the tab. */
export interface Shortfall {
  what: string;
  minor: boolean;
}

/** Whether two CPU lists name the same CPUs. */
export function sameCpus(a: string, b: string): boolean {
  return cpuSet(a)?.join() === cpuSet(b)?.join();
}

/** What `resources` asks for and `standing` does not have. */
export function assessStanding(resources: SessionResources, standing: Standing | undefined): Shortfall[] {
  if (!standing) return [{ what: 'its priority and limits (the agent got no report of them)', minor: false }];
  const missing: Shortfall[] = [];
  if (resources.priority === 'idle') {
    if (standing.nice !== 19) missing.push({ what: `nice 19 (it runs at ${standing.nice ?? 'an unknown nice value'})`, minor: false });
    // "SCHED_IDLE where allowed": nice 19 alone already leaves the workload nearly all the CPU.
    if (standing.policy !== 'idle') missing.push({ what: 'SCHED_IDLE', minor: true });
    if (standing.io !== 'idle') missing.push({ what: 'idle I/O priority', minor: false });
    if (standing.oomScoreAdj !== 1000) missing.push({ what: 'oom_score_adj 1000', minor: false });
  }
  if (resources.cpus !== undefined && (standing.cpus === null || !sameCpus(standing.cpus, resources.cpus))) {
    missing.push({ what: `CPUs ${resources.cpus} (it may run on ${standing.cpus ?? 'unknown CPUs'})`, minor: false });
  }
  if (resources.memoryBytes !== undefined) {
    const wanted = Math.floor(resources.memoryBytes / 1024) * 1024;
    if (standing.memoryBytes !== wanted) missing.push({ what: `a memory cap of ${mib(wanted)} per process`, minor: false });
  }
  if (resources.processes !== undefined && standing.processes !== resources.processes) {
    missing.push({ what: `a cap of ${resources.processes} processes`, minor: false });
  }
  return missing;
}

/** The tab's notice for what could not be applied; undefined when nothing the tab must tell is missing. */
export function standingNotice(missing: Shortfall[]): string | undefined {
  const told = missing.filter((m) => !m.minor).map((m) => m.what);
  if (told.length === 0) return undefined;
  const notice = `This shell could not be given ${told.join('; ')}: it competes with the container's workload more than the agent's rules intend. The agent's audit log has the details.`;
  return notice.length <= MAX_NOTICE_LENGTH ? notice : `${notice.slice(0, MAX_NOTICE_LENGTH - 1)}…`;
}
