/** Negotiations one console may have in progress at once. */
export const MAX_NEGOTIATIONS_PER_CONSOLE = 64;

/** One console's WebRTC negotiation with one agent, named by the console's sessionId. */
export interface Negotiation {
  sessionId: string;
  consoleSocketId: string;
  agentId: string;
  agentSocketId: string;
  /** who the console is (organisation and token id): only the same may take over a negotiation whose connection is gone */
  consoleOwner?: string;
}

/** The negotiations the server routes, indexed by session and by each end's connection. */
export class NegotiationTable {
  readonly #bySession = new Map<string, Negotiation>();
  readonly #byConsole = new Map<string, Set<string>>();
  readonly #byAgentSocket = new Map<string, Set<string>>();

  get(sessionId: string): Negotiation | undefined {
    return this.#bySession.get(sessionId);
  }

  countForConsole(consoleSocketId: string): number {
    return this.#byConsole.get(consoleSocketId)?.size ?? 0;
  }

  get size(): number {
    return this.#bySession.size;
  }

  /** The sessionId recorded (or recorded again) longest ago. */
  oldest(): string | undefined {
    return this.#bySession.keys().next().value;
  }

  set(negotiation: Negotiation): void {
    this.delete(negotiation.sessionId);
    this.#bySession.set(negotiation.sessionId, negotiation);
    index(this.#byConsole, negotiation.consoleSocketId).add(negotiation.sessionId);
    index(this.#byAgentSocket, negotiation.agentSocketId).add(negotiation.sessionId);
  }

  delete(sessionId: string): Negotiation | undefined {
    const negotiation = this.#bySession.get(sessionId);
    if (!negotiation) return undefined;
    this.#bySession.delete(sessionId);
    unindex(this.#byConsole, negotiation.consoleSocketId, sessionId);
    unindex(this.#byAgentSocket, negotiation.agentSocketId, sessionId);
    return negotiation;
  }

  /** Removes and returns every negotiation of a console connection. */
  takeForConsole(consoleSocketId: string): Negotiation[] {
    return this.#take(this.#byConsole.get(consoleSocketId));
  }

  /** Removes and returns every negotiation with an agent connection. */
  takeForAgentSocket(agentSocketId: string): Negotiation[] {
    return this.#take(this.#byAgentSocket.get(agentSocketId));
  }

  #take(sessionIds: Set<string> | undefined): Negotiation[] {
    const taken: Negotiation[] = [];
    for (const sessionId of [...(sessionIds ?? [])]) {
      const negotiation = this.delete(sessionId);
      if (negotiation) taken.push(negotiation);
    }
    return taken;
  }
}

/** At most this many negotiations in a node's route cache; the oldest go first. */
export const MAX_CACHED_ROUTES = 50_000;

/**
 * The negotiations one node has seen, so that a candidate is relayed without reading the shared
 * state (over Redis a round trip, which a storm's commands queue behind, for every candidate of a
 * connection in turn). Each entry has an end connected to this node: a negotiation it recorded
 * (the console's offer), an offer it delivered to one of its agents, or one it read for a message
 * of its own client. It is forgotten when that end disconnects, when a disconnect passes through
 * the node either way, and when the cache is full (oldest first).
 *
 * A hit is used only when the sender is the end the entry names; anything else reads the shared
 * state, which decides. An entry that outlives its negotiation (deleted by a node that went away
 * without telling its peers) can only route to a connection that was the other end of that same
 * negotiation: never to anyone else.
 */
export class RouteCache {
  readonly #table = new NegotiationTable();

  constructor(private readonly capacity = MAX_CACHED_ROUTES) {}

  get size(): number {
    return this.#table.size;
  }

  /** The negotiation `sessionId` if this node knows it and `socketId` is its `end`. */
  route(sessionId: string, end: 'consoleSocketId' | 'agentSocketId', socketId: string): Negotiation | undefined {
    const negotiation = this.#table.get(sessionId);
    return negotiation?.[end] === socketId ? negotiation : undefined;
  }

  remember(negotiation: Negotiation): void {
    this.#table.set(negotiation);
    while (this.#table.size > this.capacity) this.#table.delete(this.#table.oldest()!);
  }

  forget(sessionId: string): void {
    this.#table.delete(sessionId);
  }

  /** Forgets every negotiation with this connection at either end. */
  forgetConnection(socketId: string): void {
    this.#table.takeForConsole(socketId);
    this.#table.takeForAgentSocket(socketId);
  }
}

function index(map: Map<string, Set<string>>, key: string): Set<string> {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  return set;
}

function unindex(map: Map<string, Set<string>>, key: string, sessionId: string): void {
  const set = map.get(key);
  set?.delete(sessionId);
  if (set?.size === 0) map.delete(key);
}
