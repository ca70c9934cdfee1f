import type { Disposable } from '../base/emitter';

/** How often a ready connection pings the agent on `control`. */
export const KEEPALIVE_INTERVAL_MS = 5_000;
/**
 * How long a ping may go with nothing at all heard from the agent, on any channel, before the
 * connection counts as lost. ICE consent checks keep a peer connection `connected` as long as
 * STUN gets through, even when SCTP, above DTLS, has stopped delivering: only a message from the
 * agent shows that the data path works. On a very bad link (30 % loss, 600 ms round trip) SCTP
 * retransmissions can hold a message back for several seconds; this is well above that.
 */
export const KEEPALIVE_TIMEOUT_MS = 15_000;

export interface KeepaliveOptions {
  intervalMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Pings at an interval and calls `onSilent` once when a ping has gone unanswered for `timeoutMs`:
 * "answered" is anything heard from the agent after the ping was sent (`heard()`), so a busy
 * terminal needs no pong to count as alive.
 *
 * The clock starts at the first unanswered ping, not at the last message heard: a page whose
 * timers were throttled (a hidden window) pings late, and must not take its own late ping for
 * the agent's silence.
 */
export class Keepalive implements Disposable {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** when the oldest ping that nothing has been heard since was sent */
  private unansweredSince: number | undefined;
  private stopped = false;

  constructor(
    private readonly sendPing: () => void,
    private readonly onSilent: (silentMs: number) => void,
    options: KeepaliveOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? KEEPALIVE_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? KEEPALIVE_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  /** Something arrived from the agent: every ping sent so far counts as answered. */
  heard(): void {
    this.unansweredSince = undefined;
  }

  /** One interval: judge the silence so far, then ping. Public for tests. */
  tick(): void {
    if (this.stopped) return;
    const now = this.now();
    if (this.unansweredSince !== undefined && now - this.unansweredSince >= this.timeoutMs) {
      this.dispose();
      this.onSilent(now - this.unansweredSince);
      return;
    }
    this.unansweredSince ??= now;
    this.sendPing();
  }

  dispose(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
