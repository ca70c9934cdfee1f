/**
 * The agent's connection to a signaling server (Socket.IO): receives offers, candidates and
 * disconnects for the consoles' negotiations, sends answers and candidates back. Every payload is
 * parsed on receipt; a bad one is logged and dropped. Socket.IO reconnects by itself, with
 * exponential backoff and jitter (RECONNECT_* in @tether/protocol), so that a fleet that lost its
 * server does not come back in one wave; a refused handshake, which Socket.IO does not retry, is
 * tried again on the same schedule, never sooner than the server's `retryAfterMs` if it says one. (A
 * busy server refuses before the WebSocket upgrade: a transport error, which Socket.IO retries.)
 * The peer connections already established do not depend on this socket.
 */
import { io, type Socket } from 'socket.io-client';
import {
  Disconnect,
  emitSignaling,
  Ice,
  OfferToAgent,
  parseValue,
  RECONNECT_FIRST_MS,
  RECONNECT_JITTER,
  RECONNECT_MAX_MS,
  reconnectDelayMs,
  SignalingErrorPayload,
  TurnCredentials,
  type AgentToServerEvents,
  type Answer,
  type Result,
  type ServerToAgentEvents,
  type SignalingAuth,
} from '@tether/protocol';
import { describeError } from './deadline.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

export interface SignalingHandlers {
  onConnected(): void;
  onOffer(offer: OfferToAgent): void;
  onIce(ice: Ice): void;
  onDisconnect(message: Disconnect): void;
  /** time-limited TURN servers from the signaling server; the newest replace the previous */
  onTurnCredentials(credentials: TurnCredentials): void;
}

type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;

export class AgentSignalingClient {
  private readonly socket: AgentSocket;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** handshakes refused in a row, for the backoff */
  private refusals = 0;

  constructor(
    private readonly url: string,
    auth: Extract<SignalingAuth, { role: 'agent' }>,
    handlers: SignalingHandlers,
  ) {
    // WebSocket only: behind a load balancer without sticky sessions, long-polling requests could
    // reach different signaling nodes.
    this.socket = io(url, {
      auth,
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: RECONNECT_FIRST_MS,
      reconnectionDelayMax: RECONNECT_MAX_MS,
      randomizationFactor: RECONNECT_JITTER,
      autoConnect: false,
    });
    const socket = this.socket;
    socket.on('connect', () => {
      this.refusals = 0;
      log.debug('signaling connected', { url, socketId: socket.id });
      handlers.onConnected();
    });
    socket.on('disconnect', (reason) => log.warn('signaling disconnected', { url, reason }));
    socket.on('connect_error', (error) => {
      if (!socket.active && !this.closed) {
        // Refused by the server (a token, an address limit): Socket.IO leaves it there.
        const refusal = SignalingErrorPayload.safeParse((error as Error & { data?: unknown }).data);
        const delayMs = reconnectDelayMs(this.refusals++, refusal.success ? refusal.data.retryAfterMs : undefined);
        log.warn('signaling connection refused', { url, error: describeError(error), code: refusal.data?.code, retryInMs: delayMs });
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => socket.connect(), delayMs);
      } else {
        log.warn('signaling connection failed', { url, error: connectionFailure(error), retrying: socket.active });
      }
    });
    socket.on('webrtc:offer', (raw: unknown) => this.parsed('webrtc:offer', OfferToAgent, raw, handlers.onOffer));
    socket.on('webrtc:ice', (raw: unknown) => this.parsed('webrtc:ice', Ice, raw, handlers.onIce));
    socket.on('webrtc:disconnect', (raw: unknown) => this.parsed('webrtc:disconnect', Disconnect, raw, handlers.onDisconnect));
    socket.on('turn:credentials', (raw: unknown) => this.parsed('turn:credentials', TurnCredentials, raw, handlers.onTurnCredentials));
    socket.on('signal:error', (raw: unknown) => log.warn('signaling server reported an error', { payload: raw }));
  }

  private parsed<T>(event: string, schema: Parameters<typeof parseValue>[0], raw: unknown, handle: (value: T) => void): void {
    const result = parseValue(schema, raw);
    if (!result.ok) {
      log.warn('bad signaling payload dropped', { event, reason: result.error.message });
      return;
    }
    handle(result.value as T);
  }

  connect(): void {
    this.socket.connect();
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  sendAnswer(answer: Answer): Promise<Result<void>> {
    return this.emit('webrtc:answer', answer);
  }

  sendIce(ice: Ice): Promise<Result<void>> {
    return this.emit('webrtc:ice', ice);
  }

  sendDisconnect(message: Disconnect): Promise<Result<void>> {
    return this.emit('webrtc:disconnect', message);
  }

  private async emit<E extends keyof AgentToServerEvents>(event: E, payload: Parameters<AgentToServerEvents[E]>[0]): Promise<Result<void>> {
    const sent = await emitSignaling(this.socket, event, payload, { unansweredCode: 'INTERNAL', bufferWhileDisconnected: true });
    if (!sent.ok) log.warn('signaling message not acknowledged or refused', { event, code: sent.error.code, reason: sent.error.message });
    return sent;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket.removeAllListeners();
    this.socket.disconnect();
  }
}

/** Node's codes for a TLS certificate it did not accept, with what the operator can do about each. */
const CERTIFICATE_ADVICE: Record<string, string> = {
  CERT_HAS_EXPIRED: "the signaling server's certificate has expired, or this host's clock is wrong: check both",
  CERT_NOT_YET_VALID: "the signaling server's certificate is not valid yet: this host's clock is probably behind",
  ERR_TLS_CERT_ALTNAME_INVALID: "the signaling server's certificate is not for the host name in --signaling-url",
};
const UNTRUSTED =
  "this host does not trust the signaling server's certificate: give Node its CA (NODE_EXTRA_CA_CERTS=/path/to/ca.pem, " +
  'or NODE_OPTIONS=--use-system-ca for the system store; with the systemd unit, an Environment= line in a drop-in)';

/**
 * What a failed connection says, down to its cause: Engine.IO reports "websocket error" and keeps
 * the socket's own error (refused, reset, a certificate it did not accept) as `description`.
 */
export function connectionFailure(error: unknown): string {
  const outer = describeError(error);
  const description = (error as { description?: unknown } | null)?.description;
  // ws hands Engine.IO an error event: the Error itself is its `error`.
  const cause = description instanceof Error ? description : (description as { error?: unknown } | null | undefined)?.error;
  if (!(cause instanceof Error)) return outer;
  const code = (cause as NodeJS.ErrnoException).code;
  const advice =
    code !== undefined && code in CERTIFICATE_ADVICE
      ? CERTIFICATE_ADVICE[code]
      : /certificate|CERT_|SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY)/i.test(`${code ?? ''} ${cause.message}`)
        ? UNTRUSTED
        : undefined;
  return `${outer}: ${cause.message}${code ? ` (${code})` : ''}${advice ? `; ${advice}` : ''}`;
}
