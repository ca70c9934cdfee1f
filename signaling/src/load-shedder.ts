import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/**
 * Event-loop delay above which a node refuses new handshakes, as the 90th percentile of the last
 * window: a lag that lasts, not one pause (a collection, one large message) that a p99 would catch.
 */
export const SHED_EVENT_LOOP_DELAY_MS = 200;
/** How often the delay is read, and the window it covers. */
export const SHED_WINDOW_MS = 1000;
/** How often the loop is sampled: each sample is the time since the previous one (10 ms when idle). */
export const SHED_SAMPLE_MS = 10;
/**
 * The `retryAfterMs` a shed handshake is told (clients add a random part of up to as much again):
 * long enough for a storm's first wave to be served, short enough that a client waits little.
 */
export const SHED_RETRY_AFTER_MS = 2000;

/**
 * Tells when this node is too busy to take new clients (docs/scale-out.md, "Load shedding"): while
 * its event loop lags, new handshakes are refused with RATE_LIMITED and a retry-after, so that the
 * clients already connected keep being served at speed, instead of everyone slowing down. Also
 * the figures `/healthz` and the debug stats report.
 */
export class LoadShedder {
  readonly #histogram: RecordableHistogram = createHistogram();
  readonly #timer: NodeJS.Timeout;
  #delayP90Ms = 0;
  #delayP99Ms = 0;
  #delayMaxMs = 0;
  #shed = 0;

  /**
   * The loop is sampled here, not with `monitorEventLoopDelay`: that one records a stall from its
   * own timer once the stall is over, and when the window was closed (its histogram reset, which
   * also forgets when the last sample was taken) in the same turn before that, the stall was
   * dropped. Seen in the signaling bench: a departure's 1.4 s stall, which a monitor never reset saw,
   * was reported as 0.55 s by the shedder and `/healthz`. Here the sample and the end of the window
   * are taken in one callback, in that order.
   */
  constructor(
    private readonly thresholdMs = SHED_EVENT_LOOP_DELAY_MS,
    windowMs = SHED_WINDOW_MS,
    sampleMs = SHED_SAMPLE_MS,
  ) {
    let last = performance.now();
    let windowStart = last;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#histogram.record(Math.max(1, Math.round((now - last) * 1e6)));
      last = now;
      if (now - windowStart < windowMs) return;
      windowStart = now;
      this.#delayP90Ms = this.#histogram.percentile(90) / 1e6;
      this.#delayP99Ms = this.#histogram.percentile(99) / 1e6;
      this.#delayMaxMs = this.#histogram.max / 1e6;
      this.#histogram.reset();
    }, sampleMs);
    this.#timer.unref();
  }

  /** true while new handshakes should be refused. */
  get overloaded(): boolean {
    return this.#delayP90Ms > this.thresholdMs;
  }

  /** Counts a refused handshake; returns the count so far. */
  shed(): number {
    return ++this.#shed;
  }

  /** The last window's event-loop delay (its p90 decides), and the handshakes refused so far. */
  figures(): { eventLoopDelayP90Ms: number; eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number; shedSoFar: number } {
    const ms = (value: number) => Math.round(value * 10) / 10;
    return {
      eventLoopDelayP90Ms: ms(this.#delayP90Ms),
      eventLoopDelayP99Ms: ms(this.#delayP99Ms),
      eventLoopDelayMaxMs: ms(this.#delayMaxMs),
      shedSoFar: this.#shed,
    };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
