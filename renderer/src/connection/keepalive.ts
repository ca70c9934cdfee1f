import { Emitter, type Disposable } from '../base/emitter';

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
/**
 * How long a ping may go unanswered before the console says so (a quiet sign on the agent's tabs
 * and dot), long before it gives up at `KEEPALIVE_TIMEOUT_MS`. A pong takes one round trip, well
 * under a second on any link a terminal is usable over; 3 s leaves room for an SCTP retransmission
 * on a lossy link and still shows a frozen agent within 3–8 s (pings go every 5 s), not 15.
 */
export const KEEPALIVE_UNANSWERED_NOTICE_MS = 3_000;
/** While a ping stays unanswered past the notice, how often the time so far is reported again. */
export const KEEPALIVE_UNANSWERED_STEP_MS = 1_000;

/** The words of the sign an agent's tabs and dot show while a ping waits past the notice. */
export function unansweredText(ms: number): string {
  return `no answer from the agent for ${Math.floor(ms / 1000)} s`;
}

export interface KeepaliveOptions {
  intervalMs?: number;
  timeoutMs?: number;
  /** how long a ping may go unanswered before `onUnanswered` says so */
  noticeMs?: number;
  now?: () => number;
}

/**
 * Pings at an interval and calls `onSilent` once when a ping has gone unanswered for `timeoutMs`:
 * "answered" is anything heard from the agent after the ping was sent (`heard()`), so a busy
 * terminal needs no pong to count as alive. Before that, once a ping has gone unanswered for
 * `noticeMs`, `onUnanswered` reports how long, every second, and `undefined` the moment anything
 * is heard: the console shows the agent's silence while it still waits for it.
 *
 * The clock starts at the first unanswered ping, not at the last message heard: a page whose
 * timers were throttled (a hidden window) pings late, and must not take its own late ping for
 * the agent's silence.
 */
export class Keepalive implements Disposable {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly noticeMs: number;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** the next report of an unanswered ping: the first after `noticeMs`, then every second */
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  /** how long the oldest unanswered ping has waited, as last reported; undefined when none is */
  private reported: number | undefined;
  private readonly unansweredEmitter = new Emitter<number | undefined>();
  /** Milliseconds a ping has gone unanswered (past `noticeMs`), again every second; `undefined` once answered. */
  readonly onUnanswered = this.unansweredEmitter.event;
  /** when the oldest ping that nothing has been heard since was sent */
  private unansweredSince: number | undefined;
  private stopped = false;
  /** the end of a probe's grace (probe): silent then unless something was heard */
  private probeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly sendPing: () => void,
    private readonly onSilent: (silentMs: number, probed: boolean) => void,
    options: KeepaliveOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? KEEPALIVE_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? KEEPALIVE_TIMEOUT_MS;
    this.noticeMs = options.noticeMs ?? KEEPALIVE_UNANSWERED_NOTICE_MS;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  /** Something arrived from the agent: every ping sent so far counts as answered. */
  heard(): void {
    this.unansweredSince = undefined;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    if (this.noticeTimer !== undefined) {
      clearTimeout(this.noticeTimer);
      this.noticeTimer = undefined;
    }
    if (this.reported !== undefined) {
      this.reported = undefined;
      this.unansweredEmitter.fire(undefined);
    }
  }

  /** How long the oldest unanswered ping has waited, as last reported; undefined when none has for `noticeMs`. */
  get unansweredMs(): number | undefined {
    return this.reported;
  }

  /** One interval: judge the silence so far, then ping. Public for tests. */
  tick(): void {
    if (this.stopped) return;
    const now = this.now();
    if (this.unansweredSince !== undefined && now - this.unansweredSince >= this.timeoutMs) {
      this.dispose();
      this.onSilent(now - this.unansweredSince, false);
      return;
    }
    if (this.unansweredSince === undefined) {
      this.unansweredSince = now;
      this.scheduleNotice(this.noticeMs);
    }
    this.sendPing();
  }

  /**
   * Pings at once and, unless something is heard within `graceMs`, judges the agent silent then
   * rather than after the whole timeout: for a hint from elsewhere that it is gone (it left the
   * signaling server). An agent that answers goes on as before.
   */
  probe(graceMs: number): void {
    if (this.stopped || this.probeTimer !== undefined) return;
    if (this.unansweredSince === undefined) {
      this.unansweredSince = this.now();
      this.scheduleNotice(this.noticeMs);
    }
    this.sendPing();
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.stopped || this.unansweredSince === undefined) return;
      const silent = this.now() - this.unansweredSince;
      this.dispose();
      this.onSilent(silent, true);
    }, graceMs);
  }

  dispose(): void {
    this.stopped = true;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    clearInterval(this.timer);
    clearTimeout(this.noticeTimer);
    this.timer = undefined;
    this.noticeTimer = undefined;
    // Whatever comes next (a lost connection, a closed one) replaces the sign: it goes first.
    if (this.reported !== undefined) {
      this.reported = undefined;
      this.unansweredEmitter.fire(undefined);
    }
    this.unansweredEmitter.dispose();
  }

  private scheduleNotice(delayMs: number): void {
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => this.notice(), delayMs);
  }

  /** Reports the unanswered ping's wait, and plans the next report at the next whole second of it. */
  private notice(): void {
    this.noticeTimer = undefined;
    if (this.stopped || this.unansweredSince === undefined) return;
    const waited = this.now() - this.unansweredSince;
    // A timer can run a little early against the clock: report only a wait that has reached the notice.
    if (waited < this.noticeMs) return this.scheduleNotice(this.noticeMs - waited);
    this.reported = waited;
    this.unansweredEmitter.fire(waited);
    const step = KEEPALIVE_UNANSWERED_STEP_MS;
    this.scheduleNotice(step - (waited % step));
  }
}
