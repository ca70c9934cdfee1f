/**
 * Message-rate limits for what consoles send the agent (data channels, the LAN endpoint): a token
 * bucket per channel or connection, and a gate that answers a flood with one RATE_LIMITED per
 * NOTICE_INTERVAL_MS instead of one per message, so that refusing cannot itself grow a send buffer.
 */

/** At most one RATE_LIMITED answer per this long on one channel or connection; the rest are dropped. */
export const NOTICE_INTERVAL_MS = 1000;

/** A token bucket; refills from the clock on each call, so it needs no timer. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * True at most once per NOTICE_INTERVAL_MS: whether a refusal may be answered, or only dropped.
 * The over-rate frames of RateGate and the input TtyChannel refuses both answer through one.
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
