/**
 * Ends every process of a terminal session. Closing the exec stream leaves the shell running, so
 * the agent signals every process the session started, found two ways: its Linux session (field 6
 * of /proc/<pid>/stat is the exec's pid), and its marker, the `TETHER_SESSION=<id>` that every
 * process inherits from the exec's environment. The marker finds what left the session: `setsid`,
 * `nohup … &`, a double fork, a daemon. From the host (the agent as root) the scan is limited to
 * the container's pid namespace. Where the host /proc is not usable (another pid namespace, no
 * permission: the systemd unit's unprivileged user), the kill runs inside the container, as the
 * session's own user, on the marker alone: root in a container has no CAP_SYS_PTRACE and cannot
 * read another user's /proc/<pid>/environ, so a scan as root finds nothing of a session run as
 * 1000:1000 and leaves its shell running.
 *
 * Every exec also carries `TETHER_AGENT=<tag>`, the mark of the agent's state folder (`agentTag`):
 * a restarted agent finds by it the sessions of its killed predecessor that its journal does not
 * list, and never touches those of another agent on the same host.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
import type Docker from 'dockerode';
import { attempt, describeError } from './deadline.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** How long processes get between SIGHUP and SIGKILL. */
export const KILL_GRACE_MS = 1000;
/** How often the host kill looks whether the processes ended on SIGHUP. */
const KILL_POLL_MS = 50;
/**
 * How long the agent waits for the in-container kill script (two /proc scans and a 1 s grace). On
 * a loaded host (load 12 on 2 cores) the exec alone took over 5 s; the script goes on after the
 * agent stops waiting, but the agent would then report a session ended whose processes still run.
 */
export const KILL_EXEC_TIMEOUT_MS = 15_000;

/** The variable that marks every process of a session: `TETHER_SESSION=<session id>`. */
export const SESSION_MARKER = 'TETHER_SESSION';
/** The variable that marks every process of an agent's sessions: `TETHER_AGENT=<agent tag>`. */
export const AGENT_MARKER = 'TETHER_AGENT';

export type KillMethod = 'host-proc' | 'container-exec' | 'none';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The agent's mark, from its identity's fingerprint: the same across restarts on one state folder,
 * different for every other agent (each state folder has its own identity).
 */
export function agentTag(fingerprint: string): string {
  return createHash('sha256').update(fingerprint).digest('hex').slice(0, 16);
}

/** The environment entries that mark a session's processes. */
export function sessionMarkers(sessionId: string, agentTag: string | undefined): string[] {
  return [`${SESSION_MARKER}=${sessionId}`, ...(agentTag ? [`${AGENT_MARKER}=${agentTag}`] : [])];
}

/** A host process as the kill sees it. */
export interface HostProcess {
  pid: number;
  /** its Linux session id */
  sid: number;
  /** its `TETHER_SESSION`, when its environment could be read and carries one */
  session: string | undefined;
  /** its `TETHER_AGENT` */
  agent: string | undefined;
  /** its pid namespace (`pid:[4026532]`), when readable */
  pidNamespace: string | undefined;
  /**
   * false when its environment read empty or could not be read: not ours to read, or caught in
   * `execve` (between the kernel replacing its memory and writing the new environment)
   */
  environRead: boolean;
}

/** The pid namespace of host process `pid` (`pid:[…]`); undefined when it cannot be read. */
export async function pidNamespaceOf(pid: number, procRoot = '/proc'): Promise<string | undefined> {
  if (pid <= 0) return undefined;
  try {
    return await readlink(`${procRoot}/${pid}/ns/pid`);
  } catch (cause) {
    log.debug('pid namespace unreadable', { pid, error: describeError(cause) });
    return undefined;
  }
}

function markerValue(environ: string, name: string): string | undefined {
  const prefix = `${name}=`;
  for (const entry of environ.split('\0')) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}

/**
 * Host processes, with their session ids and markers; only those of pid namespace `namespace` when
 * given (the container's). Undefined when the host /proc cannot be listed.
 */
