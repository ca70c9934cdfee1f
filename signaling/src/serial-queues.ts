/**
 * Runs the tasks of one key (a connection) one after the other. The shared state is asynchronous,
 * so without this a candidate could overtake the offer it follows, or a connection's cleanup run
 * before its registration had finished.
 */
export class SerialQueues {
  readonly #tails = new WeakMap<object, Promise<void>>();
  readonly #pending = new Set<Promise<void>>();

  /** Queues `task` behind the key's earlier tasks; `task` must not throw (it reports its own failures). */
  run(key: object, task: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(task);
    this.#tails.set(key, next);
    this.#pending.add(next);
    void next.finally(() => this.#pending.delete(next));
    return next;
  }

  /** Resolves once every queued task, and every task they queued, has run. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}
