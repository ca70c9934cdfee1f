import { Answer, Disconnect, err, Ice, ok, OfferToServer, protocolError, type Result } from '@tether/protocol';
import { guardInbound, handle, type InboundContext } from './inbound.js';
import type { SignalingIo, SignalingSocket } from './io-types.js';
import { moduleName, type Logger } from './log.js';
import { MAX_NEGOTIATIONS_PER_CONSOLE, RouteCache, type Negotiation } from './negotiations.js';
import type { SerialQueues } from './serial-queues.js';
import type { SignalingState } from './state.js';

/** The console's organisation and token id: a reconnected console is the same owner. */
const ownerOf = (socket: SignalingSocket) => `${socket.data.identity.org}\n${socket.data.identity.jti ?? ''}`;

/**
 * Relays offer, answer, ICE candidates and disconnects between one console and one agent per
 * negotiation. The console names each negotiation (sessionId); the shared state remembers which
 * console and which agent connection it joins, and the relay routes only between those two, on
 * whichever nodes they are (`io.to(socketId)` goes through the adapter). Candidates, answers and
 * disconnects are routed from this node's `RouteCache` when it knows the negotiation, so that
 * they wait for no read of the shared state; offers always read it.
 */
export class Relay {
  readonly #context: InboundContext;
  readonly #routes = new RouteCache();

  constructor(
    private readonly io: SignalingIo,
    private readonly state: () => SignalingState,
    queues: SerialQueues,
    logger: Logger,
  ) {
    this.#context = { log: logger.child(moduleName(import.meta.url)), queues };
  }

