import type { AgentInfo } from '@tether/protocol';
import { NegotiationTable, type Negotiation } from './negotiations.js';
import { AgentDirectory } from './presence.js';

/** Agents that joined (or changed) and agentIds that left an organisation, in the order the state applied them. */
export type PresenceListener = (org: string, joins: AgentInfo[], leaves: string[]) => void;

/** A connection as the shared state knows it: its Socket.IO id, unique across every node. */
export interface Connection {
  id: string;
}

/**
 * What the signaling nodes share: which agent connection holds each agentId of an organisation,
 * and the negotiations between console and agent connections. One process keeps it in memory
 * (`LocalState`); several keep it in Redis (`RedisState`). Every method may fail when the store is
 * unreachable: callers answer such a message with INTERNAL and log it. Changes to the agents are
 * reported as they are applied (to a `PresenceListener`, or through Redis), never read back whole.
 */
export interface SignalingState {
  /** Registers an agent's connection; resolves to the connection it replaces, if any. */
  addAgent(connection: Connection, org: string, info: AgentInfo): Promise<Connection | undefined>;
  /** Forgets an agent's connection; false when a newer connection already holds its agentId. */
  removeAgent(connection: Connection, org: string, agentId: string): Promise<boolean>;
  /** The connection that holds agentId in org, on whichever node. */
  agentConnection(org: string, agentId: string): Promise<Connection | undefined>;

  negotiation(sessionId: string): Promise<Negotiation | undefined>;
  countForConsole(consoleSocketId: string): Promise<number>;
  /**
   * Records a negotiation. `previous` is the record the caller read (a repeated offer) or
   * undefined (a new one); false when another console claimed the sessionId in between.
   */
  saveNegotiation(negotiation: Negotiation, previous: Negotiation | undefined): Promise<boolean>;
  deleteNegotiation(sessionId: string): Promise<void>;
  /** Removes and returns every negotiation of a console connection. */
  takeForConsole(consoleSocketId: string): Promise<Negotiation[]>;
  /** Removes and returns every negotiation with an agent connection. */
  takeForAgentSocket(agentSocketId: string): Promise<Negotiation[]>;
}

/** The state of a single signaling process, in memory. */
export class LocalState implements SignalingState {
  readonly #agents = new AgentDirectory<Connection>();
  readonly #negotiations = new NegotiationTable();

  constructor(private readonly onPresence: PresenceListener) {}

  async addAgent(connection: Connection, org: string, info: AgentInfo): Promise<Connection | undefined> {
    const replaced = this.#agents.add(connection, org, info);
    this.onPresence(org, [info], []);
    return replaced;
  }

  async removeAgent(connection: Connection, org: string, agentId: string): Promise<boolean> {
    const removed = this.#agents.remove(connection, org, agentId);
    if (removed) this.onPresence(org, [], [agentId]);
    return removed;
  }

  async agentConnection(org: string, agentId: string): Promise<Connection | undefined> {
    return this.#agents.get(org, agentId);
  }

  async negotiation(sessionId: string): Promise<Negotiation | undefined> {
    return this.#negotiations.get(sessionId);
  }

  async countForConsole(consoleSocketId: string): Promise<number> {
    return this.#negotiations.countForConsole(consoleSocketId);
  }

  async saveNegotiation(negotiation: Negotiation, previous: Negotiation | undefined): Promise<boolean> {
    // One thread: nothing can have claimed the sessionId since the caller read it.
    if (previous === undefined && this.#negotiations.get(negotiation.sessionId)) return false;
    this.#negotiations.set(negotiation);
    return true;
  }

  async deleteNegotiation(sessionId: string): Promise<void> {
    this.#negotiations.delete(sessionId);
  }

  async takeForConsole(consoleSocketId: string): Promise<Negotiation[]> {
    return this.#negotiations.takeForConsole(consoleSocketId);
  }

  async takeForAgentSocket(agentSocketId: string): Promise<Negotiation[]> {
    return this.#negotiations.takeForAgentSocket(agentSocketId);
  }
}
