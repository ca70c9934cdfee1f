import { err, ok, protocolError, type ErrorCode, type ProtocolError, type Result } from './errors.js';
import { parseValue } from './parse.js';
import { SIGNALING_ACK_TIMEOUT_MS, SignalingAck } from './signaling.js';

/**
 * Emitting a signaling event and waiting for its ack, the one way every client here does it (the
 * agent's signaling client, the console's cloud and LAN signaling). Typed over the little of a
 * Socket.IO client socket it uses, so that `protocol/` keeps no runtime dependency on Socket.IO.
 */
export interface AckingSocket {
  readonly connected: boolean;
  timeout(ms: number): unknown;
}

/** `socket.timeout(ms)` seen untyped: the reply is parsed as `unknown`, never trusted by its type. */
interface UntypedAckEmitter {
  emit(event: string, payload: unknown, ack: (timeout: Error | null, reply: unknown) => void): void;
}

export interface AckOptions {
  /** how long to wait for the ack; SIGNALING_ACK_TIMEOUT_MS (10 s) unless said */
  timeoutMs?: number;
  /** who should answer, for the messages: "the signaling server", "the agent" */
  peer?: string;
  /** the code when no ack came in time: AGENT_OFFLINE unless said */
  unansweredCode?: ErrorCode;
  /**
   * While the socket is not connected: refuse at once with AGENT_OFFLINE (the console: a tab
   * should say so now), unless true, when Socket.IO holds the event until it reconnects and the
   * ack timeout still applies (the agent: an answer sent while its socket reconnects).
   */
  bufferWhileDisconnected?: boolean;
}

/** Emits `event` with `payload` and resolves with the raw reply, or an error when none came in time. */
export function emitWithAck(
  socket: AckingSocket,
  event: string,
  payload: unknown,
  options: AckOptions = {},
): Promise<Result<unknown, ProtocolError>> {
  const timeoutMs = options.timeoutMs ?? SIGNALING_ACK_TIMEOUT_MS;
  const peer = options.peer ?? 'the signaling server';
  const code = options.unansweredCode ?? 'AGENT_OFFLINE';
  if (!socket.connected && !options.bufferWhileDisconnected)
    return Promise.resolve(err(protocolError('AGENT_OFFLINE', `not connected to ${peer}`)));
  return new Promise((resolve) => {
    (socket.timeout(timeoutMs) as UntypedAckEmitter).emit(event, payload, (timeout, reply) => {
      if (timeout) resolve(err(protocolError(code, `${peer} did not acknowledge ${event} within ${timeoutMs / 1000} s`)));
      else resolve(ok(reply));
    });
  });
}

/** `emitWithAck`, with the reply parsed as a `SignalingAck`: ok, or the error the peer answered. */
export async function emitSignaling(
  socket: AckingSocket,
  event: string,
  payload: unknown,
  options: AckOptions = {},
): Promise<Result<void>> {
  const reply = await emitWithAck(socket, event, payload, options);
  if (!reply.ok) return reply;
  const parsed = parseValue(SignalingAck, reply.value);
  if (!parsed.ok) return err(protocolError('BAD_MESSAGE', `bad acknowledgement of ${event}: ${parsed.error.message}`));
  return parsed.value.ok ? ok(undefined) : err({ code: parsed.value.error.code, message: parsed.value.error.message });
}
