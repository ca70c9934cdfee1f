import type { AgentInfo, PresenceDiff, PresenceSnapshot } from './signaling.js';

/** What applying a snapshot or a diff changed: the entries added or replaced, and the agentIds removed. */
export interface PresenceChange {
  joins: AgentInfo[];
  leaves: string[];
}

/**
 * What a diff did to the replica: `applied` (with what changed), `stale` (its `seq` is not past the
 * replica's: a diff the snapshot already holds; dropped), or `gap` (a diff is missing, or no snapshot
 * came yet: ask for a fresh snapshot with `presence:resync` and drop diffs until it arrives).
 */
export type DiffOutcome =
  | { kind: 'applied'; change: PresenceChange }
  | { kind: 'stale' }
  | { kind: 'gap'; expected: number | undefined; got: number };

function sameInfo(a: AgentInfo, b: AgentInfo): boolean {
  return a.agentId === b.agentId && a.name === b.name && a.version === b.version;
}

/**
 * A client's copy of one organisation's presence (protocol/README.md, "Presence"): a snapshot, then
 * the diffs that follow it in `seq` order. Work per diff is proportional to the diff, not to the
 * list, and each call says what changed, so that a UI can update only those entries.
 */
export class PresenceReplica {
  readonly #agents = new Map<string, AgentInfo>();
  #seq: number | undefined;

  /** The agents listed now, by agentId. */
  get agents(): ReadonlyMap<string, AgentInfo> {
    return this.#agents;
  }

  /** The `seq` of the last snapshot or diff applied; undefined before the first snapshot. */
  get seq(): number | undefined {
    return this.#seq;
  }

  /** Replaces the list with a snapshot; returns the difference from the list before. */
  applySnapshot(snapshot: PresenceSnapshot): PresenceChange {
    const next = new Map(snapshot.agents.map((agent) => [agent.agentId, agent]));
    const change: PresenceChange = { joins: [], leaves: [] };
    for (const agentId of this.#agents.keys()) if (!next.has(agentId)) change.leaves.push(agentId);
    for (const agent of next.values()) {
      const known = this.#agents.get(agent.agentId);
      if (!known || !sameInfo(known, agent)) change.joins.push(agent);
    }
    for (const agentId of change.leaves) this.#agents.delete(agentId);
    for (const agent of change.joins) this.#agents.set(agent.agentId, agent);
    this.#seq = snapshot.seq;
    return change;
  }

  /** Applies the next diff, or says why not. */
  applyDiff(diff: PresenceDiff): DiffOutcome {
    if (this.#seq === undefined) return { kind: 'gap', expected: undefined, got: diff.seq };
    if (diff.seq <= this.#seq) return { kind: 'stale' };
    if (diff.seq !== this.#seq + 1) return { kind: 'gap', expected: this.#seq + 1, got: diff.seq };
    const change: PresenceChange = { joins: [], leaves: [] };
    for (const agentId of diff.leaves) if (this.#agents.delete(agentId)) change.leaves.push(agentId);
    for (const agent of diff.joins) {
      const known = this.#agents.get(agent.agentId);
      if (known && sameInfo(known, agent)) continue;
      this.#agents.set(agent.agentId, agent);
      change.joins.push(agent);
    }
    this.#seq = diff.seq;
    return { kind: 'applied', change };
  }

  /** Forgets the list (the connection is gone): the next snapshot starts it again. */
  reset(): void {
    this.#seq = undefined;
  }
}
