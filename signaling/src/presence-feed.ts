import { PRESENCE_BATCH_MS, type AgentInfo, type PresenceDiff, type PresenceSnapshot } from '@tether/protocol';
import { consolesRoom, type SignalingIo } from './io-types.js';

interface OrgPresence {
  /** the organisation's agents as this node knows them now, pending changes included */
  agents: Map<string, AgentInfo>;
  /** the last diff's sequence number (0 before the first) */
  seq: number;
  /** what changed since the last diff, by agentId: the entry, or null for a departure; the last change wins */
  pending: Map<string, AgentInfo | null>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Presence as this node's consoles see it (protocol/README.md, "Presence"): each organisation's
 * agents, a snapshot for a console that connects or asks again, and every `batchMs` one diff with
 * what changed, sent once to the organisation's consoles on this node.
 *
 * Changes come from the cluster (`apply`, `reset`), in the order the shared state made them; the
 * work per change is O(1), and the work per batch is proportional to what changed in it, so a
 * reconnect storm or a mass departure costs each console about one list, and the event loop one
 * map update per agent.
 */
export class PresenceFeed {
  readonly #orgs = new Map<string, OrgPresence>();

  constructor(
    private readonly io: SignalingIo,
    private readonly batchMs = PRESENCE_BATCH_MS,
  ) {}

  #org(org: string): OrgPresence {
    let presence = this.#orgs.get(org);
    if (!presence) this.#orgs.set(org, (presence = { agents: new Map(), seq: 0, pending: new Map(), timer: undefined }));
    return presence;
  }

  /** Agents that joined (or changed) and agentIds that left org, as the shared state applied them. */
  apply(org: string, joins: readonly AgentInfo[], leaves: readonly string[]): void {
    if (joins.length === 0 && leaves.length === 0) return;
    const presence = this.#org(org);
    for (const agentId of leaves) {
      if (!presence.agents.delete(agentId)) continue;
      presence.pending.set(agentId, null);
    }
    for (const agent of joins) {
      presence.agents.set(agent.agentId, agent);
      presence.pending.set(agent.agentId, agent);
    }
    this.#schedule(org, presence);
  }

  /** Replaces org's list (rebuilt from the shared state); consoles get the difference as a diff. */
  reset(org: string, agents: readonly AgentInfo[]): void {
    const presence = this.#org(org);
    const next = new Map(agents.map((agent) => [agent.agentId, agent]));
    const leaves = [...presence.agents.keys()].filter((agentId) => !next.has(agentId));
    this.apply(org, agents, leaves);
  }

  /** Everything org's consoles should know now, and the `seq` the next diff follows. */
  snapshot(org: string): PresenceSnapshot {
    const presence = this.#orgs.get(org);
    return { seq: presence?.seq ?? 0, agents: presence ? [...presence.agents.values()] : [] };
  }

  /** The number of agents listed for org (health and bench figures). */
  size(org: string): number {
    return this.#orgs.get(org)?.agents.size ?? 0;
  }

  /** Sends what is pending now, for every organisation (a node that closes). */
  flushAll(): void {
    for (const [org, presence] of this.#orgs) this.#flush(org, presence);
  }

  close(): void {
    for (const presence of this.#orgs.values()) clearTimeout(presence.timer);
    this.#orgs.clear();
  }

  #schedule(org: string, presence: OrgPresence): void {
    if (presence.timer) return;
    presence.timer = setTimeout(() => this.#flush(org, presence), this.batchMs);
    presence.timer.unref();
  }

  #flush(org: string, presence: OrgPresence): void {
    clearTimeout(presence.timer);
    presence.timer = undefined;
    if (presence.pending.size === 0) return;
    const diff: PresenceDiff = { seq: presence.seq + 1, joins: [], leaves: [] };
    for (const [agentId, agent] of presence.pending) {
      if (agent) diff.joins.push(agent);
      else diff.leaves.push(agentId);
    }
    presence.pending.clear();
    presence.seq = diff.seq;
    // Encoded once for every console of the organisation on this node.
    this.io.local.to(consolesRoom(org)).emit('presence:diff', diff);
    if (presence.agents.size === 0 && !this.io.sockets.adapter.rooms.get(consolesRoom(org))?.size) this.#orgs.delete(org);
  }
}
