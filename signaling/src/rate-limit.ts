import { SIGNALING_MESSAGE_BURST, SIGNALING_MESSAGES_PER_SECOND } from '@tether/protocol';

/** Messages per second a socket may send on average (the agent's LAN endpoint allows the same). */
export const MESSAGES_PER_SECOND = SIGNALING_MESSAGES_PER_SECOND;
/** Messages a socket may send in a burst above that rate. */
export const MESSAGE_BURST = SIGNALING_MESSAGE_BURST;

/** A token bucket; refills from the clock on each call, so it needs no timer. */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    private readonly rate = MESSAGES_PER_SECOND,
    private readonly burst = MESSAGE_BURST,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
