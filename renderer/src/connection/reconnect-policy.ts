/**
 * When a console tries again to reach an agent whose connection was lost while tabs had shells on
 * it (protocol/README.md, "Resume"): quickly at first, then every few seconds, until the agent's
 * grace period for those shells is over. A network that is down for 20 s or more costs at most
 * one backoff step (5 s) plus one attempt's timeout after it comes back.
 */

/** The first retry after a loss. */
export const RESUME_BACKOFF_FIRST_MS = 500;
/** The longest wait between two attempts. */
export const RESUME_BACKOFF_MAX_MS = 5_000;
/** One attempt (signaling, ICE, DTLS, hello) may take this long before the next one starts. */
export const RESUME_CONNECT_TIMEOUT_MS = 10_000;

/** The wait before attempt `attempt` (1-based): 0.5, 1, 2, 4, 5, 5, … s. */
export function resumeBackoffMs(attempt: number): number {
  return Math.min(RESUME_BACKOFF_MAX_MS, RESUME_BACKOFF_FIRST_MS * 2 ** Math.max(0, attempt - 1));
}

/** Where an agent's reconnection stands, for the tabs that wait on it. */
export interface ReconnectState {
  /** when the connection was lost (Date.now()) */
  since: number;
  /** when the agent drops the shells it kept: no point trying after that */
  deadline: number;
  /** attempts started so far */
  attempt: number;
  /** why the last attempt failed */
  lastError: string | undefined;
}