  get #log(): Logger {
    return this.#context.log;
  }

  attachConsole(socket: SignalingSocket): void {
    this.#watchDeliveries(socket);
    guardInbound(socket, 'console', this.#log);
    handle(socket, 'webrtc:offer', OfferToServer, this.#context, (msg) => this.#offer(socket, msg));
    handle(socket, 'webrtc:ice', Ice, this.#context, (msg) =>
      this.#fromConsole(socket, msg.sessionId, (n) => this.io.to(n.agentSocketId).emit('webrtc:ice', msg)),
    );
    handle(socket, 'webrtc:disconnect', Disconnect, this.#context, (msg) =>
      this.#fromConsole(socket, msg.sessionId, async (n) => {
        this.#routes.forget(n.sessionId);
        await this.state().deleteNegotiation(n.sessionId);
        this.io.to(n.agentSocketId).emit('webrtc:disconnect', msg);
      }),
    );
  }

  attachAgent(socket: SignalingSocket): void {
    this.#watchDeliveries(socket);
    guardInbound(socket, 'agent', this.#log);
    handle(socket, 'webrtc:answer', Answer, this.#context, (msg) =>
      this.#fromAgent(socket, msg.sessionId, (n) => this.io.to(n.consoleSocketId).emit('webrtc:answer', msg)),
    );
    handle(socket, 'webrtc:ice', Ice, this.#context, (msg) =>
      this.#fromAgent(socket, msg.sessionId, (n) => this.io.to(n.consoleSocketId).emit('webrtc:ice', msg)),
    );
    handle(socket, 'webrtc:disconnect', Disconnect, this.#context, (msg) =>
      this.#fromAgent(socket, msg.sessionId, async (n) => {
        this.#routes.forget(n.sessionId);
        await this.state().deleteNegotiation(n.sessionId);
        this.io.to(n.consoleSocketId).emit('webrtc:disconnect', msg);
      }),
    );
  }

  /**
   * Keeps the route cache current with what this node delivers to one of its clients, whichever
   * node sent it: an offer to an agent names the console at the other end (the agent's answer and
   * candidates then go straight back), and a disconnect either way ends the negotiation. A client
   * that disconnects takes its entries with it.
   */
  #watchDeliveries(socket: SignalingSocket): void {
    socket.onAnyOutgoing((event: string, payload: { sessionId: string; consoleId?: string }) => {
      if (event === 'webrtc:offer' && socket.data.identity.role === 'agent' && payload.consoleId !== undefined) {
        this.#routes.remember({
          sessionId: payload.sessionId,
          consoleSocketId: payload.consoleId,
          agentId: socket.data.identity.agentId,
          agentSocketId: socket.id,
        });
      } else if (event === 'webrtc:disconnect') {
        this.#routes.forget(payload.sessionId);
      }
    });
    socket.on('disconnect', () => this.#routes.forgetConnection(socket.id));
  }

  /**
   * Forgets a closed console connection's negotiations. `notify` tells each agent that the
   * console went offline; it is false when this node is going away (shutdown, Redis lost), because
   * the console is not: it reconnects to another node and its peer connections carry on.
   */
  async consoleGone(socketId: string, notify: boolean): Promise<void> {
    for (const n of await this.state().takeForConsole(socketId)) {
      if (notify)
        this.io.to(n.agentSocketId).emit('webrtc:disconnect', { sessionId: n.sessionId, reason: 'console went offline', offline: true });
    }
  }

  /** Forgets a closed agent connection's negotiations; `notify` as for `consoleGone`. */
  async agentGone(socketId: string, notify: boolean): Promise<void> {
    for (const n of await this.state().takeForAgentSocket(socketId)) {
      if (notify)
        this.io.to(n.consoleSocketId).emit('webrtc:disconnect', { sessionId: n.sessionId, reason: 'agent went offline', offline: true });
    }
  }

  async #offer(socket: SignalingSocket, msg: OfferToServer): Promise<Result<void>> {
    const state = this.state();
    const existing = await state.negotiation(msg.sessionId);
    if (existing && existing.consoleSocketId !== socket.id && !(await this.#mayTakeOver(existing, socket))) {
      return err(protocolError('FORBIDDEN', 'this sessionId belongs to another console; choose a new one'));
    }
    if (existing && existing.agentId !== msg.agentId) {
      return err(protocolError('FORBIDDEN', `this sessionId is in use with agent ${existing.agentId}`));
    }
    // Only the console's own organisation: an agent of another one is as offline as an unknown one.
    const agent = await state.agentConnection(socket.data.identity.org, msg.agentId);
    if (!agent) return err(protocolError('AGENT_OFFLINE', `agent ${msg.agentId} is not connected to this server`));
    if (!existing && (await state.countForConsole(socket.id)) >= MAX_NEGOTIATIONS_PER_CONSOLE) {
      return err(protocolError('RATE_LIMITED', `at most ${MAX_NEGOTIATIONS_PER_CONSOLE} negotiations per console; disconnect some first`));
    }
    // A repeated offer (ICE restart) keeps its sessionId and follows the agent to its current connection.
    const negotiation: Negotiation = {
      sessionId: msg.sessionId,
      consoleSocketId: socket.id,
      agentId: msg.agentId,
      agentSocketId: agent.id,
      consoleOwner: ownerOf(socket),
    };
    if (!(await state.saveNegotiation(negotiation, existing))) {
      return err(protocolError('FORBIDDEN', 'this sessionId belongs to another console; choose a new one'));
    }
    if (socket.connected) this.#routes.remember(negotiation);
    this.io.to(agent.id).emit('webrtc:offer', { sessionId: msg.sessionId, consoleId: socket.id, sdp: msg.sdp });
    this.#log.debug('relayed offer', { sessionId: msg.sessionId, consoleId: socket.id, agentId: msg.agentId });
    return ok(undefined);
  }

  /**
   * A console whose signaling node died reconnects, to another node, with a new connection id,
   * while its negotiations are still recorded under the old one until the dead node is swept. It
   * may repeat such an offer (an ICE restart) if it is the same console (organisation and token)
   * and the old connection is connected nowhere.
   */
  async #mayTakeOver(existing: Negotiation, socket: SignalingSocket): Promise<boolean> {
    if (existing.consoleOwner === undefined || existing.consoleOwner !== ownerOf(socket)) return false;
    const old = await this.io.in(existing.consoleSocketId).fetchSockets();
    if (old.length > 0) return false;
    this.#log.info('negotiation taken over from a connection that is gone', {
      sessionId: existing.sessionId,
      oldConsoleId: existing.consoleSocketId,
      consoleId: socket.id,
    });
    return true;
  }

  async #fromConsole(socket: SignalingSocket, sessionId: string, forward: (n: Negotiation) => unknown): Promise<Result<void>> {
    const n = this.#routes.route(sessionId, 'consoleSocketId', socket.id) ?? (await this.state().negotiation(sessionId));
    if (!n) return err(protocolError('UNKNOWN_SESSION', `no negotiation ${sessionId}; send webrtc:offer first`));
    if (n.consoleSocketId !== socket.id) {
      return err(protocolError('FORBIDDEN', 'this negotiation belongs to another console'));
    }
    if (socket.connected) this.#routes.remember(n);
    await forward(n);
    this.#log.debug('relayed to agent', { sessionId, consoleId: socket.id, agentId: n.agentId });
    return ok(undefined);
  }

  async #fromAgent(socket: SignalingSocket, sessionId: string, forward: (n: Negotiation) => unknown): Promise<Result<void>> {
    const n = this.#routes.route(sessionId, 'agentSocketId', socket.id) ?? (await this.state().negotiation(sessionId));
    if (!n) return err(protocolError('UNKNOWN_SESSION', `no negotiation ${sessionId}`));
    if (n.agentSocketId !== socket.id) {
      return err(protocolError('FORBIDDEN', 'this negotiation was offered to another agent connection'));
    }
    if (socket.connected) this.#routes.remember(n);
    await forward(n);
    this.#log.debug('relayed to console', { sessionId, consoleId: n.consoleSocketId, agentId: n.agentId });
    return ok(undefined);
  }
}
