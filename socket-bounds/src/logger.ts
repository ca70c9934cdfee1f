/** A log line's fields: who the connection is, and the figures behind the decision. */
export type BoundsLogFields = Record<string, unknown>;

/**
 * What the bounds log through. Only the two levels they use, so that each server passes the logger
 * it already has (the signaling server's JSON logger, the agent's module logger) and keeps its own
 * sink, level and module name.
 */
export interface BoundsLogger {
  /** a connection refused or ended */
  warn(msg: string, fields?: BoundsLogFields): void;
  /** a transport closed, with the most its queue held */
  debug(msg: string, fields?: BoundsLogFields): void;
}
