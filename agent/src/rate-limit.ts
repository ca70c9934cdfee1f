/**
 * Message-rate limits for what consoles send the agent (data channels, the LAN endpoint): a token
 * bucket per channel or connection, and a gate that answers a flood with one RATE_LIMITED per
 * NOTICE_INTERVAL_MS instead of one per message, so that refusing cannot itself grow a send buffer.
 */

import { TokenBucket } from '@tether/protocol';

// The bucket is the protocol's (one for the whole repository); re-exported for the agent's callers.
export { TokenBucket };

/** At most one RATE_LIMITED answer per this long on one channel or connection; the rest are dropped. */
export const NOTICE_INTERVAL_MS = 1000;

/**
 * True at most once per NOTICE_INTERVAL_MS: whether a refusal may be answered, or only dropped.
 * The over-rate frames of RateGate and the input AgentTtyChannel refuses both answer through one.
 */
export class NoticeGate {
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number = () => performance.now()) {}

  allow(): boolean {
    const now = this.now();
    if (now - this.last < NOTICE_INTERVAL_MS) return false;
    this.last = now;
    return true;
  }
}

/** What to do with one inbound message. */
export type Admission = 'pass' | 'refuse' | 'drop';

/**
 * `pass` while the bucket has tokens; over the rate, `refuse` (answer RATE_LIMITED) at most once
 * per NOTICE_INTERVAL_MS and `drop` (no answer) otherwise. Counts what it refused and dropped.
 */
export class RateGate {
  /** messages over the rate since the gate was made */
  excess = 0;
  private readonly bucket: TokenBucket;
  private readonly notices: NoticeGate;

  constructor(rate: number, burst: number, now: () => number = () => performance.now()) {
    this.bucket = new TokenBucket(rate, burst, now);
    this.notices = new NoticeGate(now);
  }

  admit(): Admission {
    if (this.bucket.take()) return 'pass';
    this.excess++;
    return this.notices.allow() ? 'refuse' : 'drop';
  }
}
