/**
 * One running agent per state folder: `agent.lock` holds the pid of the agent that uses it, created
 * exclusively. Two agents on one folder would share an identity (Chromium's DTLS handshakes then fail)
 * and race on consoles.json and pairings.json. A lock whose pid is gone is stale and taken over.
 *
 * Beside the pid the lock records the boot id and the process's start time (Linux /proc): after a
 * crash or a power cut the old pid may belong to another process by the time systemd restarts the
 * agent (after a reboot, or in a container where the agent is always pid 1), and a lock checked by
 * pid alone would then keep the agent from ever starting again.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result } from '@tether/protocol';
import { describeError } from '../deadline.js';
import { createLogger } from '../log.js';
import { ensureStateDir } from './state-files.js';

const log = createLogger(import.meta.url);

export const LOCK_FILE = 'agent.lock';

export interface StateLock {
  readonly path: string;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): void;
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (cause) {
    return (cause as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lock file says: `<pid> [<boot id> <start time>]`; older agents wrote the pid only. */
interface Holder {
  pid: number;
  boot?: string | undefined;
  start?: string | undefined;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // not Linux, or the process is gone: the pid check alone decides
  }
}

const bootId = () => readProc('/proc/sys/kernel/random/boot_id')?.trim();

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTime(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function describe(pid: number): string {
  return [pid, bootId(), startTime(pid)].filter((v) => v !== undefined).join(' ');
}

function holder(path: string): Holder | undefined {
  try {
    const [pidText, boot, start] = readFileSync(path, 'utf8').trim().split(/\s+/);
    const pid = Number.parseInt(pidText ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? { pid, boot, start } : undefined;
  } catch (cause) {
    log.debug('lock file not readable', { path, error: describeError(cause) });
    return undefined;
  }
}

/** True while the process that wrote the lock still runs: same boot, pid alive, same start time. */
function stillHolds(h: Holder): boolean {
  const boot = bootId();
  if (h.boot !== undefined && boot !== undefined && h.boot !== boot) return false;
  if (!isAlive(h.pid)) return false;
  const start = startTime(h.pid);
  return h.start === undefined || start === undefined || h.start === start;
}

/** The pid of the live process holding the state folder's lock; undefined when none does. */
export function lockHolder(stateDir: string): number | undefined {
  const h = holder(join(stateDir, LOCK_FILE));
  return h !== undefined && stillHolds(h) ? h.pid : undefined;
}

/** Takes the state folder's lock for this process; an error with a sentence when another agent holds it. */
export function lockStateDir(stateDir: string, pid = process.pid): Result<StateLock, string> {
  try {
    ensureStateDir(stateDir);
  } catch (cause) {
    return err(`cannot use the state folder ${stateDir}: ${describeError(cause)}`);
  }
  const path = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${describe(pid)}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return ok({
        path,
        release: () => {
          if (released) return;
          released = true;
          if (holder(path)?.pid !== pid) return;
          try {
            unlinkSync(path);
          } catch (cause) {
            log.warn('state lock not removed', { path, error: describeError(cause) });
          }
        },
      });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') return err(`cannot lock ${path}: ${describeError(cause)}`);
    }
    const other = holder(path);
    if (other !== undefined && stillHolds(other)) {
      if (other.pid === pid) return err(`this process already holds ${path}`);
      return err(
        `another tether-agent (pid ${other.pid}) is using the state folder ${stateDir}; stop it, or give this one its own --state-dir`,
      );
    }
    log.warn('stale state lock taken over', { path, pid: other?.pid ?? null });
    try {
      unlinkSync(path);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') return err(`cannot remove the stale lock ${path}: ${describeError(cause)}`);
    }
  }
  return err(`cannot lock ${path}: another agent took it at the same time`);
}
