/**
 * Rate limit for guessing pairing secrets and console keys on the LAN endpoint, counted per source
 * address and per claimed identity (the `pairingId` of a `pair:enroll`, the `consoleId` of a
 * `lan:auth`), never in total: failures from other addresses must not lock out an enrolled console
 * with a valid signature or the holder of a valid pairing token (issue 11: 30 failures from six
 * addresses used to refuse both for a minute).
 *
 * - An address with FAILURES_PER_ADDRESS failures in the window is refused.
 * - An identity with FAILURES_PER_IDENTITY failures in the window is refused to every address that
 *   itself has failed in the window: guessing one identity from many addresses then costs one
 *   address per further guess, while a clean address — the real console, the token's holder —
 *   still gets its attempt.
 */
export const FAILURES_PER_ADDRESS = 5;
export const FAILURES_PER_IDENTITY = 10;
export const WINDOW_MS = 60_000;

/** Most addresses and identities remembered at once; past it the oldest are forgotten (bounded memory). */
export const MAX_TRACKED = 10_000;

export class AttemptLimiter {
  private readonly byAddress = new Map<string, number[]>();
  private readonly byIdentity = new Map<string, number[]>();

  /** `now` is monotonic by default: a wall clock stepped back must not stretch the window into a lockout. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Addresses and identities with failures in the current window; for tests. */
  get size(): number {
    this.prune();
    return this.byAddress.size + this.byIdentity.size;
  }

  private recent(map: Map<string, number[]>, key: string): number {
    const since = this.now() - WINDOW_MS;
    const times = (map.get(key) ?? []).filter((t) => t > since);
    if (times.length === 0) map.delete(key);
    else map.set(key, times);
    return times.length;
  }

  /**
   * Forgets entries whose failures are all older than the window. Without it an address that
   * failed once and never came back stayed in the map for ever, one entry per address.
   */
  private prune(): void {
    const since = this.now() - WINDOW_MS;
    for (const map of [this.byAddress, this.byIdentity]) {
      for (const [key, times] of map) if (!times.some((t) => t > since)) map.delete(key);
    }
  }

  /** Whether an attempt from `address` claiming `identity` may be checked at all. */
  allow(address: string, identity: string): boolean {
    this.prune();
    const mine = this.recent(this.byAddress, address);
    if (mine >= FAILURES_PER_ADDRESS) return false;
    return mine === 0 || this.recent(this.byIdentity, identity) < FAILURES_PER_IDENTITY;
  }

  failed(address: string, identity: string): void {
    const at = this.now();
    for (const [map, key] of [
      [this.byAddress, address],
      [this.byIdentity, identity],
    ] as const) {
      const times = map.get(key) ?? [];
      times.push(at);
      map.delete(key); // re-inserted last: the map's order is the order of last failure
      map.set(key, times.slice(-Math.max(FAILURES_PER_ADDRESS, FAILURES_PER_IDENTITY)));
      while (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
    }
  }
}
