/**
 * An in-memory TerminalSession for unit tests of the console's tabs: the test plays the agent and
 * the path (opened, output, exit, a lost channel, a resume, a refusal), and reads what the tab
 * asked of the session (keys, resumes, close). It keeps the real session's rules that a tab relies
 * on: keys are dropped while detached, `resume` only from detached, one `onClosed`.
 */
import type { ContainerFate } from '@tether/protocol';
import { Emitter } from '../../../../renderer/src/base/emitter.js';
import type {
  ResumeInfo,
  SessionCarrier,
  SessionError,
  SessionExit,
  SessionFactory,
  SessionOpened,
  SessionRunning,
  TerminalSession,
} from '../../../../renderer/src/session/terminal-session.js';

type State = 'idle' | 'opening' | 'open' | 'detached' | 'resuming' | 'exited' | 'closed';

export class FakeTerminalSession implements TerminalSession {
  state: State = 'idle';
  sessionId: string | undefined;
  received = 0;
  resumeGraceMs = 0;
  resumeInfo: ResumeInfo | undefined;
  /** keys the tab sent while the session was open, as text */
  readonly typed: string[] = [];
  /** the carriers each resume was asked on, in order */
  readonly resumedOn: SessionCarrier[] = [];
  /** whether the tab asked for `close` (not a dispose) */
  closeAsked = false;
  private readonly outputEmitter = new Emitter<Uint8Array>();
  private readonly openedEmitter = new Emitter<SessionOpened>();
  private readonly runningEmitter = new Emitter<SessionRunning>();
  private readonly exitEmitter = new Emitter<SessionExit>();
  private readonly errorEmitter = new Emitter<SessionError>();
  private readonly closedEmitter = new Emitter<void>();
  private readonly detachedEmitter = new Emitter<string>();
  private readonly resumedEmitter = new Emitter<ResumeInfo>();
  private readonly inputDroppedEmitter = new Emitter<number>();
  readonly onOutput = this.outputEmitter.event;
  readonly onOpened = this.openedEmitter.event;
  readonly onRunning = this.runningEmitter.event;
  readonly onExit = this.exitEmitter.event;
  readonly onError = this.errorEmitter.event;
  readonly onClosed = this.closedEmitter.event;
  readonly onDetached = this.detachedEmitter.event;
  readonly onResumed = this.resumedEmitter.event;
  readonly onInputDropped = this.inputDroppedEmitter.event;

  constructor(
    readonly target: string,
    readonly carrier: SessionCarrier,
  ) {}

  get detached(): boolean {
    return this.state === 'detached' || this.state === 'resuming';
  }

  get resuming(): boolean {
    return this.state === 'resuming';
  }

  get resumable(): boolean {
    return this.resumeGraceMs > 0 && (this.state === 'open' || this.detached);
  }

  get hasClosed(): boolean {
    return this.state === 'closed';
  }

  start(): void {
    if (this.state === 'idle') this.state = 'opening';
  }

  write(data: Uint8Array | string): void {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
    if (this.detached) this.inputDroppedEmitter.fire(new TextEncoder().encode(text).byteLength);
    else if (this.state === 'open') this.typed.push(text);
  }

  resize(): void {}

  ack(): void {}

  detach(reason: string): void {
    if (this.state !== 'open' && this.state !== 'resuming') return;
    this.state = 'detached';
    this.detachedEmitter.fire(reason);
  }

  resume(carrier: SessionCarrier): void {
    if (this.state !== 'detached') return;
    this.state = 'resuming';
    this.resumedOn.push(carrier);
  }

  close(): void {
    this.closeAsked = true;
    this.finish();
  }

  dispose(): void {
    this.finish();
  }

  // ---- the agent's side, as a test plays it ----

  /** The agent opened the shell; it keeps it for `resumeGraceMs` after a loss. */
  opened(sessionId = 's-1', resumeGraceMs = 300_000): void {
    this.sessionId = sessionId;
    this.resumeGraceMs = resumeGraceMs;
    this.state = 'open';
    this.openedEmitter.fire({ sessionId, target: { id: 'c1', name: this.target }, shell: '/bin/sh' });
  }

  output(text: string): void {
    const bytes = new TextEncoder().encode(text);
    this.received += bytes.byteLength;
    this.outputEmitter.fire(bytes);
  }

  exit(code: number | null, container?: ContainerFate): void {
    this.state = 'exited';
    this.exitEmitter.fire({ code, ...(container ? { container } : {}) });
  }

  /** The agent's shell runs (`running`): its host pid, and what it could not apply to it. */
  running(hostPid = 4242, notices?: string[]): void {
    this.runningEmitter.fire({ hostPid, ...(notices ? { notices } : {}) });
  }

  /** The agent took the shell back: output goes on from `from`, `lost` bytes are gone. */
  resumed(info: Partial<ResumeInfo> = {}): void {
    this.state = 'open';
    this.resumeInfo = {
      from: this.received,
      lost: 0,
      count: (this.resumeInfo?.count ?? 0) + 1,
      undelivered: undefined,
      restored: false,
      ...info,
    };
    this.resumedEmitter.fire(this.resumeInfo);
  }

  /** An error from the agent; a refused open or resume ends the session, as the real one does. */
  error(error: SessionError): void {
    this.errorEmitter.fire(error);
    if (error.fatal || this.state === 'resuming') this.finish();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closedEmitter.fire();
  }
}

/** A session factory that keeps every session it made, newest last. */
export function fakeSessions(): { factory: SessionFactory; made: FakeTerminalSession[]; last(): FakeTerminalSession } {
  const made: FakeTerminalSession[] = [];
  return {
    factory: (target, carrier) => {
      const session = new FakeTerminalSession(target, carrier);
      made.push(session);
      return session;
    },
    made,
    last() {
      const session = made[made.length - 1];
      if (!session) throw new Error('no session made yet');
      return session;
    },
  };
}
