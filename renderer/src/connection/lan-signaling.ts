/**
 * The console's Socket.IO connection to one agent's own LAN endpoint (protocol/README.md, "LAN
 * endpoint"): the greeting, pairing enrollment, LAN authentication, and then the same `webrtc:*`
 * events as the cloud path, so an AgentConnection negotiates through it unchanged.
 */
import {
  Answer,
  Disconnect,
  emitSignaling,
  emitWithAck,
  Ice,
  LanAuthAck,
  LanHello,
  SignalingErrorPayload,
  err,
  lanAuthInput,
  ok,
  parseValue,
  protocolError,
  type ConsoleToLanEvents,
  type LanToConsoleEvents,
  type OfferToServer,
  type PairEnroll,
  type PairedAgent,
  type ProtocolError,
  type Result,
} from '@tether/protocol';
import type { z } from 'zod';
import { io, type Socket } from 'socket.io-client';
import { Emitter, type Disposable } from '../base/emitter';
import type { NegotiationHandlers, NegotiationTransport } from './negotiation-transport';
import type { ConsoleIdentity } from '../trust/console-identity';

/** How long connecting to a LAN endpoint and its greeting may take. */
export const LAN_CONNECT_TIMEOUT_MS = 8_000;

type LanSocket = Socket<LanToConsoleEvents, ConsoleToLanEvents>;

/** What `pair:enroll` and `lan:auth` return on success. */
export interface LanAuthenticated {
  consoleId: string;
  agent: PairedAgent;
}

export class LanSignaling implements NegotiationTransport, Disposable {
  readonly path = 'lan' as const;
  private readonly negotiations = new Map<string, NegotiationHandlers>();
  private readonly closedEmitter = new Emitter<string>();
  /** The socket closed (agent gone, network lost); the reason in words. */
  readonly onClosed = this.closedEmitter.event;

  private constructor(
    readonly endpoint: string,
    private readonly socket: LanSocket,
    readonly hello: LanHello,
  ) {
    socket.on('disconnect', (reason) => this.closedEmitter.fire(`the agent's LAN endpoint ${endpoint} closed the connection (${reason})`));
    this.route('webrtc:answer', Answer, (h, m) => h.onAnswer(m));
    this.route('webrtc:ice', Ice, (h, m) => h.onIce(m));
    this.route('webrtc:disconnect', Disconnect, (h, m) => h.onDisconnect(m));
    socket.on('signal:error', (raw: unknown) => {
      const parsed = parseValue(SignalingErrorPayload, raw);
      if (!parsed.ok) return console.warn(`[lan ${endpoint}] malformed signal:error dropped`);
      const { sessionId, code, message } = parsed.value;
      const handlers = sessionId ? this.negotiations.get(sessionId) : undefined;
      if (handlers) handlers.onError({ code, message });
      else console.warn(`[lan ${endpoint}] ${code}: ${message}`);
    });
  }

