import {
  Answer,
  Disconnect,
  err,
  Ice,
  ok,
  OfferToServer,
  protocolError,
  type Result,
} from '@tether/protocol';
import { guardInbound, handle } from './inbound.js';
import type { SignalingIo, SignalingSocket } from './io-types.js';
import { moduleName, type Logger } from './log.js';
import { MAX_NEGOTIATIONS_PER_CONSOLE, NegotiationTable, type Negotiation } from './negotiations.js';
import type { AgentDirectory } from './presence.js';

/**
 * Relays offer, answer, ICE candidates and disconnects between one console and one agent per
 * negotiation. The console names each negotiation (sessionId); the server remembers which console
 * and which agent connection it joins, and routes only between those two.
 */
export class Relay {
  readonly #negotiations = new NegotiationTable();
  readonly #log: Logger;

  constructor(
    private readonly io: SignalingIo,
    private readonly agents: AgentDirectory<SignalingSocket>,
    logger: Logger,
  ) {
    this.#log = logger.child(moduleName(import.meta.url));
  }

  /** Negotiations in progress, for tests and metrics. */
  get negotiationCount(): number {
    return this.#negotiations.size;
  }

  attachConsole(socket: SignalingSocket): void {
    guardInbound(socket, 'console', this.#log);
    handle(socket, 'webrtc:offer', OfferToServer, this.#log, (msg) => this.#offer(socket, msg));
    handle(socket, 'webrtc:ice', Ice, this.#log, (msg) =>
      this.#fromConsole(socket, msg.sessionId, (n) => this.io.to(n.agentSocketId).emit('webrtc:ice', msg)),
    );
    handle(socket, 'webrtc:disconnect', Disconnect, this.#log, (msg) =>
      this.#fromConsole(socket, msg.sessionId, (n) => {
        this.#negotiations.delete(n.sessionId);
        this.io.to(n.agentSocketId).emit('webrtc:disconnect', msg);
      }),
    );
    socket.on('disconnect', () => {
      for (const n of this.#negotiations.takeForConsole(socket.id)) {
        this.io.to(n.agentSocketId).emit('webrtc:disconnect', { sessionId: n.sessionId, reason: 'console went offline' });
      }
    });
  }

  attachAgent(socket: SignalingSocket): void {
    guardInbound(socket, 'agent', this.#log);
    handle(socket, 'webrtc:answer', Answer, this.#log, (msg) =>
      this.#fromAgent(socket, msg.sessionId, (n) => this.io.to(n.consoleSocketId).emit('webrtc:answer', msg)),
    );
    handle(socket, 'webrtc:ice', Ice, this.#log, (msg) =>
      this.#fromAgent(socket, msg.sessionId, (n) => this.io.to(n.consoleSocketId).emit('webrtc:ice', msg)),
    );
    handle(socket, 'webrtc:disconnect', Disconnect, this.#log, (msg) =>
      this.#fromAgent(socket, msg.sessionId, (n) => {
        this.#negotiations.delete(n.sessionId);
        this.io.to(n.consoleSocketId).emit('webrtc:disconnect', msg);
      }),
    );
    socket.on('disconnect', () => {
      for (const n of this.#negotiations.takeForAgentSocket(socket.id)) {
        this.io.to(n.consoleSocketId).emit('webrtc:disconnect', { sessionId: n.sessionId, reason: 'agent went offline' });
      }
    });
  }

  #offer(socket: SignalingSocket, msg: OfferToServer): Result<void> {
    const existing = this.#negotiations.get(msg.sessionId);
    if (existing && existing.consoleSocketId !== socket.id) {
      return err(protocolError('FORBIDDEN', 'this sessionId belongs to another console; choose a new one'));
    }
    if (existing && existing.agentId !== msg.agentId) {
      return err(protocolError('FORBIDDEN', `this sessionId is in use with agent ${existing.agentId}`));
    }
    // Only the console's own organisation: an agent of another one is as offline as an unknown one.
    const agent = this.agents.get(socket.data.identity.org, msg.agentId);
    if (!agent) return err(protocolError('AGENT_OFFLINE', `agent ${msg.agentId} is not connected to this server`));
    if (!existing && this.#negotiations.countForConsole(socket.id) >= MAX_NEGOTIATIONS_PER_CONSOLE) {
      return err(
        protocolError('RATE_LIMITED', `at most ${MAX_NEGOTIATIONS_PER_CONSOLE} negotiations per console; disconnect some first`),
      );
    }
    // A repeated offer (ICE restart) keeps its sessionId and follows the agent to its current connection.
    this.#negotiations.set({
      sessionId: msg.sessionId,
      consoleSocketId: socket.id,
      agentId: msg.agentId,
      agentSocketId: agent.id,
    });
    this.io.to(agent.id).emit('webrtc:offer', { sessionId: msg.sessionId, consoleId: socket.id, sdp: msg.sdp });
    this.#log.debug('relayed offer', { sessionId: msg.sessionId, consoleId: socket.id, agentId: msg.agentId });
    return ok(undefined);
  }

  #fromConsole(socket: SignalingSocket, sessionId: string, forward: (n: Negotiation) => void): Result<void> {
    const n = this.#negotiations.get(sessionId);
    if (!n) return err(protocolError('UNKNOWN_SESSION', `no negotiation ${sessionId}; send webrtc:offer first`));
    if (n.consoleSocketId !== socket.id) {
      return err(protocolError('FORBIDDEN', 'this negotiation belongs to another console'));
    }
    forward(n);
    this.#log.debug('relayed to agent', { sessionId, consoleId: socket.id, agentId: n.agentId });
    return ok(undefined);
  }

  #fromAgent(socket: SignalingSocket, sessionId: string, forward: (n: Negotiation) => void): Result<void> {
    const n = this.#negotiations.get(sessionId);
    if (!n) return err(protocolError('UNKNOWN_SESSION', `no negotiation ${sessionId}`));
    if (n.agentSocketId !== socket.id) {
      return err(protocolError('FORBIDDEN', 'this negotiation was offered to another agent connection'));
    }
    forward(n);
    this.#log.debug('relayed to console', { sessionId, consoleId: n.consoleSocketId, agentId: n.agentId });
    return ok(undefined);
  }
}
