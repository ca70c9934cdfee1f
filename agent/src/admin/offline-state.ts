/**
 * Changing the state folder when no agent runs on it: under the folder's lock (`agent.lock`), so
 * that an agent starting meanwhile waits its turn instead of racing the CLI on the same files, and
 * as the folder's owner, so that root pairing for a service leaves no file the service's user
 * cannot read.
 */
import { existsSync, statSync } from 'node:fs';
import { err, type Result } from '@tether/protocol';
import { describeError } from '../deadline.js';
import { lockHolder, lockStateDir } from '../trust/state-lock.js';
import { CONTROL_SOCKET } from './control-socket.js';

/** Runs `work` with the effective user and group of the folder's owner (root only; else as is). */
async function asOwnerOf<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const owner = existsSync(dir) ? statSync(dir) : undefined;
  if (process.getuid?.() !== 0 || owner === undefined || owner.uid === 0 || !process.seteuid || !process.setegid) return work();
  process.setegid(owner.gid);
  process.seteuid(owner.uid);
  try {
    return await work();
  } finally {
    process.seteuid(0);
    process.setegid(0);
  }
}

/**
 * Runs `work` on a state folder no agent runs on. Refuses, with a sentence, when an agent holds
 * the folder (it did not answer on its control socket, or the caller would have gone through it)
 * or when root would create the folder from nothing.
 */
export async function withIdleStateFolder<T>(stateDir: string, work: () => Promise<Result<T, string>>): Promise<Result<T, string>> {
  if (!existsSync(stateDir) && process.getuid?.() === 0) {
    return err(
      `there is no agent state folder at ${stateDir}: install the agent as a service first (tether-agent install-service), ` +
        'or start it once, or name the folder with --state-dir',
    );
  }
  return asOwnerOf(stateDir, async () => {
    const running = lockHolder(stateDir);
    if (running !== undefined) {
      return err(
        `the agent running on ${stateDir} (pid ${running}) does not answer on ${CONTROL_SOCKET}; ` +
          'it may be an older version: restart it, or stop it to change its state folder offline',
      );
    }
    const lock = lockStateDir(stateDir);
    if (!lock.ok) return lock;
    try {
      return await work();
    } catch (cause) {
      return err(describeError(cause));
    } finally {
      lock.value.release();
    }
  });
}
