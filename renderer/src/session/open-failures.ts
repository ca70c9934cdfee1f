import type { ErrorCode } from '@tether/protocol';
import type { SessionError } from './terminal-session';

/** The agent's codes for an `open` (or `open {resume}`) it refused: the session cannot start. */
export const OPEN_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'UNKNOWN_TARGET',
  'TARGET_NOT_EXPOSED',
  'TARGET_NOT_RUNNING',
  'NO_SHELL',
  'EXEC_FAILED',
  'SESSION_NOT_FOUND',
  'SESSION_FORBIDDEN',
  'DOCKER_UNAVAILABLE',
]);

/** Whether an error code means that opening the terminal was refused. */
export function isOpenFailure(code: SessionError['code']): boolean {
  return (OPEN_FAILURES as ReadonlySet<string>).has(code);
}
