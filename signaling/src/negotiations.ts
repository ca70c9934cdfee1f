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
