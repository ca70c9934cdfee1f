import {
  NegotiationId,
  parseValue,
  protocolError,
  type ClientToServerEvents,
  type ProtocolError,
  type Result,
  type SignalingAck,
  type SignalingErrorPayload,
} from '@tether/protocol';
import type { z } from 'zod';
import type { SignalingSocket } from './io-types.js';
import type { Logger } from './log.js';
import { MESSAGE_BURST, MESSAGES_PER_SECOND, TokenBucket } from './rate-limit.js';
import type { SerialQueues } from './serial-queues.js';

type EventName = keyof ClientToServerEvents;

/** The events each role may send; anything else is answered with BAD_MESSAGE. */
export const EVENTS_BY_ROLE: Record<'console' | 'agent', readonly EventName[]> = {
  console: ['presence:resync', 'webrtc:offer', 'webrtc:ice', 'webrtc:disconnect'],
  agent: ['webrtc:answer', 'webrtc:ice', 'webrtc:disconnect'],
};

/** Splits an event's arguments into its payload and its ack callback, if the client asked for one. */
function splitArgs(args: unknown[]): { payload: unknown; ack: unknown } {
  const last = args.at(-1);
  if (typeof last === 'function') return { payload: args.length > 1 ? args[0] : undefined, ack: last };
  return { payload: args[0], ack: undefined };
}

function sessionIdOf(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const candidate = (payload as { sessionId?: unknown }).sessionId;
  return NegotiationId.safeParse(candidate).success ? (candidate as string) : undefined;
}

/**
 * Answers one message: through its ack callback when it has one, otherwise, for failures only,
 * with a `signal:error` event. Never throws at the caller.
 */
export function reply(socket: SignalingSocket, ack: unknown, outcome: Result<void>, sessionId?: string): void {
  if (typeof ack === 'function') {
    const answer: SignalingAck = outcome.ok ? { ok: true } : { ok: false, error: errorPayload(outcome.error, sessionId) };
    (ack as (reply: SignalingAck) => void)(answer);
  } else if (!outcome.ok) {
    socket.emit('signal:error', errorPayload(outcome.error, sessionId));
  }
}

function errorPayload(error: ProtocolError, sessionId: string | undefined): SignalingErrorPayload {
  return sessionId === undefined ? { ...error } : { ...error, sessionId };
}

/** Where a connection's messages are handled: one queue per connection keeps them in order. */
export interface InboundContext {
  log: Logger;
  queues: SerialQueues;
}

/**
 * Registers the handler of one event: the payload is parsed with `schema`, the handler returns
 * an outcome as a value, and the sender gets it back. Handlers of one connection run one at a
 * time, in arrival order. A handler that throws is a bug, or the shared state unreachable: it is
 * logged and answered with INTERNAL, and the connection goes on.
 */
export function handle<S extends z.ZodType>(
  socket: SignalingSocket,
  event: EventName,
  schema: S,
  context: InboundContext,
  handler: (value: z.infer<S>) => Promise<Result<void>>,
): void {
  const { log, queues } = context;
  const listener = (...args: unknown[]) => {
    const { payload, ack } = splitArgs(args);
    const sessionId = sessionIdOf(payload);
    const parsed = parseValue(schema, payload);
    if (!parsed.ok) {
      log.info('refused malformed message', { socketId: socket.id, event, reason: parsed.error.message });
      reply(socket, ack, parsed, sessionId);
      return;
    }
    void queues.run(socket, async () => {
      let outcome: Result<void>;
      try {
        outcome = await handler(parsed.value);
      } catch (error) {
        log.error('handler failed', { socketId: socket.id, event, error });
        outcome = { ok: false, error: protocolError('INTERNAL', 'the signaling server failed on this message') };
      }
      reply(socket, ack, outcome, sessionId);
    });
  };
  socket.on(event, listener);
}

/** At most one `rate limited` log line per socket in this interval; `refused` counts the messages since the last. */
export const RATE_LIMIT_LOG_INTERVAL_MS = 1000;

/**
 * Runs before every handler: drops events this role may not send and messages over the
 * socket's rate, answering each with a code.
 */
export function guardInbound(socket: SignalingSocket, role: 'console' | 'agent', log: Logger): void {
  const allowed: readonly string[] = EVENTS_BY_ROLE[role];
  const bucket = new TokenBucket(MESSAGES_PER_SECOND, MESSAGE_BURST);
  // A flood must not flood the log too: one line per second per socket, with the count.
  let refused = 0;
  let loggedAt = Number.NEGATIVE_INFINITY;
  socket.use((packet, next) => {
    // socket.io-parser also lets numbers through as event names: never trust the type.
    const [rawEvent, ...args] = packet as unknown[];
    const event = String(rawEvent).slice(0, 64);
    const { payload, ack } = splitArgs(args);
    if (!bucket.take()) {
      refused++;
      if (performance.now() - loggedAt >= RATE_LIMIT_LOG_INTERVAL_MS) {
        log.warn('rate limited', { socketId: socket.id, event, refused });
        loggedAt = performance.now();
        refused = 0;
      }
      reply(socket, ack, { ok: false, error: protocolError('RATE_LIMITED', 'too many messages; slow down') }, sessionIdOf(payload));
      return;
    }
    if (typeof rawEvent !== 'string' || !allowed.includes(rawEvent)) {
      log.info('refused unknown event', { socketId: socket.id, role, event });
      const message = `a ${role} may not send event ${JSON.stringify(event)}`;
      reply(socket, ack, { ok: false, error: protocolError('BAD_MESSAGE', message) }, sessionIdOf(payload));
      return;
    }
    next();
  });
}
