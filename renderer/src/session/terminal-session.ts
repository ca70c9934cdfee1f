import type { ErrorCode } from '@tether/protocol';
import type { Disposable, Event } from '../base/emitter';

/** Failures found on the console side, beside the codes the agent sends. */
export type LocalErrorCode = 'OPEN_TIMEOUT' | 'CHANNEL_CLOSED' | 'CONNECTION_LOST';

export interface SessionError {
  code: ErrorCode | LocalErrorCode;
  message: string;
  /** true when the session cannot go on after this error */
  fatal?: boolean;
}

export interface SessionOpened {
  sessionId: string;
  target: { id: string; name: string };
  shell: string;
}

/**
 * What a terminal tab depends on (Tabby's BaseSession): the WebRTC session is one implementation,
 * an in-memory one can drive the UI in unit tests.
 */
export interface TerminalSession extends Disposable {
  readonly onOutput: Event<Uint8Array>;
  readonly onOpened: Event<SessionOpened>;
  /** the process ended; `null` when the agent could not tell its exit code */
  readonly onExit: Event<number | null>;
  readonly onError: Event<SessionError>;
  readonly onClosed: Event<void>;

  /** Opens the session with the size last given to `resize`. */
  start(): void;
  /** Keyboard input; strings are sent as UTF-8. */
  write(data: Uint8Array | string): void;
  /** Before `start` this sets the initial size; afterwards it resizes the remote PTY. */
  resize(cols: number, rows: number): void;
  /** Reports output bytes the terminal has parsed (flow control). */
  ack(bytes: number): void;
  /** Ends the session: the remote process is killed and the transport closed. */
  close(): void;
}
