import {
  Answer,
  Disconnect,
  emitSignaling,
  Ice,
  PresenceDiff,
  PresenceReplica,
  PresenceSnapshot,
  SignalingErrorPayload,
  TurnCredentials,
  parseValue,
  RECONNECT_FIRST_MS,
  RECONNECT_JITTER,
  RECONNECT_MAX_MS,
  reconnectDelayMs,
  type AgentInfo,
  type ConsoleToServerEvents,
  type OfferToServer,
  type PresenceChange,
  type ProtocolError,
  type Result,
  type ServerToConsoleEvents,
} from '@tether/protocol';
import { io, type Socket } from 'socket.io-client';
import { Emitter, type Disposable } from '../base/emitter';
import type { NegotiationHandlers, NegotiationTransport } from './negotiation-transport';

export type { NegotiationHandlers } from './negotiation-transport';

export type CloudSignalingState =
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'disconnected'; reason: string }
  | { kind: 'refused'; error: ProtocolError; retryAfterMs?: number };

type ConsoleSocket = Socket<ServerToConsoleEvents, ConsoleToServerEvents>;

/**
 * The console's Socket.IO connection to a signaling server: presence and negotiation routing.
 * Presence is a snapshot and then diffs (protocol/README.md, "Presence"), kept in a
 * `PresenceReplica`; `onPresence` fires with what changed only. Reconnection backs off
 * exponentially with jitter (RECONNECT_*), and a refusal that says `retryAfterMs` (a busy server) is
 * tried again after it, plus a random part.
 */
export class CloudSignaling implements Disposable, NegotiationTransport {
  readonly path = 'cloud' as const;
  private readonly socket: ConsoleSocket;
  private readonly negotiations = new Map<string, NegotiationHandlers>();
  private readonly presenceEmitter = new Emitter<PresenceChange>();
  private readonly stateEmitter = new Emitter<CloudSignalingState>();
  private readonly presence = new PresenceReplica();
  private currentState: CloudSignalingState = { kind: 'connecting' };
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private refusals = 0;
  /** The last TURN credentials issued, and until when they are good by this machine's clock. */
  private turnCredentials: { value: TurnCredentials; validUntil: number } | undefined;

  readonly onPresence = this.presenceEmitter.event;
  readonly onState = this.stateEmitter.event;

