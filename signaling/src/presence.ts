import type { AgentInfo } from '@tether/protocol';

/** The agents connected to this server, one connection per agentId. */
export class AgentDirectory<S extends { id: string }> {
  readonly #agents = new Map<string, { socket: S; info: AgentInfo }>();

  /** Registers an agent's connection; returns the older connection it replaces, if any. */
  add(socket: S, info: AgentInfo): S | undefined {
    const previous = this.#agents.get(info.agentId);
    this.#agents.set(info.agentId, { socket, info });
    return previous?.socket;
  }

  /** Forgets a connection; false when a newer connection already holds its agentId. */
  remove(socket: S, agentId: string): boolean {
    if (this.#agents.get(agentId)?.socket !== socket) return false;
    this.#agents.delete(agentId);
    return true;
  }

  get(agentId: string): S | undefined {
    return this.#agents.get(agentId)?.socket;
  }

  list(): AgentInfo[] {
    return [...this.#agents.values()].map(({ info }) => info);
  }
}
