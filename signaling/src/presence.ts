import type { AgentInfo } from '@tether/protocol';

/**
 * The agents connected to this server, one connection per agentId within each organisation. Two
 * organisations may each have an agent called `plc-1`; neither sees nor reaches the other's.
 */
export class AgentDirectory<S extends { id: string }> {
  readonly #orgs = new Map<string, Map<string, { socket: S; info: AgentInfo }>>();

  /** Registers an agent's connection; returns the older connection it replaces, if any. */
  add(socket: S, org: string, info: AgentInfo): S | undefined {
    let agents = this.#orgs.get(org);
    if (!agents) this.#orgs.set(org, (agents = new Map()));
    const previous = agents.get(info.agentId);
    agents.set(info.agentId, { socket, info });
    return previous?.socket;
  }

  /** Forgets a connection; false when a newer connection already holds its agentId. */
  remove(socket: S, org: string, agentId: string): boolean {
    const agents = this.#orgs.get(org);
    if (agents?.get(agentId)?.socket !== socket) return false;
    agents.delete(agentId);
    if (agents.size === 0) this.#orgs.delete(org);
    return true;
  }

  get(org: string, agentId: string): S | undefined {
    return this.#orgs.get(org)?.get(agentId)?.socket;
  }
}
