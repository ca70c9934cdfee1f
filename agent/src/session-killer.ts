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
  const found: HostProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    // Every read may fail: the process ended while we looked, or it is not ours to read.
    const pidNamespace = await readlink(`${procRoot}/${entry}/ns/pid`).catch(() => undefined);
    if (namespace !== undefined && pidNamespace !== namespace) continue;
    const stat = await readFile(`${procRoot}/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // comm (field 2) may hold spaces and parentheses: fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const environ = await readFile(`${procRoot}/${entry}/environ`, 'latin1').catch(() => '');
    // fields[0] is field 3 (state); session id is field 6. A zombie has ended already: only its
    // parent can remove it (the container's init, when it has one).
    if (fields[0] === 'Z' || fields[0] === 'X') continue;
    found.push({
      pid,
      sid: Number(fields[3]),
      session: markerValue(environ, SESSION_MARKER),
      agent: markerValue(environ, AGENT_MARKER),
      pidNamespace,
    });
  }
  return found;
}

/** Host pids whose session id is `sid`; undefined when /proc cannot tell. */
export async function sessionMembers(sid: number, procRoot = '/proc'): Promise<number[] | undefined> {
  return (await hostProcesses(undefined, procRoot))?.filter((p) => p.sid === sid).map((p) => p.pid);
}

function signal(pids: number[], sig: NodeJS.Signals): number[] {
  const signalled: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
      signalled.push(pid);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH') log.warn('could not signal process', { pid, sig, error: describeError(cause) });
    }
  }
  return signalled;
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

async function selected(selector: HostKillSelector): Promise<number[] | undefined> {
  const all = await hostProcesses(selector.pidNamespace);
  if (all === undefined) return undefined;
  // The Linux session only within the container's namespace, and only while the exec's pid is not
  // another process's: once the shell ended its pid may be reused, and that pid's session is not ours.
  const leader = all.find((p) => p.pid === selector.sid);
  const bySid = selector.sid > 0 && selector.pidNamespace !== undefined && (leader === undefined || leader.session === selector.sessionId);
  return all.filter((p) => (bySid && p.sid === selector.sid) || p.session === selector.sessionId).map((p) => p.pid);
}

/**
 * Kills, from the host, every process of the session: SIGHUP, then SIGKILL a second later for what
 * is left (a `nohup`ed process ignores the first). The pids it found first; undefined when the host
 * /proc does not show them or signals fail.
 */
export async function killOnHost(selector: HostKillSelector): Promise<number[] | undefined> {
  const members = await selected(selector);
  if (members === undefined) return undefined;
  if (members.length === 0) return [];
  const hup = signal(members, 'SIGHUP');
  if (hup.length === 0) {
    // All gone between the scan and the signal, or not ours to signal: a second scan tells.
    const again = await selected(selector);
    return again === undefined || again.length > 0 ? undefined : members;
  }
  // Most processes end on SIGHUP at once: look again soon, and SIGKILL what is left after the
  // grace. Each scan also finds what a process forked meanwhile (it carries the marker too).
  let survivors = (await selected(selector)) ?? [];
  for (const started = Date.now(); survivors.length > 0 && Date.now() - started < KILL_GRACE_MS; ) {
    await sleep(KILL_POLL_MS);
    survivors = (await selected(selector)) ?? [];
  }
  signal(survivors, 'SIGKILL');
  return members;
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
