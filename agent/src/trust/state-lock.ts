/**
 * One running agent per state folder: `agent.lock` holds the pid of the agent that uses it, created
 * exclusively. Two agents on one folder would share an identity (Chromium's DTLS handshakes then fail)
 * and race on consoles.json and pairings.json. A lock whose pid is gone is stale and taken over.
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

function holder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (cause) {
    log.debug('lock file not readable', { path, error: describeError(cause) });
    return undefined;
  }
}

/** Takes the state folder's lock for this process; an error with a sentence when another agent holds it. */
export function lockStateDir(stateDir: string, pid = process.pid): Result<StateLock, string> {
  ensureStateDir(stateDir);
  const path = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return ok({
        path,
        release: () => {
          if (released) return;
          released = true;
          if (holder(path) !== pid) return;
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
    if (other !== undefined && other !== pid && isAlive(other)) {
      return err(`another tether-agent (pid ${other}) is using the state folder ${stateDir}; stop it, or give this one its own --state-dir`);
    }
    if (other === pid) return err(`this process already holds ${path}`);
    log.warn('stale state lock taken over', { path, pid: other ?? null });
    try {
      unlinkSync(path);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') return err(`cannot remove the stale lock ${path}: ${describeError(cause)}`);
    }
  }
  return err(`cannot lock ${path}: another agent took it at the same time`);
}
