/** Tasks run per turn of the event loop, at most; the rest wait for the next turn. */
export const DEFERRED_CHUNK = 256;

/**
 * Work that may wait a turn of the event loop, run in order, `chunk` tasks per turn. Socket.IO
 * reports the close of every connection that ended in one turn (5,000 agents whose site lost its
 * uplink arrive in one poll of the sockets) inside that turn: handling each departure there, as it
 * is reported, kept the loop from timers and I/O for the whole burst. A departure only queues its
 * cleanup here; the cleanup runs in chunks, with timers, I/O (`/healthz`, the relay) and the
 * presence batches in between.
 */
export class DeferredWork {
  #tasks: (() => void)[] = [];
  #next = 0;
  #scheduled = false;
  #idle: (() => void)[] = [];

  constructor(
    /** told of a task that threw; the others still run */
    private readonly onError: (error: unknown) => void,
    private readonly chunk = DEFERRED_CHUNK,
  ) {}

  /** Queues a task. */
  push(task: () => void): void {
    this.#tasks.push(task);
    this.#schedule();
  }

  /** Tasks queued and not yet run. */
  get pending(): number {
    return this.#tasks.length - this.#next;
  }

  /** Resolves once every task queued so far, and every one they queued, has run. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#run());
  }

  #run(): void {
    this.#scheduled = false;
    const end = Math.min(this.#tasks.length, this.#next + this.chunk);
    while (this.#next < end) {
      const task = this.#tasks[this.#next]!;
      this.#tasks[this.#next++] = noop; // released at once, not when the whole burst is done
      try {
        task();
      } catch (error) {
        this.onError(error);
      }
    }
    if (this.#next < this.#tasks.length) {
      this.#schedule();
      return;
    }
    this.#tasks = [];
    this.#next = 0;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}

const noop = () => undefined;