export async function hostProcesses(namespace?: string, procRoot = '/proc'): Promise<HostProcess[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch (cause) {
    log.debug('host /proc unreadable', { error: describeError(cause) });
    return undefined;
  }
  // Every read may fail: the process ended while we looked, or it is not ours to read. The reads
  // go out PROC_READS_AT_ONCE at a time (a host has hundreds of processes; one after the other
  // they cost 10-30 ms on a 2-core host, on the way to a session's first prompt), bounded so that
  // a host with thousands does not hold thousands of descriptors open; results in /proc's order.
  const pids = entries.filter((entry) => /^\d+$/.test(entry));
  const read = await mapBounded(pids, PROC_READS_AT_ONCE, async (entry): Promise<HostProcess | undefined> => {
    const pidNamespace = await readlink(`${procRoot}/${entry}/ns/pid`).catch(() => undefined);
    if (namespace !== undefined && pidNamespace !== namespace) return undefined;
    const stat = await readFile(`${procRoot}/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) return undefined;
    // comm (field 2) may hold spaces and parentheses: fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); session id is field 6. A zombie has ended already: only its
    // parent can remove it (the container's init, when it has one).
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    const environ = await readFile(`${procRoot}/${entry}/environ`, 'latin1').catch(() => '');
    return {
      pid: Number(entry),
      sid: Number(fields[3]),
      session: markerValue(environ, SESSION_MARKER),
      agent: markerValue(environ, AGENT_MARKER),
      pidNamespace,
      environRead: environ.length > 0,
    };
  });
  return read.filter((found): found is HostProcess => found !== undefined);
}

/** How many processes hostProcesses reads at once. */
const PROC_READS_AT_ONCE = 16;

/** `map` over `items` with at most `limit` calls pending at once; results in `items`' order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await map(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Host pids whose session id is `sid`; undefined when /proc cannot tell. */
export async function sessionMembers(sid: number, procRoot = '/proc'): Promise<number[] | undefined> {
  return (await hostProcesses(undefined, procRoot))?.filter((p) => p.sid === sid).map((p) => p.pid);
}

/** Signals each pid; `refused` when any could not be signalled for another reason than having ended. */
function signal(pids: number[], sig: NodeJS.Signals): { refused: boolean } {
  let refused = false;
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ESRCH') continue;
      refused = true;
      log.warn('could not signal process', { pid, sig, error: describeError(cause) });
    }
  }
  return { refused };
}

/**
 * True when the agent sees the exec'd process in the host /proc: its environment carries the
 * session marker. Checked once at start, so the kill need not guess whether an empty scan means
 * "all ended" or "another pid namespace".
 */
export async function hostSeesProcess(pid: number, sessionId: string, procRoot = '/proc'): Promise<boolean> {
  if (pid <= 0) return false;
  // Docker may report the exec's pid while runc is still setting it up, before it executes the
  // shell with the session's environment: a readable environ without the marker is asked again
  // for a while (seen under load: the session then fell back to the in-container kill).
  for (let attempt = 0; ; attempt++) {
    let environ: string;
    try {
      environ = await readFile(`${procRoot}/${pid}/environ`, 'latin1');
    } catch (cause) {
      log.debug('host /proc does not show the exec', { pid, error: describeError(cause) });
      return false;
    }
    if (markerValue(environ, SESSION_MARKER) === sessionId) return true;
    if (attempt >= MARKER_POLLS) {
      log.debug('the exec never showed its marker in the host /proc', { pid });
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, MARKER_POLL_MS));
  }
}

/** How often, and how far apart, hostSeesProcess asks again for a process still being set up. */
const MARKER_POLLS = 40;
const MARKER_POLL_MS = 25;

/** What a host kill selects: the exec's Linux session, and the session's marker. */
export interface HostKillSelector {
  /** the exec's host pid, whose Linux session is the session's; 0 when unknown */
  sid: number;
  sessionId: string;
  /** the container's pid namespace, to which the scan is limited; the whole host when unknown */
  pidNamespace: string | undefined;
}

/**
 * What one scan of the host /proc finds of a session: its processes, and those that may be its own
 * but could not be told at this moment.
 */
export interface SessionScan {
  /** processes of the session: its marker, or the exec's Linux session in the container's namespace */
  members: number[];
  /**
   * Live processes of the exec's pid or Linux session whose environment read empty or could not be
   * read: a process reads so while it `execve`s (the kernel has replaced its memory but not yet
   * written the new environment), which is when the session's script `exec`s the shell. Never
   * signalled, only looked at again.
   */
  uncertain: number[];
}

/** Scans the host /proc for the session's processes; undefined when it cannot be listed. */
export async function scanSession(selector: HostKillSelector, procRoot = '/proc'): Promise<SessionScan | undefined> {
  const all = await hostProcesses(selector.pidNamespace, procRoot);
  if (all === undefined) return undefined;
  // The Linux session only within the container's namespace, and only while the exec's pid is not
  // another process's: once the shell ended its pid may be reused, and that pid's session is not ours.
  const leader = all.find((p) => p.pid === selector.sid);
  const inNamespace = selector.sid > 0 && selector.pidNamespace !== undefined;
  const leaderOurs = leader === undefined || leader.session === selector.sessionId;
  const bySid = inNamespace && leaderOurs;
  const members = all.filter((p) => (bySid && p.sid === selector.sid) || p.session === selector.sessionId).map((p) => p.pid);
  const uncertain = inNamespace
    ? all.filter((p) => (p.pid === selector.sid || p.sid === selector.sid) && !p.environRead).map((p) => p.pid)
    : [];
  return { members, uncertain };
}

/** How long a kill keeps looking at processes it cannot tell yet, or that appear after the signals. */
const KILL_SETTLE_MS = 1000;

/**
 * Kills, from the host, every process of the session: SIGHUP, then SIGKILL a second later for what
 * is left (a `nohup`ed process ignores the first). Each scan also finds what a process forked
 * meanwhile (it carries the marker too), and a process caught in `execve` is looked at again, not
 * passed over: the session's script `exec`s the shell, and a kill at that moment used to miss it
 * and leave the shell running. The pids it signalled; undefined when the host /proc does not show
 * them or a signal is refused (the in-container kill then runs).
 */
export async function killOnHost(selector: HostKillSelector, procRoot = '/proc'): Promise<number[] | undefined> {
  let scan = await scanSession(selector, procRoot);
  if (scan === undefined) return undefined;
  const signalled = new Set<number>();
  const started = performance.now();
  let sig: NodeJS.Signals = 'SIGHUP';
  for (;;) {
    // SIGHUP what is new, and once the grace is over, SIGKILL everything found still alive.
    const targets = sig === 'SIGHUP' ? scan.members.filter((pid) => !signalled.has(pid)) : scan.members;
    if (targets.length > 0) {
      const sent = signal(targets, sig);
      if (sent.refused) return undefined;
      for (const pid of targets) signalled.add(pid);
    }
    if (scan.members.length === 0 && scan.uncertain.length === 0) return [...signalled];
    const elapsed = performance.now() - started;
    if (elapsed >= KILL_GRACE_MS + KILL_SETTLE_MS) {
      log.warn('session processes still seen after the kill', { sessionId: selector.sessionId, ...scan });
      return [...signalled];
    }
    if (elapsed >= KILL_GRACE_MS) sig = 'SIGKILL';
    // Most processes end on SIGHUP at once: look again at once after one, else after a pause.
    if (sig === 'SIGKILL' || targets.length === 0) await sleep(KILL_POLL_MS);
    scan = (await scanSession(selector, procRoot)) ?? { members: [], uncertain: [] };
  }
}

/**
 * The shell script that kills, inside the container, every process whose environment carries
 * `marker` (`NAME=value`), and prints `<pid> <TETHER_SESSION value>` for each it found first. The
 * exec running this script does not carry the marker.
 */
export function containerKillScript(marker: string): string {
  const scan =
    `for e in /proc/[0-9]*/environ; do p=\${e#/proc/}; p=\${p%/environ}; ` +
    `v=$(tr '\\0' '\\n' < "$e" 2>/dev/null); ` +
    `if printf '%s\\n' "$v" | grep -qx '${marker}'; then ` +
    `s=$(printf '%s\\n' "$v" | grep '^${SESSION_MARKER}=' | head -n 1); echo "$p \${s#${SESSION_MARKER}=}"; fi; done`;
  return (
    `found=$(${scan}); printf '%s\\n' "$found"; pids=$(printf '%s\\n' "$found" | cut -d' ' -f1); ` +
    `[ -n "$pids" ] && kill -HUP $pids 2>/dev/null; [ -n "$pids" ] && sleep 1; ` +
    `pids=$(${scan} | cut -d' ' -f1); [ -n "$pids" ] && kill -KILL $pids 2>/dev/null; exit 0`
  );
}

/** A process the in-container kill found: its pid in the container, and its session. */
export interface ContainerProcess {
  pid: number;
  session: string;
}

/**
 * Runs the kill script for `marker` in the container as `user`; the processes it found, or
 * undefined when the exec failed.
 */
export async function killInContainer(
  container: Docker.Container,
  marker: string,
  user: string | undefined,
): Promise<ContainerProcess[] | undefined> {
  const created = await attempt(
    // A TTY: the output comes raw, without Docker's stream headers.
    container.exec({
      Cmd: ['/bin/sh', '-c', containerKillScript(marker)],
      ...(user ? { User: user } : {}),
      AttachStdout: true,
      AttachStderr: true,
      Tty: true,
    }),
    'EXEC_FAILED',
    'creating the kill exec',
  );
  if (!created.ok) {
    log.warn('in-container kill failed', { marker, error: created.error.message });
    return undefined;
  }
  const started = await attempt(
    created.value.start({ hijack: true, stdin: false, Tty: true } as Docker.ExecStartOptions),
    'EXEC_FAILED',
    'running the kill exec',
  );
  if (!started.ok) {
    log.warn('in-container kill failed', { marker, error: started.error.message });
    return undefined;
  }
  const stream = started.value;
  let output = '';
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      log.warn('in-container kill did not finish in time', { marker, waitedMs: KILL_EXEC_TIMEOUT_MS });
      stream.destroy();
      resolve();
    }, KILL_EXEC_TIMEOUT_MS);
    stream.on('data', (chunk: Buffer) => {
      if (output.length < 1024 * 1024) output += chunk.toString('utf8');
    });
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.once('close', done);
    stream.once('end', done);
  });
  return output
    .split(/\r?\n/)
    .map((line) => /^(\d+) (\S*)$/.exec(line.trim()))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), session: match[2]! }));
}

