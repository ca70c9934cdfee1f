import type { ContainerFate, ErrorCode } from '@tether/protocol';
import type { Disposable, Event } from '../base/emitter';
import type { UndeliveredInput } from './input-ledger';

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
  /** the agent's notices for the tab: typing is recorded, what it could not apply to the shell */
  notices?: string[];
}

/** What `running` said (protocol/README.md, "`opened` before the shell runs"): the shell runs. */
export interface SessionRunning {
  /** the shell's process id on the agent's host; 0 when Docker did not say */
  hostPid: number;
  /** what the agent could not apply to the shell's processes */
  notices?: string[];
}

/** What `opened.resumed` said, and how many resumes this session has had. */
export interface ResumeInfo {
  from: number;
  lost: number;
  count: number;
  /** input sent before the drop that never reached the agent; undefined when none, or an older agent that does not say */
  undelivered: UndeliveredInput | undefined;
  /**
   * The session was taken back by a console that restarted (a reload, an Electron restart): the
   * agent replayed all the output it still holds, so `lost` is what it no longer holds.
   */
  restored: boolean;
}

/** A session of an earlier run of the console, to take back with `resume` (the tabs reopened after a restart). */
export interface RestoredSession {
  sessionId: string;
  resumeGraceMs: number;
}

/**
 * What carries a session to the agent: the agent's peer connection, which opens one `tty:`
 * channel per session (`tabId` names it). The tab hands it over and never opens a channel itself.
 */
export interface SessionCarrier {
  openTerminalChannel(tabId: string): RTCDataChannel;
}

/**
 * Makes the session of a tab: a terminal on `target` (a container name or id), carried by `carrier`;
 * with `restored`, the session starts detached, to be taken back with `resume` rather than `start`.
 */
export type SessionFactory = (target: string, carrier: SessionCarrier, restored?: RestoredSession) => TerminalSession;

/**
 * Everything a terminal tab uses of its session (Tabby's BaseSession): the WebRTC session
 * (webrtc-terminal-session.ts) is one implementation; an in-memory one drives the tab in unit tests.
 *
 * A session is opened once (`start`). When the path under it dies it `detach`es: the shell goes on
 * on the agent for `resumeGraceMs`, and `resume` takes it back on the agent's next connection,
 * without a byte shown twice or a keystroke sent twice. `close` ends it for good.
 */
/** How the shell ended: its exit code, and what became of its container when the shell ended with it. */
export interface SessionExit {
  code: number | null;
  container?: ContainerFate;
}

export interface TerminalSession extends Disposable {
  /** Output to show, in order, each byte once across resumes. */
  readonly onOutput: Event<Uint8Array>;
  readonly onOpened: Event<SessionOpened>;
  /** The shell runs (after `onOpened`, once, from agents that send `running`; older agents never fire it). */
  readonly onRunning: Event<SessionRunning>;
  /** the process ended (its code, `null` when the agent could not tell), and its container with it when it did */
  readonly onExit: Event<SessionExit>;
  readonly onError: Event<SessionError>;
  readonly onClosed: Event<void>;
  /** The channel was lost without `close`; the reason in words. `resume` may take the session back. */
  readonly onDetached: Event<string>;
  /** A resume succeeded; output goes on from `from`, `lost` bytes are gone. */
  readonly onResumed: Event<ResumeInfo>;
  /** Keystrokes typed while no channel carries the session, in bytes: dropped, not sent later. */
  readonly onInputDropped: Event<number>;

  /** the agent's id for the session, once opened */
  readonly sessionId: string | undefined;
  /** Output offset taken so far: what a resume asks from. */
  readonly received: number;
  /** How long the agent keeps the session after its channel is lost (0: it does not). */
  readonly resumeGraceMs: number;
  /** what the last resume found; undefined before the first */
  readonly resumeInfo: ResumeInfo | undefined;
  /** Whether the shell may still be running on the agent, waiting for a resume. */
  readonly detached: boolean;
  /** A resume is under way: asked for, not yet answered. */
  readonly resuming: boolean;
  /** Whether a lost channel can be resumed: the agent keeps sessions and this one is live. */
  readonly resumable: boolean;
  readonly hasClosed: boolean;

  /** Opens the session with the size last given to `resize`. */
  start(): void;
  /** Keyboard input; strings are sent as UTF-8. */
  write(data: Uint8Array | string): void;
  /** Before `start` this sets the initial size; afterwards it resizes the remote PTY. */
  resize(cols: number, rows: number): void;
  /** Reports output bytes the terminal has parsed (flow control). */
  ack(bytes: number): void;
  /** The path under the session is gone: let go of its channel; the agent keeps the shell. */
  detach(reason: string): void;
  /** Takes the detached session back on `carrier`, the agent's next connection. */
  resume(carrier: SessionCarrier): void;
  /** Ends the session: the remote process is killed and the transport closed. */
  close(): void;
}

/** The agent's codes for an `open` (or `open {resume}`) it refused: the session cannot start. */
const OPEN_FAILURES: ReadonlySet<string> = new Set<ErrorCode>([
  'UNKNOWN_TARGET',
  'TARGET_NOT_EXPOSED',
  'TARGET_NOT_RUNNING',
  'NO_SHELL',
  'EXEC_FAILED',
  'SESSION_NOT_FOUND',
  'SESSION_FORBIDDEN',
  'DOCKER_UNAVAILABLE',
]);

/** Whether an error code means that opening the terminal (or taking it back) was refused. */
export function isOpenFailure(code: SessionError['code']): boolean {
  return OPEN_FAILURES.has(code);
}
