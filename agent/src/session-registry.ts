/**
 * Every terminal session of the agent, attached or detached, by session id: where a `resume`
 * finds its session, and what the agent ends when it stops or a console is revoked.
 */
import { protocolError, type ProtocolError } from '@tether/protocol';
import type { SessionJournal } from './session-journal.js';
import type { TtySession } from './tty-session.js';

export class SessionRegistry {
  private readonly sessions = new Map<string, TtySession>();
  private stopping: { reason: string; notice: ProtocolError } | undefined;

  /** `journal`: where live sessions are written down, for a restarted agent to clean up after a crash. */
  constructor(private readonly journal?: SessionJournal) {}

  /** Why a new session or a resume is refused now (the agent stops); undefined while none is. */
  get refusal(): ProtocolError | undefined {
    return this.stopping?.notice;
  }

  add(session: TtySession): void {
    this.sessions.set(session.sessionId, session);
    // Started while the agent began to stop: it ends with the others.
    if (this.stopping) void session.dispose(this.stopping.reason, null, this.stopping.notice);
    const entry = {
      sessionId: session.sessionId,
      containerId: session.target.id,
      container: session.target.name,
      pid: session.hostPid,
      ...(session.user ? { user: session.user } : {}),
      startedAt: new Date().toISOString(),
    };
    // Written at once, before the shell runs (pid 0: a restarted agent finds the processes by
    // their marker), and again with the host pid once it is known.
    this.journal?.add(entry);
    void session.running.then((running) => {
      if (running.ok && !session.isEnded && session.hostPid > 0) this.journal?.add({ ...entry, pid: session.hostPid });
    });
    void session.ended.then(() => {
      if (this.sessions.get(session.sessionId) === session) this.sessions.delete(session.sessionId);
      // Processes the kill could not reach stay in the journal: the next start tries again.
      if (!session.processesLeft) this.journal?.remove(session.sessionId);
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

  /**
   * Ends every session; the agent is stopping. From now on new sessions and resumes are refused
   * with `notice`; each open session sends its console all its output, then `notice`, before its
   * channel closes (tty-session.ts `dispose`). Resolves once every session has ended, with how many
   * left processes that could not be killed (their journal entries stay, for the next start).
   */
  async endAll(
    reason: string,
    notice: ProtocolError = protocolError('AGENT_STOPPED', `The agent stopped (${reason}); the shell was ended.`),
  ): Promise<number> {
    this.stopping = { reason, notice };
    let leftRunning = 0;
    while (this.sessions.size > 0) {
      const ending = [...this.sessions.values()];
      await Promise.all(ending.map((s) => s.dispose(reason, null, notice)));
      await Promise.all(ending.map((s) => s.ended));
      leftRunning += ending.filter((s) => s.processesLeft).length;
    }
    return leftRunning;
  }
}