  constructor(url: string, token: string) {
    this.socket = io(url, {
      auth: { role: 'console', token },
      transports: ['websocket'],
      autoConnect: false,
      reconnectionDelay: RECONNECT_FIRST_MS,
      reconnectionDelayMax: RECONNECT_MAX_MS,
      randomizationFactor: RECONNECT_JITTER,
    });
    this.socket.on('connect', () => {
      this.refusals = 0;
      this.setState({ kind: 'connected' });
    });
    this.socket.on('disconnect', (reason, details) => {
      // In the console's own log too (devtools, a test's page log): what ended a connection that worked.
      const why = details instanceof Error ? `${reason}: ${details.message}` : reason;
      console.warn(`[signaling] disconnected: ${why}`);
      // Diffs are per connection: the next one starts with a snapshot, and the list is kept until then.
      this.presence.reset();
      this.setState({ kind: 'disconnected', reason });
    });
    this.socket.on('connect_error', (error) => {
      // The server refuses a bad token through the handshake; `data` carries its ProtocolError.
      const data = (error as Error & { data?: unknown }).data;
      const parsed = parseValue(SignalingErrorPayload, data);
      if (parsed.ok) {
        const { code, message, retryAfterMs } = parsed.value;
        this.setState({ kind: 'refused', error: { code, message }, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
        // A busy or crowded server asks to be tried again later; a refused token is final.
        if (code === 'RATE_LIMITED' && !this.socket.active) {
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.socket.connect(), reconnectDelayMs(this.refusals++, retryAfterMs));
        }
      } else {
        this.setState({ kind: 'disconnected', reason: `cannot reach the signaling server: ${error.message}` });
      }
    });
    this.socket.on('presence:snapshot', (raw: unknown) => {
      const parsed = parseValue(PresenceSnapshot, raw);
      if (!parsed.ok) return this.reportBadPayload('presence:snapshot', parsed.error);
      this.presenceEmitter.fire(this.presence.applySnapshot(parsed.value));
    });
    this.socket.on('presence:diff', (raw: unknown) => {
      const parsed = parseValue(PresenceDiff, raw);
      if (!parsed.ok) return this.reportBadPayload('presence:diff', parsed.error);
      const outcome = this.presence.applyDiff(parsed.value);
      if (outcome.kind === 'applied') this.presenceEmitter.fire(outcome.change);
      else if (outcome.kind === 'gap' && outcome.expected !== undefined) this.resync(outcome.expected, outcome.got);
    });
    this.socket.on('webrtc:answer', (raw: unknown) => {
      const parsed = parseValue(Answer, raw);
      if (!parsed.ok) return this.reportBadPayload('webrtc:answer', parsed.error);
      this.handlersFor('webrtc:answer', parsed.value.sessionId)?.onAnswer(parsed.value);
    });
    this.socket.on('webrtc:ice', (raw: unknown) => {
      const parsed = parseValue(Ice, raw);
      if (!parsed.ok) return this.reportBadPayload('webrtc:ice', parsed.error);
      this.handlersFor('webrtc:ice', parsed.value.sessionId)?.onIce(parsed.value);
    });
    this.socket.on('webrtc:disconnect', (raw: unknown) => {
      const parsed = parseValue(Disconnect, raw);
      if (!parsed.ok) return this.reportBadPayload('webrtc:disconnect', parsed.error);
      this.handlersFor('webrtc:disconnect', parsed.value.sessionId)?.onDisconnect(parsed.value);
    });
    this.socket.on('turn:credentials', (raw: unknown) => {
      const parsed = parseValue(TurnCredentials, raw);
      if (!parsed.ok) return this.reportBadPayload('turn:credentials', parsed.error);
      // Good for their lifetime from their arrival (less the second the server's rounding may have
      // taken), not until `expiresAt` read on this machine's clock: a console clock that is off by
      // more than half the TTL (a laptop keeping local time as UTC) would throw good credentials
      // away, and every new connection would lose its relay and the STUN answer that tells it its
      // NAT's address. Wall-clock time still, not performance.now(), so that a suspend counts.
      const lifetimeMs = Math.max(0, parsed.value.ttlSeconds - 1) * 1000;
      this.turnCredentials = { value: parsed.value, validUntil: Date.now() + lifetimeMs };
    });
    this.socket.on('signal:error', (raw: unknown) => {
      const parsed = parseValue(SignalingErrorPayload, raw);
      if (!parsed.ok) return this.reportBadPayload('signal:error', parsed.error);
      const { code, message, sessionId } = parsed.value;
      if (sessionId) this.handlersFor('signal:error', sessionId)?.onError({ code, message });
      else console.warn(`[signaling] server error ${code}: ${message}`);
    });
  }

  /** The agents the server lists now. */
  get agents(): ReadonlyMap<string, AgentInfo> {
    return this.presence.agents;
  }

  /**
   * The TURN servers the signaling server issued last, while they are valid; the server sends new
   * ones before these expire. A new peer connection takes them; an existing one keeps its allocation.
   */
  get iceServers(): RTCIceServer[] {
    const credentials = this.turnCredentials;
    if (!credentials || credentials.validUntil <= Date.now()) return [];
    return credentials.value.iceServers.map((server) => ({ ...server, urls: [...server.urls] }));
  }

  get state(): CloudSignalingState {
    return this.currentState;
  }

  connect(): void {
    this.socket.connect();
  }

  /** Routes this negotiation's answer, candidates and errors to `handlers` until disposed. */
  register(sessionId: string, handlers: NegotiationHandlers): Disposable {
    this.negotiations.set(sessionId, handlers);
    return { dispose: () => this.negotiations.delete(sessionId) };
  }

  sendOffer(msg: OfferToServer): Promise<Result<void>> {
    return this.emitWithAck('webrtc:offer', msg);
  }

  sendIce(msg: Ice): Promise<Result<void>> {
    return this.emitWithAck('webrtc:ice', msg);
  }

  sendDisconnect(msg: Disconnect): Promise<Result<void>> {
    return this.emitWithAck('webrtc:disconnect', msg);
  }

  dispose(): void {
    clearTimeout(this.retryTimer);
    this.negotiations.clear();
    this.presenceEmitter.dispose();
    this.stateEmitter.dispose();
    this.socket.removeAllListeners();
    this.socket.disconnect();
  }

  private emitWithAck<E extends keyof ConsoleToServerEvents>(
    event: E,
    msg: Parameters<ConsoleToServerEvents[E]>[0],
  ): Promise<Result<void>> {
    return emitSignaling(this.socket, event, msg, { unansweredCode: 'INTERNAL' });
  }

  /** A diff is missing: diffs are dropped until a fresh snapshot comes. */
  private resync(expected: number, got: number): void {
    console.warn(`[signaling] presence diff ${got} arrived where ${expected} was due; asking for a snapshot`);
    this.presence.reset();
    void this.emitWithAck('presence:resync', {}).then((reply) => {
      if (!reply.ok) console.warn(`[signaling] presence snapshot refused: ${reply.error.code} ${reply.error.message}`);
    });
  }

  private handlersFor(event: string, sessionId: string): NegotiationHandlers | undefined {
    const handlers = this.negotiations.get(sessionId);
    if (!handlers) console.warn(`[signaling] ${event} for unknown negotiation ${sessionId}; dropped`);
    return handlers;
  }

  private reportBadPayload(event: string, error: ProtocolError): void {
    console.warn(`[signaling] dropped a malformed ${event}: ${error.message}`);
  }

  private setState(state: CloudSignalingState): void {
    this.currentState = state;
    this.stateEmitter.fire(state);
  }
}