export interface KillOptions {
  /** the user the session runs as (`uid:gid` or a name); the in-container scan runs as it. Default: the container's */
  user?: string | undefined;
  /**
   * The exec's host pid asked again, for a session whose pid Docker had not reported at start
   * (a busy engine): the host path then still works, without the in-container fallback.
   */
  resolvePid?: (() => Promise<number>) | undefined;
  /** the container's pid namespace (read at start); read from the exec's pid when absent */
  pidNamespace?: string | undefined;
}

/** What a kill did: how, and how many processes it found. */
export interface KillResult {
  method: KillMethod;
  /** processes found and signalled; 0 when the session had no process left */
  found: number;
}

/** Ends every process of the session; returns how it did it and how many it found. */
export async function killSession(
  container: Docker.Container,
  hostPid: number,
  sessionId: string,
  hostVisible: boolean,
  options: KillOptions = {},
): Promise<KillResult> {
  let pid = hostPid;
  let visible = hostVisible;
  if (!visible && pid <= 0 && options.resolvePid) {
    pid = await options.resolvePid();
    visible = await hostSeesProcess(pid, sessionId);
  }
  if (visible) {
    const pidNamespace = options.pidNamespace ?? (await pidNamespaceOf(pid));
    const killed = await killOnHost({ sid: pid, sessionId, pidNamespace });
    if (killed !== undefined) return { method: 'host-proc', found: killed.length };
  }
  const found = await killInContainer(container, `${SESSION_MARKER}=${sessionId}`, options.user);
  if (found !== undefined) return { method: 'container-exec', found: found.length };
  log.error('could not kill the session processes', { sessionId, hostPid });
  return { method: 'none', found: 0 };
}
