import { err, ok, type OpenedMessage, type Result } from '@tether/protocol';
import type { InputLedger } from './input-ledger';
import type { OutputLedger } from './output-ledger';
import type { RestoredSession, ResumeInfo, SessionError } from './terminal-session';

/**
 * What the agent said of a session when it opened it and each time it took it back: its id, how
 * long it keeps it after a loss, and what each resume found of the output and the input. The
 * session's state, and what to do when a resume goes wrong, stay with the session.
 */
export class SessionResumes {
  /** the agent's first `opened` (or the session an earlier run of the console saved), with the grace period the last resume gave */
  private opened: Pick<OpenedMessage, 'sessionId' | 'resumeGraceMs'> | undefined;
  /** the session was saved by an earlier run of the console: its first resume replays all the agent holds */
  private restoring = false;
  private count = 0;
  private lastInfo: ResumeInfo | undefined;

  constructor(
    private readonly output: OutputLedger,
    private readonly input: InputLedger,
  ) {}

  get sessionId(): string | undefined {
    return this.opened?.sessionId;
  }

  /** How long the agent keeps the session after its channel is lost (0: it does not). */
  get resumeGraceMs(): number {
    return this.opened?.resumeGraceMs ?? 0;
  }

  get last(): ResumeInfo | undefined {
    return this.lastInfo;
  }

  /** The agent opened the session: `message` is its first `opened`. */
  started(message: OpenedMessage): void {
    this.opened = message;
  }

  /**
   * A session of an earlier run of the console. This run has shown none of its output, so it asks
   * from 0: the agent replays all it still holds (the last 1 MiB), and the screen comes back with
   * what was missed while the console was closed.
   */
  restore(session: RestoredSession): void {
    this.opened = { sessionId: session.sessionId, resumeGraceMs: session.resumeGraceMs };
    this.restoring = true;
  }

  /** What an `open` on a new channel adds to take this session back; nothing before it has opened. */
  request(): { resume?: { sessionId: string; received: number } } {
    return this.opened ? { resume: { sessionId: this.opened.sessionId, received: this.output.received } } : {};
  }

  /** `message` answered `open {resume}`: what the resume found, or an error when it is not this session. */
  accept(message: OpenedMessage): Result<ResumeInfo, SessionError> {
    if (!message.resumed || message.sessionId !== this.opened?.sessionId) {
      // An agent that ignored `resume` started another shell: the one the tab showed is gone.
      return err({
        code: 'SESSION_NOT_FOUND',
        message: `the agent answered the resume with session ${message.sessionId}, not ${this.opened?.sessionId ?? '?'}`,
        fatal: true,
      });
    }
    const { lost } = this.output.resumedAt(message.resumed.from);
    this.count += 1;
    const { inputReceived } = message.resumed;
    const undelivered = inputReceived === undefined ? undefined : this.input.reconcile(inputReceived);
    const restored = this.restoring;
    this.restoring = false;
    // Keys typed in the earlier run are not this run's to account for.
    this.lastInfo = { from: message.resumed.from, lost, count: this.count, undelivered: restored ? undefined : undelivered, restored };
    if (message.resumeGraceMs !== undefined) this.opened = { ...this.opened, resumeGraceMs: message.resumeGraceMs };
    return ok(this.lastInfo);
  }
}
