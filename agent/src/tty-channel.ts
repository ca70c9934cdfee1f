/**
 * One `tty:` data channel: parses what the console sends, opens a new session or resumes one the
 * agent holds (protocol/README.md, "Resume"), then passes input, resizes and acks to it. The
 * channel closing without `close` detaches the session rather than ending it. Input that waits for
 * the session to open is bounded here (MAX_QUEUED_INPUT_BYTES), as only this channel knows when it
 * opened; frame rates are ChannelBounds'.
 */
import {
  encodeMessage,
  MAX_QUEUED_INPUT_BYTES,
  parseConsoleTtyFrame,
  type AgentTtyMessage,
  type ErrorCode,
  type OpenMessage,
  type ProtocolError,
  type Result,
} from '@tether/protocol';
import { answerError, answerPing, closeWhenDrained, type DataChannelPort, type InboundFrame, type Unsubscribe } from './data-channel.js';
import { createLogger } from './log.js';
import { NoticeGate } from './rate-limit.js';
import { SessionRegistry } from './session-registry.js';
import { TtySession, type TtySessionOptions } from './tty-session.js';

const log = createLogger(import.meta.url);

export interface AgentTtyChannelOptions extends TtySessionOptions {
  /** where sessions are kept between channels; a private one when absent (unit tests) */
  registry?: SessionRegistry;
  /** Resolves once the peer may open terminals (the data-channel binding checked); ok when absent. */
  authorize?: () => Promise<Result<void>>;
  /** the clock of the once-a-second RATE_LIMITED answer to refused input; tests move their own */
  now?: () => number;
  /**
   * Whether the console takes `running` (RUNNING_CAPABILITY in its hello): it then gets `opened` as
   * soon as the exec's stream is attached. Without it (or when absent), `opened` waits for the shell.
   */
  consoleTakesRunning?: () => boolean;
}

type State = 'awaiting-open' | 'opening' | 'attached' | 'done';

export class AgentTtyChannel {
  private state: State = 'awaiting-open';
  private session: TtySession | undefined;
  private queuedInput: Buffer[] = [];
  private queuedBytes = 0;
  private pendingSize: { cols: number; rows: number } | undefined;
  private supersededLogged = false;
  private readonly inputRefusals: NoticeGate;
  private readonly registry: SessionRegistry;
  private readonly unsubscribe: Unsubscribe[] = [];
  /** Resolves once this channel is done with (closed, or its session ended). */
  readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(
    private readonly channel: DataChannelPort,
    private readonly options: AgentTtyChannelOptions,
  ) {
    this.registry = options.registry ?? new SessionRegistry();
    this.inputRefusals = new NoticeGate(options.now);
    this.done = new Promise((resolve) => (this.markDone = resolve));
    this.unsubscribe.push(channel.onMessage((frame) => this.receive(frame)));
    this.unsubscribe.push(channel.onClose(() => this.gone('channel closed')));
  }

  /** The session on this channel, once opened or resumed. */
  get current(): TtySession | undefined {
    return this.session;
  }

  /**
   * The channel is gone (closed, or its peer connection ends): its session waits for a resume.
   * With `close`, the channel is closed too, so that the console sees it end.
   */
  gone(reason: string, close = false): void {
    if (this.state !== 'done') {
      const session = this.session;
      this.finish();
      session?.detach(this.channel, reason);
    }
    if (close && this.channel.isOpen) this.channel.close();
  }

  private finish(): void {
    this.state = 'done';
    for (const off of this.unsubscribe.splice(0)) off();
    this.queuedInput = [];
    this.markDone();
  }

  private send(message: AgentTtyMessage): void {
    this.channel.send(encodeMessage(message));
  }

  private sendError(code: ErrorCode, message: string, fatal = false): void {
    answerError(this.channel, code, message, fatal);
  }

  /** The open is refused with `error`; `audited`: the session already wrote its `session.refused`. */
  private fail(error: ProtocolError, sessionId?: string, audited = false): void {
    log.info('open refused', { peer: this.options.peerId, code: error.code, reason: error.message, ...(sessionId ? { sessionId } : {}) });
    if (!audited)
      this.options.audit?.record('session.refused', {
        ...this.options.who,
        ...(sessionId ? { sessionId } : {}),
        code: error.code,
        reason: error.message,
      });
    this.sendError(error.code, error.message, true);
    this.finish();
    if (this.channel.isOpen) closeWhenDrained(this.channel);
  }

