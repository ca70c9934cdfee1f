/**
 * A running session on a real container as the file channel sees it (registry entry, owner,
 * target, exec user), for tests of transfers without a terminal.
 */
import type Docker from 'dockerode';
import type { TestContainer } from '../../../harness/docker.js';
import type { TtySession } from '../../src/tty-session.js';

export function fakeTtySession(engine: Docker, c: TestContainer, sessionId: string, owner: string): TtySession {
  const session = {
    sessionId,
    owner,
    target: { id: c.id, name: c.name, container: engine.getContainer(c.id), labels: {} },
    user: '1000:1000',
    hostPid: 0,
    running: Promise.resolve({ ok: true, value: undefined }),
    isEnded: false,
    isAttached: true,
    processesLeft: false,
    ended: new Promise<void>(() => undefined),
  };
  return session as unknown as TtySession;
}
