/**
 * Rate limit for guessing pairing secrets and console keys on the LAN endpoint: at most
 * FAILURES_PER_WINDOW failed attempts per address, and GLOBAL_FAILURES_PER_WINDOW in total, per
 * window; once over, every attempt is refused with RATE_LIMITED until the window has passed.
 */
export const FAILURES_PER_WINDOW = 5;
export const GLOBAL_FAILURES_PER_WINDOW = 30;
export const WINDOW_MS = 60_000;

export class AttemptLimiter {
  private readonly failures = new Map<string, number[]>();
  private global: number[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  private recent(list: number[]): number[] {
    const since = this.now() - WINDOW_MS;
    return list.filter((t) => t > since);
  }

  /** Addresses with failures in the current window; for tests. */
  get size(): number {
    return this.failures.size;
  }

  /**
   * Forgets addresses whose failures are all older than the window. Without it an address that
   * failed once and never came back stayed in the map for ever, one entry per address.
   */
  private prune(): void {
    const since = this.now() - WINDOW_MS;
    for (const [address, times] of this.failures) if (!times.some((t) => t > since)) this.failures.delete(address);
  }

  allow(address: string): boolean {
    this.prune();
    this.global = this.recent(this.global);
    const mine = this.recent(this.failures.get(address) ?? []);
    if (mine.length === 0) this.failures.delete(address);
    else this.failures.set(address, mine);
    return mine.length < FAILURES_PER_WINDOW && this.global.length < GLOBAL_FAILURES_PER_WINDOW;
  }

  failed(address: string): void {
    const at = this.now();
    this.failures.set(address, [...this.recent(this.failures.get(address) ?? []), at]);
    this.global.push(at);
  }
}