  private receive(frame: InboundFrame): void {
    if (this.state === 'done') return;
    if (this.state === 'attached' && this.session && !this.session.isAttachedTo(this.channel)) {
      // A resume took the session over and is closing this channel, which werift does not do at
      // once: what still arrives on it must not reach the shell, or `close` end it. The new
      // channel's `opened` told the console what the session had received; keys written after
      // that would run although the console reported them lost.
      // After `exit` the session has let go of its channel too: an `ack` for the last output is
      // what a console sends then (protocol/README.md), nothing to report.
      if (!this.supersededLogged && !this.session.isEnded)
        log.info('frame from a channel taken over dropped', { peer: this.options.peerId, sessionId: this.session.sessionId });
      this.supersededLogged = true;
      return;
    }
    const parsed = parseConsoleTtyFrame(frame);
    if (!parsed.ok) {
      log.warn('bad frame dropped', {
        peer: this.options.peerId,
        sessionId: this.session?.sessionId,
        code: parsed.error.code,
        reason: parsed.error.message,
      });
      this.sendError(parsed.error.code, parsed.error.message);
      return;
    }
    if (parsed.value.kind === 'bytes') {
      this.input(Buffer.from(parsed.value.bytes));
      return;
    }
    const message = parsed.value.message;
    switch (message.type) {
      case 'open':
        void this.open(message);
        return;
      case 'input':
        this.input(Buffer.from(message.data, 'utf8'));
        return;
      case 'resize':
        if (this.state === 'attached') this.session?.resize(message.cols, message.rows);
        else if (this.state === 'opening') this.pendingSize = { cols: message.cols, rows: message.rows };
        else this.sendError('NOT_OPEN', 'resize before the session opened');
        return;
      case 'ack':
        if (this.state === 'attached') this.session?.ack(this.channel, message.bytes);
        else this.sendError('NOT_OPEN', 'ack before the session opened');
        return;
      case 'close':
        if (this.session) void this.session.dispose('closed by the console');
        else if (this.state === 'opening') this.state = 'done'; // ended as soon as the open completes
        this.finish();
        if (this.channel.isOpen && !this.session) closeWhenDrained(this.channel);
        return;
      case 'ping':
        answerPing(this.channel, message);
        return;
      case 'pong':
        return;
    }
  }

  private input(bytes: Buffer): void {
    if (this.state === 'attached') {
      if (this.session && !this.session.input(bytes)) this.refuseInput('the shell is not reading its input; this input was not written');
    } else if (this.state === 'opening') {
      if (this.queuedBytes + bytes.length > MAX_QUEUED_INPUT_BYTES) {
        this.refuseInput(`at most ${MAX_QUEUED_INPUT_BYTES} bytes of input may wait for the terminal to open; this input was not written`);
        return;
      }
      this.queuedInput.push(bytes);
      this.queuedBytes += bytes.length;
    } else this.sendError('NOT_OPEN', 'input before the session opened');
  }

  /**
   * Input was not written: RATE_LIMITED, at most once a second, so that a refused paste is not
   * answered frame by frame.
   */
  private refuseInput(reason: string): void {
    if (!this.inputRefusals.allow()) return;
    log.warn('input refused', { peer: this.options.peerId, sessionId: this.session?.sessionId, reason });
    this.sendError('RATE_LIMITED', reason);
  }

