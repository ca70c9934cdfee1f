/**
 * Error codes that cross the wire, on the data channels and on the signaling socket.
 * Each code names a failure a user can act on; the message beside it says what to try.
 */
export const ERROR_CODES = [
  // tether-tty/1, any channel
  'BAD_MESSAGE', // the frame is not valid JSON or does not match the schema; it was dropped
  'MESSAGE_TOO_LARGE', // the frame exceeds MAX_FRAME_BYTES; it was dropped
  'UNSUPPORTED_PROTOCOL', // the peer speaks a protocol version this side does not
  'NOT_OPEN', // input, resize or ack arrived before `open` succeeded
  'ALREADY_OPEN', // a second `open` on a channel that already has a session
  // opening a terminal
  'UNKNOWN_TARGET', // no container by that name or id on this host
  'TARGET_NOT_EXPOSED', // the container exists but this agent's rules do not expose it
  'TARGET_NOT_RUNNING', // the container is stopped or paused
  'NO_SHELL', // neither the configured shell nor a fallback exists in the container
  'EXEC_FAILED', // the Docker engine refused or failed the exec
  'SESSION_NOT_FOUND', // `resume` named a session this agent does not hold (ended, expired, agent restarted)
  'SESSION_FORBIDDEN', // `resume` named a session that another console opened
  'DOCKER_UNAVAILABLE', // the agent cannot reach its Docker engine
  // signaling
  'UNAUTHORIZED', // the token is missing, wrong or expired
  'AGENT_OFFLINE', // the agent addressed is not connected to this server
  'UNKNOWN_SESSION', // a signaling message for a negotiation the server does not know
  'FORBIDDEN', // the sender may not address that peer or session
  'RATE_LIMITED', // too many messages; slow down
  // pairing and trust (protocol/README.md, "Pairing and trust")
  'PAIRING_INVALID', // the pairing id is unknown or the proof of the secret is wrong
  'PAIRING_EXPIRED', // the pairing token's lifetime is over; run `tether-agent pair` again
  'PAIRING_SPENT', // the pairing token was already used; each one pairs one console
  'FINGERPRINT_MISMATCH', // a DTLS fingerprint is not the paired one, or a binding signature is wrong
  'NOT_PAIRED', // this console is not (or no longer) enrolled with the agent
  // agent rules
  'SESSION_LIMIT', // the container already has the most sessions the agent allows
  'IDLE_TIMEOUT', // the session ended after the agent's idle timeout
  'SESSION_EXPIRED', // the session reached the agent's maximum duration
  // file transfers (protocol/README.md, "File transfers")
  'TRANSFER_NOT_ALLOWED', // the agent's rules for this container allow no transfers, or downloads only
  'FILE_TOO_LARGE', // the file is over the agent's size limit for this container
  'BAD_PATH', // not one file name (`/`, `..`, `.`, too long), or not a regular file or directory
  'FILE_NOT_FOUND', // the file or directory does not exist in the container
  'FILE_EXISTS', // an upload's name exists and `overwrite` was false
  'PERMISSION_DENIED', // the session's user may not read or write there
  'NO_SPACE', // the container's filesystem is full; nothing was left under the final name
  'DIGEST_MISMATCH', // the SHA-256 (or the byte count) differs between the two ends; the file was not kept
  'TRANSFER_FAILED', // the command in the container failed otherwise; the message says how
  // the agent's own state
  'AUDIT_UNAVAILABLE', // `open` refused: the audit log cannot be written and the agent runs with --audit-failure closed
  'AGENT_STOPPED', // the agent is stopping: it ended the session (its processes are killed) after sending all its output
  'INTERNAL', // a bug or an unexpected failure on the answering side; see its log
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An expected failure as a value: a code the UI can explain and a sentence for a person. */
export interface ProtocolError {
  code: ErrorCode;
  message: string;
}

export type Result<T, E = ProtocolError> = { ok: true; value: T } | { ok: false; error: E };

export function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

export function err<E = ProtocolError>(error: E): Result<never, E> {
  return { ok: false, error };
}

export function protocolError(code: ErrorCode, message: string): ProtocolError {
  return { code, message };
}
