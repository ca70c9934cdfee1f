import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/**
 * Event-loop delay above which a node refuses new connections, as the 90th percentile of the last
 * window: a lag that lasts, not one pause (a collection, one large message) that a p99 would catch.
 */
export const SHED_EVENT_LOOP_DELAY_MS = 200;
/** The window the delay figures cover; the shedder decides on the last whole one. */
export const SHED_WINDOW_MS = 1000;
/** How often the loop is sampled: each sample is how late this timer ran. */
export const LOOP_SAMPLE_MS = 10;
/**
 * The retry-after a shed connection is told (HTTP `Retry-After`, in whole seconds): long enough
 * for a storm's first wave to be served, short enough that a client waits little.
 */
export const SHED_RETRY_AFTER_MS = 2000;

/**
 * Tells when this node is too busy to take new clients (docs/scale-out.md, "A fleet"): while its
 * event loop lags, new connections are refused before their WebSocket upgrade (`upgrade-gate.ts`),
 * so that the clients already connected keep being served at speed, instead of everyone slowing
 * down. Also the figures `/healthz` and the debug stats report.
 *
 * The loop is sampled by a timer of its own, whose lateness is each sample, and the window is
 * closed in the same callback after the sample is taken, so that no stall is lost. (Node's
 * `monitorEventLoopDelay` was used before: its `reset()` also forgets when it last ran, so a stall
 * that ended just before the window was closed was never recorded, and long stalls were reported
 * short or not at all.)
 */
export class LoadShedder {
  readonly #histogram: RecordableHistogram = createHistogram();
  readonly #timer: NodeJS.Timeout;
  #last = performance.now();
  #windowStart = this.#last;
  #delayP90Ms = 0;
  #delayP99Ms = 0;
  #delayMaxMs = 0;
  #shed = 0;

  constructor(private readonly thresholdMs = SHED_EVENT_LOOP_DELAY_MS) {
    this.#timer = setInterval(() => this.#sample(), LOOP_SAMPLE_MS);
    this.#timer.unref();
  }

  #sample(): void {
    const now = performance.now();
    const lateMs = Math.max(0, now - this.#last - LOOP_SAMPLE_MS);
    this.#last = now;
    this.#histogram.record(Math.max(1, Math.round(lateMs * 1e6))); // ns; a histogram records ≥ 1
    if (now - this.#windowStart < SHED_WINDOW_MS) return;
    this.#delayP90Ms = this.#histogram.percentile(90) / 1e6;
    this.#delayP99Ms = this.#histogram.percentile(99) / 1e6;
    this.#delayMaxMs = this.#histogram.max / 1e6;
    this.#histogram.reset();
    this.#windowStart = now;
  }

  /** true while new connections should be refused. */
  get overloaded(): boolean {
    return this.#delayP90Ms > this.thresholdMs;
  }

  /** Counts a refused connection; returns the count so far. */
  shed(): number {
    return ++this.#shed;
  }

  /** The last window's event-loop delay (its p90 decides), and the connections refused so far. */
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
