/**
 * Every terminal session of the agent, attached or detached, by session id: where a `resume`
 * finds its session, and what the agent ends when it stops or a console is revoked.
 */
import type { SessionJournal } from './session-journal.js';
import type { TtySession } from './tty-session.js';

export class SessionRegistry {
  private readonly sessions = new Map<string, TtySession>();

  /** `journal`: where live sessions are written down, for a restarted agent to clean up after a crash. */
  constructor(private readonly journal?: SessionJournal) {}

  add(session: TtySession): void {
    this.sessions.set(session.sessionId, session);
    this.journal?.add({
      sessionId: session.sessionId, containerId: session.target.id, container: session.target.name,
      pid: session.hostPid, ...(session.user ? { user: session.user } : {}), startedAt: new Date().toISOString(),
    });
    void session.ended.then(() => {
      if (this.sessions.get(session.sessionId) === session) this.sessions.delete(session.sessionId);
      this.journal?.remove(session.sessionId);
    });
  }

  get(sessionId: string): TtySession | undefined {
    const session = this.sessions.get(sessionId);
    return session && !session.isEnded ? session : undefined;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions waiting for their console to resume them. */
  get detached(): number {
    return [...this.sessions.values()].filter((s) => !s.isAttached).length;
  }

  /** The longest-detached session of `owner` in the container named (or id-prefixed) `target`. */
  oldestDetached(owner: string, target: string): TtySession | undefined {
    return [...this.sessions.values()]
      .filter((s) => !s.isEnded && !s.isAttached && s.owner === owner && (s.target.name === target || s.target.id.startsWith(target)))
      .sort((a, b) => a.detachedAt - b.detachedAt)[0];
  }

  /** Ends the sessions whose owner matches (a revoked console): their processes are killed. */
  async endWhere(owner: (owner: string) => boolean, reason: string): Promise<void> {
    await Promise.all([...this.sessions.values()].filter((s) => owner(s.owner)).map((s) => s.dispose(reason)));
  }

  /** Ends every session; the agent is stopping. */
  async endAll(reason: string): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.dispose(reason)));
    this.sessions.clear();
  }
}
