/**
 * Ends every process of a terminal session. Closing the exec stream leaves the shell running, so
 * the agent signals the whole session: from the host, every process whose session id (field 6 of
 * /proc/<pid>/stat) is the exec's pid; where the host /proc is not usable (another pid namespace,
 * no permission), from inside the container, every process whose environment carries
 * TETHER_SESSION=<id>. That scan runs as the session's own user: root in a container has no
 * CAP_SYS_PTRACE and cannot read another user's /proc/<pid>/environ, so a scan as root finds
 * nothing of a session run as 1000:1000 and leaves its shell running.
 */
import { readdir, readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import { attempt, describeError } from './deadline.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** How long processes get between SIGHUP and SIGKILL. */
export const KILL_GRACE_MS = 1000;
/**
 * How long the agent waits for the in-container kill script (two /proc scans and a 1 s grace). On
 * a loaded host (load 12 on 2 cores) the exec alone took over 5 s; the script goes on after the
 * agent stops waiting, but the agent would then report a session ended whose processes still run.
 */
export const KILL_EXEC_TIMEOUT_MS = 15_000;

export type KillMethod = 'host-proc' | 'container-exec' | 'none';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Host pids whose session id is `sid`; undefined when /proc cannot tell. */
export async function sessionMembers(sid: number, procRoot = '/proc'): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch (cause) {
    log.debug('host /proc unreadable', { error: describeError(cause) });
    return undefined;
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`${procRoot}/${entry}/stat`, 'utf8');
    } catch {
      continue; // the process ended while we looked: nothing to kill
    }
    // comm (field 2) may hold spaces and parentheses: fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); session id is field 6.
    if (Number(fields[3]) === sid) members.push(Number(entry));
  }
  return members;
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
  try {
    const environ = await readFile(`${procRoot}/${pid}/environ`, 'utf8');
    return environ.split('\0').includes(`TETHER_SESSION=${sessionId}`);
  } catch (cause) {
    log.debug('host /proc does not show the exec', { pid, error: describeError(cause) });
    return false;
  }
}

/** Kills the host session `sid`; false when the host /proc does not show it or signals fail. */
async function killOnHost(sid: number): Promise<boolean> {
  const members = await sessionMembers(sid);
  if (members === undefined) return false;
  if (members.length === 0) return true;
  const hup = signal(members, 'SIGHUP');
  if (hup.length === 0) return false;
  await sleep(KILL_GRACE_MS);
  const survivors = (await sessionMembers(sid)) ?? [];
  signal(survivors, 'SIGKILL');
  return true;
}

function containerScript(sessionId: string): string {
  // Runs in the container's own /proc; the exec running this script does not carry the marker.
  const marker = `TETHER_SESSION=${sessionId}`;
  const scan =
    `for e in /proc/[0-9]*/environ; do p=\${e#/proc/}; p=\${p%/environ}; ` +
    `if tr '\\0' '\\n' < "$e" 2>/dev/null | grep -qx '${marker}'; then echo $p; fi; done`;
  return `pids=$(${scan}); [ -n "$pids" ] && kill -HUP $pids 2>/dev/null; sleep 1; ` +
    `pids=$(${scan}); [ -n "$pids" ] && kill -KILL $pids 2>/dev/null; exit 0`;
}

async function killInContainer(container: Docker.Container, sessionId: string, user: string | undefined): Promise<boolean> {
  const created = await attempt(
    container.exec({ Cmd: ['/bin/sh', '-c', containerScript(sessionId)], ...(user ? { User: user } : {}), AttachStdout: true, AttachStderr: true }),
    'EXEC_FAILED',
    'creating the kill exec',
  );
  if (!created.ok) {
    log.warn('in-container kill failed', { sessionId, error: created.error.message });
    return false;
  }
  const started = await attempt(created.value.start({ hijack: true, stdin: false }), 'EXEC_FAILED', 'running the kill exec');
  if (!started.ok) {
    log.warn('in-container kill failed', { sessionId, error: started.error.message });
    return false;
  }
  const stream = started.value;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      log.warn('in-container kill did not finish in time', { sessionId, waitedMs: KILL_EXEC_TIMEOUT_MS });
      stream.destroy();
      resolve();
    }, KILL_EXEC_TIMEOUT_MS);
    stream.on('data', () => undefined);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return true;
}

export interface KillOptions {
  /** the user the session runs as (`uid:gid` or a name); the in-container scan runs as it. Default: the container's */
  user?: string | undefined;
  /**
   * The exec's host pid asked again, for a session whose pid Docker had not reported at start
   * (a busy engine): the host path then still works, without the in-container fallback.
   */
  resolvePid?: (() => Promise<number>) | undefined;
}

/** Ends every process of the session; returns how it did it. */
export async function killSession(
  container: Docker.Container,
  hostPid: number,
  sessionId: string,
  hostVisible: boolean,
  options: KillOptions = {},
): Promise<KillMethod> {
  let pid = hostPid;
  let visible = hostVisible;
  if (!visible && pid <= 0 && options.resolvePid) {
    pid = await options.resolvePid();
    visible = await hostSeesProcess(pid, sessionId);
  }
  if (visible && (await killOnHost(pid))) return 'host-proc';
  if (await killInContainer(container, sessionId, options.user)) return 'container-exec';
  log.error('could not kill the session processes', { sessionId, hostPid });
  return 'none';
}
