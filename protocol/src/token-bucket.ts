/**
 * A token bucket, the one rate limit of the repository (signaling server, agent LAN endpoint, data
 * channels): `rate` tokens a second, at most `burst` saved up. It refills from the clock on each
 * call, so it needs no timer. `now` is in milliseconds, monotonic where the runtime has one.
 */
/** `performance.now()` where the runtime has it (Node, browsers), else the wall clock. */
const performanceClock = (globalThis as { performance?: { now(): number } }).performance;
const monotonicNow = performanceClock ? () => performanceClock.now() : () => Date.now();

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = monotonicNow,
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
