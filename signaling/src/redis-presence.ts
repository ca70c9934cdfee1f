import { AgentId, AgentInfo } from '@tether/protocol';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from './log.js';
import { AgentEntry, MAX_DEPARTURES_PER_STEP, type RedisKeys } from './redis-state.js';

/**
 * One presence change as `RedisState`'s scripts publish it, in the same step as they apply it:
 * `rev` counts the changes of the organisation, so a node that sees one missing knows it.
 */
const PresenceDelta = z.object({
  org: z.string().min(1).max(256),
  rev: z.number().int().min(1),
  joins: z.array(AgentInfo).max(1),
  leaves: z.array(AgentId).max(MAX_DEPARTURES_PER_STEP),
});
type PresenceDelta = z.infer<typeof PresenceDelta>;

/** Where the deltas go: this node's presence feed. */
export interface PresenceSink {
  onPresence(org: string, joins: AgentInfo[], leaves: string[]): void;
  onPresenceReset(org: string, agents: AgentInfo[]): void;
}

function parseEntry(text: string): AgentEntry | undefined {
  try {
    const parsed = AgentEntry.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // another node wrote it; a bad entry is left out of the list
  }
}

/** org's agents and the rev they are at, read in one step. */
const LOAD_PRESENCE = `return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1])}`;

/**
 * Presence across nodes as deltas (docs/scale-out.md): every node subscribes to the channel on
 * which the state's scripts publish each join and leave with its organisation's `rev`, and passes
 * them on in order. A node reads an organisation's whole list from Redis only when it has not got
 * it yet (it joined or rejoined the cluster) or when it sees a `rev` skipped (a message lost while
 * its subscriber reconnected); the deltas that arrive meanwhile wait and are applied after it.
 */
export class RedisPresence {
  /** the last rev applied, per organisation */
  readonly #revs = new Map<string, number>();
  /** organisations being read, and the deltas that arrived meanwhile */
  readonly #loading = new Map<string, PresenceDelta[]>();
  #closed = false;

  constructor(
    private readonly store: Redis,
    private readonly subscriber: Redis,
    private readonly keys: RedisKeys,
    private readonly sink: PresenceSink,
    private readonly log: Logger,
  ) {
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === keys.presenceChannel) this.#receive(text);
    });
  }

  /** Subscribes, then reads every organisation's list once. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(this.keys.presenceChannel);
    await this.reloadAll();
  }

  /** Reads every organisation's list again (after this node lost Redis, and the deltas meanwhile). */
  async reloadAll(): Promise<void> {
    const orgs = new Set(this.#revs.keys());
    let cursor = '0';
    do {
      const [next, keys] = await this.store.scan(cursor, 'MATCH', this.keys.agents('*'), 'COUNT', 1000);
      cursor = next;
      for (const key of keys) orgs.add(key.slice(this.keys.agents('').length));
    } while (cursor !== '0');
    await Promise.all([...orgs].map((org) => this.#load(org)));
  }

  close(): void {
    this.#closed = true;
  }

  #receive(text: string): void {
    let delta: PresenceDelta;
    try {
      delta = PresenceDelta.parse(JSON.parse(text));
    } catch (error) {
      this.log.warn('bad presence delta from Redis; dropped', { error: (error as Error).message });
      return;
    }
    this.#deliver(delta);
  }

  #deliver(delta: PresenceDelta): void {
    const waiting = this.#loading.get(delta.org);
    if (waiting) {
      waiting.push(delta);
      return;
    }
    const rev = this.#revs.get(delta.org) ?? 0;
    if (delta.rev <= rev) return; // already in the list this node read
    if (delta.rev !== rev + 1) {
      // A delta never reached this node (or this node never read the organisation): read it whole.
      if (rev > 0) this.log.warn('presence deltas missed; reading the organisation again', { org: delta.org, rev, got: delta.rev });
      void this.#load(delta.org, [delta]);
      return;
    }
    this.#revs.set(delta.org, delta.rev);
    this.sink.onPresence(delta.org, delta.joins, delta.leaves);
  }

  async #load(org: string, pending: PresenceDelta[] = []): Promise<void> {
    if (this.#loading.has(org)) {
      this.#loading.get(org)!.push(...pending);
      return;
    }
    const waiting = [...pending];
    this.#loading.set(org, waiting);
    let loaded = false;
    try {
      const [rev, flat] = (await this.store.eval(LOAD_PRESENCE, 2, this.keys.agents(org), this.keys.presenceRev(org))) as [
        string,
        string[],
      ];
      const agents: AgentInfo[] = [];
      for (let i = 1; i < flat.length; i += 2) {
        const entry = parseEntry(flat[i]!);
        if (entry) agents.push(entry.info);
      }
      if (this.#closed) return;
      this.#revs.set(org, Number(rev));
      this.sink.onPresenceReset(org, agents);
      loaded = true;
    } catch (error) {
      // The next delta of the organisation tries again; the node's outage handling does the rest.
      this.log.error("could not read an organisation's presence from Redis; its consoles keep what they have", {
        org,
        error: (error as Error).message,
      });
    } finally {
      this.#loading.delete(org);
    }
    if (loaded) for (const delta of waiting) this.#deliver(delta);
  }
}
