import type { AgentRecord } from './agent-record';
import { connectionIsOver } from './agent-record';
import { resumeBackoffMs } from '../connection/reconnect-policy';

/** How long tabs on an agent can still resume their shells after a loss (the longest grace), 0 for none. */
export type ResumeGraceFor = (agentId: string) => number;

/** What retrying needs from the directory. */
export interface RetryHost {
  connect(agentId: string): void;
  changed(): void;
  resumeGraceFor: ResumeGraceFor;
}

/**
 * When a failed connection to an agent is made again. Two paces: a lost connection whose shells
 * the agent still keeps is re-established quickly (reconnect-policy.ts) until their grace is
 * over; any other failure of an online agent is retried 2, 4, 8… up to 30 s later.
 */
export class AgentRetry {
  constructor(private readonly host: RetryHost) {}

  /**
   * A connection to an online agent that failed is tried again, 2, 4, 8… up to 30 s later: a
   * restarted agent or a transient ICE failure should not need a click. Tabs keep their error
   * until the user reconnects them, since their shells are gone.
   */
  retry(record: AgentRecord): void {
    clearTimeout(record.retryTimer);
    record.failures += 1;
    const delay = Math.min(30_000, 1_000 * 2 ** record.failures);
    record.retryTimer = setTimeout(() => {
      record.retryTimer = undefined;
      if (record.online && !record.heldOff && connectionIsOver(record)) this.host.connect(record.agentId);
    }, delay);
  }

  /** The connection was lost with shells the agent keeps: try again quickly until their grace is over. */
  startReconnect(record: AgentRecord): void {
    const grace = this.host.resumeGraceFor(record.agentId);
    if (grace <= 0) return;
    const now = Date.now();
    record.reconnect = { since: now, deadline: now + grace, attempt: 0, lastError: undefined };
  }

  /** The next attempt of a reconnection under way, after its backoff. */
  resumeAttempt(record: AgentRecord): void {
    const reconnect = record.reconnect;
    if (!reconnect) return;
    clearTimeout(record.retryTimer);
    record.retryTimer = setTimeout(() => {
      record.retryTimer = undefined;
      if (record.reconnect !== reconnect) return;
      if (Date.now() >= reconnect.deadline) {
        // The agent has dropped the shells by now; back to the ordinary retry.
        record.reconnect = undefined;
        this.retry(record);
        this.host.changed();
        return;
      }
      if (!connectionIsOver(record)) return; // an attempt is under way
      reconnect.attempt += 1;
      if (!record.online) {
        reconnect.lastError = `${record.name} is offline; waiting for it to come back`;
        this.resumeAttempt(record);
      } else {
        this.host.connect(record.agentId);
      }
      this.host.changed();
    }, resumeBackoffMs(reconnect.attempt + 1));
  }
}
