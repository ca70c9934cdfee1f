import type { AgentConnection } from '../connection/agent-connection';
import { DisposableStore, type Disposable } from '../base/emitter';
import type { TerminalSession } from './terminal-session';

interface Abandoned {
  agentId: string;
  session: TerminalSession;
  /** when the agent drops the shell by itself: no point in reaching it after that */
  deadline: number;
  store: DisposableStore;
}

/**
 * Shells whose tab was closed while the console was reconnecting. The tab could not send `close`
 * then, and without this the agent would keep each shell, and whatever runs in it, for its whole
 * resume grace (5 minutes by default), counted against the container's session limit. On the
 * agent's next connection each is taken back with `open {resume}`, unseen, and ended with `close`;
 * one the agent no longer has (SESSION_NOT_FOUND) or whose grace is over is simply forgotten.
 */
export class AbandonedSessions implements Disposable {
  private readonly entries = new Set<Abandoned>();

  /** Takes over `session`, detached from its closed tab, to end it on the agent's next connection. */
  add(agentId: string, session: TerminalSession): void {
    const entry: Abandoned = { agentId, session, deadline: Date.now() + session.resumeGraceMs, store: new DisposableStore() };
    entry.store.add(session.onResumed(() => session.close()));
    entry.store.add(session.onClosed(() => this.forget(entry)));
    this.entries.add(entry);
  }

  /** Shells still waiting to be ended. */
  get size(): number {
    return this.entries.size;
  }

  /** How much longer the agent keeps its abandoned shells, the longest: how long reconnecting still pays. */
  graceFor(agentId: string): number {
    const now = Date.now();
    return Math.max(0, ...[...this.entries].filter((e) => e.agentId === agentId).map((e) => e.deadline - now));
  }

  /** Ends the abandoned shells whose agent's connection is ready now; a failed try is retried on a later call. */
  endReachable(connectionOf: (agentId: string) => AgentConnection | undefined): void {
    for (const entry of [...this.entries]) {
      if (Date.now() >= entry.deadline) {
        entry.session.dispose();
        continue;
      }
      const { session } = entry;
      const connection = connectionOf(entry.agentId);
      if (connection?.stage.kind !== 'ready' || !session.detached || session.resuming) continue;
      session.resume(connection);
    }
  }

  dispose(): void {
    for (const entry of [...this.entries]) entry.session.dispose();
  }

  private forget(entry: Abandoned): void {
    entry.store.dispose();
    this.entries.delete(entry);
  }
}