  private async open(message: OpenMessage): Promise<void> {
    if (this.state !== 'awaiting-open') {
      this.sendError('ALREADY_OPEN', 'this channel already has a session');
      return;
    }
    this.state = 'opening';
    if (this.options.authorize) {
      const allowed = await this.options.authorize();
      if (!allowed.ok) return this.fail(allowed.error);
      if (this.isDone()) return;
    }
    // The agent stops: no new session, and none taken back (it is being ended).
    const refusal = this.registry.refusal;
    if (refusal) return this.fail(refusal, message.resume?.sessionId);
    if (message.resume) return this.resume(message, message.resume);
    let started = await TtySession.start(message, this.options);
    if (!started.ok && started.error.code === 'SESSION_LIMIT') {
      // A session of this console's that waits for a resume yields to its new one: a console that
      // restarted without its tabs must not be locked out of a container for the grace period.
      const waiting = this.registry.oldestDetached(this.options.owner, message.target);
      if (waiting) {
        log.info('detached session ended for a new one', {
          sessionId: waiting.sessionId,
          peer: this.options.peerId,
          container: waiting.target.name,
        });
        await waiting.dispose('replaced by a new session of the same console (session limit)');
        if (this.isDone()) return;
        started = await TtySession.start(message, this.options);
      }
    }
    if (!started.ok) return this.fail(started.error);
    const session = started.value;
    this.registry.add(session);
    const stopped = this.registry.refusal;
    if (stopped) return this.fail(stopped, session.sessionId);
    if (this.isDone()) {
      // The channel went away (or `close` came) while the exec started: the console never learnt
      // the session id, so nobody can resume it and its process must not outlive the channel.
      await session.dispose('channel gone while opening');
      return;
    }
    await this.attached(session, undefined);
  }

  private async resume(message: OpenMessage, resume: { sessionId: string; received: number }): Promise<void> {
    const session = this.registry.get(resume.sessionId);
    if (!session) {
      return this.fail(
        {
          code: 'SESSION_NOT_FOUND',
          message: `Session ${resume.sessionId} is not on this agent any more: it ended, its grace period ran out, or the agent restarted.`,
        },
        resume.sessionId,
      );
    }
    if (session.owner !== this.options.owner) {
      return this.fail({ code: 'SESSION_FORBIDDEN', message: `Session ${resume.sessionId} belongs to another console.` }, resume.sessionId);
    }
    const point = session.resumePoint(resume.received);
    if (!point.ok) return this.fail(point.error, resume.sessionId);
    if (message.target !== session.target.name && !session.target.id.startsWith(message.target)) {
      return this.fail(
        { code: 'BAD_MESSAGE', message: `Session ${resume.sessionId} runs in ${session.target.name}, not ${message.target}.` },
        resume.sessionId,
      );
    }
    session.resize(message.cols, message.rows);
    await this.attached(session, point.value);
  }

  private async attached(session: TtySession, resumed: { from: number; lost: number } | undefined): Promise<void> {
    const early = this.options.consoleTakesRunning?.() === true;
    if (!early) {
      // A console without RUNNING_CAPABILITY gets `opened` once the shell runs, every notice in it.
      const running = await session.running;
      if (this.isDone()) {
        // The channel went away meanwhile: a new session's id never reached the console, so
        // nobody can resume it and its process must not outlive the channel.
        if (!resumed) await session.dispose('channel gone while opening');
        return;
      }
      if (!running.ok) return this.fail(running.error, session.sessionId, true);
    }
    this.session = session;
    this.state = 'attached';
    void session.ended.then(() => {
      if (this.session === session && this.state !== 'done') this.finish();
    });
    const notices = early ? session.openNotices : session.notices;
    this.send({
      type: 'opened',
      sessionId: session.sessionId,
      target: { id: session.target.id.slice(0, 12), name: session.target.name },
      shell: session.shell,
      resumeGraceMs: session.graceMs,
      ...(resumed ? { resumed: { ...resumed, inputReceived: session.inputReceived } } : {}),
      ...(notices.length > 0 ? { notices } : {}),
    });
    session.attach(this.channel, resumed);
    for (const bytes of this.queuedInput) session.input(bytes);
    this.queuedInput = [];
    this.queuedBytes = 0;
    if (this.pendingSize) session.resize(this.pendingSize.cols, this.pendingSize.rows);
    if (early) {
      // The session ends itself, with a fatal error on this channel, if its shell never runs.
      void session.running.then((running) => {
        if (!running.ok || this.session !== session || this.state !== 'attached' || !session.isAttachedTo(this.channel)) return;
        const later = session.runningNotices;
        this.send({ type: 'running', hostPid: session.hostPid, ...(later.length > 0 ? { notices: later } : {}) });
      });
    }
  }

  private isDone(): boolean {
    return (this.state as State) === 'done';
  }
}