  /** Connects to `http://<endpoint>` and waits for the agent's `lan:hello`. */
  static open(endpoint: string, timeoutMs = LAN_CONNECT_TIMEOUT_MS): Promise<Result<LanSignaling>> {
    const socket: LanSocket = io(`http://${endpoint}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    return new Promise((resolve) => {
      const finish = (result: Result<LanSignaling>) => {
        clearTimeout(timer);
        socket.off('connect_error');
        if (!result.ok) {
          socket.removeAllListeners();
          socket.disconnect();
        }
        resolve(result);
      };
      const timer = setTimeout(
        () =>
          finish(err(protocolError('AGENT_OFFLINE', `no answer from the agent's LAN endpoint ${endpoint} within ${timeoutMs / 1000} s`))),
        timeoutMs,
      );
      socket.once('connect_error', (error) => {
        // The agent refuses through the handshake (too many connections from here): keep its code and words.
        const refusal = parseValue(SignalingErrorPayload, (error as Error & { data?: unknown }).data);
        finish(
          err(
            refusal.ok
              ? protocolError(refusal.value.code, `the agent at ${endpoint} refused the connection: ${refusal.value.message}`)
              : protocolError('AGENT_OFFLINE', `cannot reach the agent at ${endpoint}: ${error.message}`),
          ),
        );
      });
      socket.once('lan:hello', (raw: unknown) => {
        const hello = parseValue(LanHello, raw);
        if (!hello.ok)
          return finish(err(protocolError('BAD_MESSAGE', `the endpoint ${endpoint} sent a bad greeting: ${hello.error.message}`)));
        finish(ok(new LanSignaling(endpoint, socket, hello.value)));
      });
      socket.connect();
    });
  }

  /** `pair:enroll`; on success this socket is authenticated. */
  enroll(request: PairEnroll): Promise<Result<LanAuthenticated>> {
    return this.authAck('pair:enroll', request);
  }

  /** `lan:auth`: signs the greeting's nonce with the console key. */
  async authenticate(consoleId: string, identity: ConsoleIdentity): Promise<Result<LanAuthenticated>> {
    const signature = await identity.sign(lanAuthInput({ agentId: this.hello.agentId, consoleId, nonce: this.hello.nonce }));
    return this.authAck('lan:auth', { consoleId, signature });
  }

  register(sessionId: string, handlers: NegotiationHandlers) {
    this.negotiations.set(sessionId, handlers);
    return { dispose: () => this.negotiations.delete(sessionId) };
  }

  sendOffer(msg: OfferToServer): Promise<Result<void>> {
    return this.signalingAck('webrtc:offer', msg);
  }

  sendIce(msg: Ice): Promise<Result<void>> {
    return this.signalingAck('webrtc:ice', msg);
  }

  sendDisconnect(msg: Disconnect): Promise<Result<void>> {
    return this.signalingAck('webrtc:disconnect', msg);
  }

  dispose(): void {
    this.negotiations.clear();
    this.closedEmitter.dispose();
    this.socket.removeAllListeners();
    this.socket.disconnect();
  }

  private route<S extends z.ZodType<{ sessionId: string }>>(
    event: 'webrtc:answer' | 'webrtc:ice' | 'webrtc:disconnect',
    schema: S,
    deliver: (h: NegotiationHandlers, msg: z.infer<S>) => void,
  ): void {
    (this.socket as unknown as { on(e: string, l: (raw: unknown) => void): void }).on(event, (raw) => {
      const parsed = parseValue(schema, raw);
      if (!parsed.ok) return console.warn(`[lan ${this.endpoint}] malformed ${event} dropped: ${parsed.error.message}`);
      const handlers = this.negotiations.get(parsed.value.sessionId);
      if (handlers) deliver(handlers, parsed.value);
      else console.warn(`[lan ${this.endpoint}] ${event} for unknown negotiation ${parsed.value.sessionId}; dropped`);
    });
  }

  private async authAck(event: 'pair:enroll' | 'lan:auth', payload: unknown): Promise<Result<LanAuthenticated>> {
    const reply = await this.emitWithAck(event, payload);
    if (!reply.ok) return reply;
    const parsed = parseValue(LanAuthAck, reply.value);
    if (!parsed.ok) return err(protocolError('BAD_MESSAGE', `bad acknowledgement of ${event}: ${parsed.error.message}`));
    if (!parsed.value.ok) return err({ code: parsed.value.error.code, message: parsed.value.error.message });
    return ok({ consoleId: parsed.value.consoleId, agent: parsed.value.agent });
  }

  private signalingAck(event: keyof ConsoleToLanEvents, payload: unknown): Promise<Result<void>> {
    return emitSignaling(this.socket, event, payload, { peer: `the agent's LAN endpoint ${this.endpoint}` });
  }

  private emitWithAck(event: keyof ConsoleToLanEvents, payload: unknown): Promise<Result<unknown, ProtocolError>> {
    return emitWithAck(this.socket, event, payload, { peer: `the agent's LAN endpoint ${this.endpoint}` });
  }
}
