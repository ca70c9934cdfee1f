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
/** One attempt (signaling, ICE, DTLS, hello) may take this long per stage before the next one starts. */
export const RESUME_CONNECT_TIMEOUT_MS = 10_000;

/** How many times a setup's timeout doubles at most, after attempts that ran out of it: 10, 20, 40 s. */
export const SETUP_TIMEOUT_DOUBLINGS = 2;

/**
 * The per-stage setup timeout of the next connection to an agent, after `timedOut` attempts in a
 * row that ran out of theirs. A link that is alive but slow (30 % loss and a 600 ms round trip:
 * the agent's answer over its TCP link, ICE checks and DTLS flights each retransmitted for
 * seconds) can need more than one timeout for a stage, and an attempt killed there starts the
 * next from scratch: over such a link a resume took 140 s of attempts failing at 10 s. Each one
 * that runs out doubles the next one's time, up to SETUP_TIMEOUT_DOUBLINGS times, until a
 * connection becomes ready; a failure for another reason (a refusal, the agent going offline)
 * neither adds to the count nor clears it. A dead path costs little more: an attempt waiting on
 * an agent whose signaling link died ends when the server reports it offline.
 */
export function setupTimeoutMs(baseMs: number, timedOut: number): number {
  return baseMs * 2 ** Math.min(Math.max(0, timedOut), SETUP_TIMEOUT_DOUBLINGS);
}

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
