import { MAX_FRAME_BYTES, type AgentTtyMessage, type ConsoleTtyMessage, type ErrorCode, type OpenedMessage } from '@tether/protocol';
import { DisposableStore, Emitter } from './emitter';
import { InputLedger, type UndeliveredInput } from './input-ledger';
import { OutputLedger } from './output-ledger';
import type { SessionError, SessionOpened, TerminalSession } from './terminal-session';
import { TtyChannel } from './tty-channel';

export interface WebRtcTerminalSessionOptions {
  /** the container to open, by name or id */
  target: string;
  /** makes the `tty:<tab>` channel on the agent's peer connection */
  openChannel: () => RTCDataChannel;
  /** how long to wait for `opened` after sending `open` */
  openTimeoutMs?: number;
  /** how long `close` waits for the agent's `exit` before closing the channel anyway */
  closeGraceMs?: number;
}

/** What `opened.resumed` said, and how many resumes this session has had. */
export interface ResumeInfo {
  from: number;
  lost: number;
  count: number;
  /** input sent before the drop that never reached the agent; undefined when none, or an older agent that does not say */
  undelivered: UndeliveredInput | undefined;
}

const DEFAULT_OPEN_TIMEOUT_MS = 20_000;
const DEFAULT_CLOSE_GRACE_MS = 2_000;
/** Input typed before the first `opened` is held up to this much; a paste larger than that is refused. */
const MAX_PENDING_INPUT_BYTES = 1024 * 1024;

const OPEN_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
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

/**
 * `detached`: the channel died without `close`; the shell goes on on the agent and `resume` may
 * take it back. `resuming`: a new channel asked for it with `open {resume}`.
 */
type State = 'idle' | 'opening' | 'open' | 'detached' | 'resuming' | 'exited' | 'closing' | 'closed';

/**
 * A terminal over a `tty:` data channel, speaking tether-tty/1; it outlives a lost channel
 * (`detach`) and continues on a new one (`resume`) without showing a byte twice or sending a
 * keystroke twice: input is dropped, never queued, while no channel carries the session.
 */
export class WebRtcTerminalSession implements TerminalSession {
  private readonly store = new DisposableStore();
  private readonly outputEmitter = new Emitter<Uint8Array>();
  private readonly openedEmitter = new Emitter<SessionOpened>();
  private readonly exitEmitter = new Emitter<number | null>();
  private readonly errorEmitter = new Emitter<SessionError>();
  private readonly closedEmitter = new Emitter<void>();
  private readonly detachedEmitter = new Emitter<string>();
  private readonly resumedEmitter = new Emitter<ResumeInfo>();
  private readonly inputDroppedEmitter = new Emitter<number>();
  private readonly encoder = new TextEncoder();
  private readonly ledger = new OutputLedger();
  private readonly inputLedger = new InputLedger();
  private channel: TtyChannel | undefined;
  private state: State = 'idle';
  private cols = 80;
  private rows = 24;
  private sizeSent = { cols: 0, rows: 0 };
  private pendingInput: Uint8Array[] = [];
  private pendingInputBytes = 0;
  private opened: OpenedMessage | undefined;
  private lastResume: ResumeInfo | undefined;
  private resumes = 0;
  private openTimer: ReturnType<typeof setTimeout> | undefined;

  readonly onOutput = this.outputEmitter.event;
  readonly onOpened = this.openedEmitter.event;
  readonly onExit = this.exitEmitter.event;
  readonly onError = this.errorEmitter.event;
  readonly onClosed = this.closedEmitter.event;
  /** The channel was lost without `close`; the reason in words. `resume` may take the session back. */
  readonly onDetached = this.detachedEmitter.event;
  /** A resume succeeded; output goes on from `from`, `lost` bytes are gone. */
  readonly onResumed = this.resumedEmitter.event;
  /** Keystrokes typed while no channel carries the session, in bytes: dropped, not sent later. */
  readonly onInputDropped = this.inputDroppedEmitter.event;

  constructor(private readonly options: WebRtcTerminalSessionOptions) {}

  get sessionId(): string | undefined {
    return this.opened?.sessionId;
  }

  /** Output offset taken so far: what a resume sends as `received`. */
  get received(): number {
    return this.ledger.received;
  }

  /** How long the agent keeps the session after its channel is lost (0: it does not). */
  get resumeGraceMs(): number {
    return this.opened?.resumeGraceMs ?? 0;
  }

  get resumeInfo(): ResumeInfo | undefined {
    return this.lastResume;
  }

  /** Whether the shell may still be running on the agent, waiting for a resume. */
  get detached(): boolean {
    return this.state === 'detached' || this.state === 'resuming';
  }

  /** A resume is under way: `open {resume}` sent, `opened` not yet back. */
  get resuming(): boolean {
    return this.state === 'resuming';
  }

  get hasClosed(): boolean {
    return this.state === 'closed';
  }

  /** Whether a lost channel can be resumed: the agent keeps sessions and this one is live. */
  get resumable(): boolean {
    return this.resumeGraceMs > 0 && (this.state === 'open' || this.detached);
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'opening';
    this.attachChannel();
  }

  /** The path under the channel is gone: drop the channel without `close`; the agent keeps the shell. */
  detach(reason: string): void {
    if (this.state !== 'open' && this.state !== 'resuming') return;
    this.state = 'detached';
    this.dropChannel();
    this.detachedEmitter.fire(reason);
  }

  /** Takes the detached session back on a new channel (`open {resume: {sessionId, received}}`). */
  resume(openChannel: () => RTCDataChannel): void {
    if (this.state !== 'detached') return;
    this.state = 'resuming';
    this.attachChannel(openChannel);
  }

  write(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? this.encoder.encode(data) : data;
    if (bytes.byteLength === 0) return;
    if (this.state === 'detached' || this.state === 'resuming') {
      // Never queued: a keystroke held across a reconnect could run twice or out of context.
      this.inputDroppedEmitter.fire(bytes.byteLength);
      return;
    }
    if (this.state === 'opening' || this.state === 'idle') {
      if (this.pendingInputBytes + bytes.byteLength > MAX_PENDING_INPUT_BYTES) {
        this.reportError({ code: 'NOT_OPEN', message: 'input dropped: the terminal is not open yet' });
        return;
      }
      this.pendingInput.push(bytes);
      this.pendingInputBytes += bytes.byteLength;
      return;
    }
    if (this.state !== 'open') {
      this.reportError({ code: 'NOT_OPEN', message: `input dropped: the session has ${this.state === 'exited' ? 'exited' : 'closed'}` });
      return;
    }
    for (let offset = 0; offset < bytes.byteLength; offset += MAX_FRAME_BYTES) {
      this.sendBytes(bytes.subarray(offset, Math.min(offset + MAX_FRAME_BYTES, bytes.byteLength)));
    }
  }

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    if (this.state !== 'open') return;
    if (cols === this.sizeSent.cols && rows === this.sizeSent.rows) return;
    this.sizeSent = { cols, rows };
    this.sendMessage({ type: 'resize', cols, rows });
  }

  ack(bytes: number): void {
    if (bytes <= 0) return;
    // Counted in every state, so that bytes parsed across a resume are not acknowledged twice.
    const current = this.ledger.parsedBytes(bytes);
    if (current > 0 && this.state === 'open') this.sendMessage({ type: 'ack', bytes: current });
  }

  close(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (!this.channel?.isOpen) {
      this.finish();
      return;
    }
    const wasRunning = this.state === 'open' || this.state === 'opening' || this.state === 'resuming';
    this.state = 'closing';
    if (!wasRunning) {
      this.finish();
      return;
    }
    this.sendMessage({ type: 'close' });
    // Let the agent answer `exit` and close its end; close ours after a grace period regardless.
    const timer = setTimeout(() => this.finish(), this.options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
    this.store.add({ dispose: () => clearTimeout(timer) });
  }

  /** Sends a frame as is, bypassing the protocol: for tests of the agent's validation. */
  sendRaw(data: string | Uint8Array): void {
    if (!this.channel) throw new Error('the terminal channel is not open');
    this.channel.sendRaw(data);
  }

  /** Closes the channel without `close`, as a dead path would (test hook): the agent detaches the session. */
  dropChannelForTest(): void {
    this.channel?.closeAbruptly();
  }

  dispose(): void {
    this.finish();
  }

  private attachChannel(openChannel = this.options.openChannel): void {
    let raw: RTCDataChannel;
    try {
      raw = openChannel();
    } catch (error) {
      if (this.state === 'resuming') return this.resumeFailed(`no channel for the resume: ${String(error)}`);
      this.reportError({ code: 'CONNECTION_LOST', message: String(error), fatal: true });
      this.finish();
      return;
    }
    const channel: TtyChannel = new TtyChannel(raw, {
      open: () => {
        this.sizeSent = { cols: this.cols, rows: this.rows };
        const resume = this.state === 'resuming' && this.opened ? { resume: { sessionId: this.opened.sessionId, received: this.ledger.received } } : {};
        this.sendMessage({ type: 'open', target: this.options.target, cols: this.cols, rows: this.rows, ...resume });
      },
      message: (message) => this.handleMessage(message),
      bytes: (bytes) => {
        if (this.state === 'open' || this.state === 'exited' || this.state === 'closing') this.output(bytes);
        else this.reportError({ code: 'NOT_OPEN', message: 'output before `opened`; dropped' });
      },
      invalid: (error) => this.reportError(error),
      closed: () => this.channelClosed(),
    });
    this.channel = channel;
    const timeout = this.options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    clearTimeout(this.openTimer);
    this.openTimer = setTimeout(() => {
      if (this.channel !== channel) return;
      if (this.state === 'resuming') return this.resumeFailed(`the agent did not answer the resume within ${timeout / 1000} s`);
      if (this.state !== 'opening') return;
      this.reportError({ code: 'OPEN_TIMEOUT', message: `the agent did not open the terminal within ${timeout / 1000} s`, fatal: true });
      this.close();
    }, timeout);
  }

  private channelClosed(): void {
    if (this.state === 'open') this.detachOrEnd('the terminal channel closed without `close`');
    else if (this.state === 'resuming') this.resumeFailed('the channel closed during the resume');
    else if (this.state === 'opening') {
      this.reportError({ code: 'CHANNEL_CLOSED', message: 'the terminal channel closed unexpectedly', fatal: true });
      this.finish();
    } else if (this.state !== 'detached') this.finish();
  }

  private detachOrEnd(reason: string): void {
    if (this.resumeGraceMs > 0) return this.detach(reason);
    this.reportError({ code: 'CHANNEL_CLOSED', message: 'the terminal channel closed unexpectedly', fatal: true });
    this.finish();
  }

  /** A resume attempt failed on the way (not refused): back to detached, for the tab to try again. */
  private resumeFailed(reason: string): void {
    if (this.state !== 'resuming') return;
    this.state = 'detached';
    this.dropChannel();
    this.detachedEmitter.fire(reason);
  }

  /** Forgets the current channel: no more of its frames are taken, and nothing more is sent on it. */
  private dropChannel(): void {
    clearTimeout(this.openTimer);
    this.channel?.dispose();
    this.channel = undefined;
  }

  private output(bytes: Uint8Array): void {
    const shown = this.ledger.take(bytes);
    if (shown.byteLength > 0) this.outputEmitter.fire(shown);
  }

  private handleMessage(message: AgentTtyMessage): void {
    switch (message.type) {
      case 'opened':
        if (this.state === 'resuming') return this.resumed(message);
        if (this.state !== 'opening') {
          this.reportError({ code: 'ALREADY_OPEN', message: 'the agent sent `opened` twice; ignored' });
          return;
        }
        clearTimeout(this.openTimer);
        this.state = 'open';
        this.opened = message;
        this.openedEmitter.fire({ sessionId: message.sessionId, target: message.target, shell: message.shell });
        if (this.cols !== this.sizeSent.cols || this.rows !== this.sizeSent.rows) this.resize(this.cols, this.rows);
        this.flushPendingInput();
        break;
      case 'output':
        this.output(this.encoder.encode(message.data));
        break;
      case 'exit':
        if (this.state === 'open' || this.state === 'closing') {
          const closing = this.state === 'closing';
          this.state = 'exited';
          this.exitEmitter.fire(message.code);
          if (closing) this.finish();
        }
        break;
      case 'error':
        this.reportError({ code: message.code, message: message.message, ...(message.fatal ? { fatal: true } : {}) });
        // A refused open or resume ends the session whether or not the agent marks it fatal.
        if ((this.state === 'opening' || this.state === 'resuming') && (message.fatal || OPEN_FAILURES.has(message.code) || message.code === 'BAD_MESSAGE')) {
          clearTimeout(this.openTimer);
          const resuming = this.state === 'resuming';
          this.state = 'closing';
          // A refused resume has nothing left to wait for; a refused open waits for the agent's close.
          if (resuming || !this.channel?.isOpen) this.finish();
        } else if (message.fatal && this.state === 'open') {
          // The agent ends the session (idle timeout, maximum duration): its channel close is no loss.
          this.state = 'closing';
        }
        break;
      case 'ping':
        this.sendMessage({ type: 'pong', ...(message.id === undefined ? {} : { id: message.id }) });
        break;
      case 'pong':
        break;
    }
  }

  private resumed(message: OpenedMessage): void {
    clearTimeout(this.openTimer);
    if (!message.resumed || message.sessionId !== this.opened?.sessionId) {
      // An agent that ignored `resume` started another shell: the one the tab showed is gone.
      this.reportError({ code: 'SESSION_NOT_FOUND', message: `the agent answered the resume with session ${message.sessionId}, not ${this.opened?.sessionId ?? '?'}`, fatal: true });
      this.state = 'closing';
      this.sendMessage({ type: 'close' });
      this.finish();
      return;
    }
    const { lost } = this.ledger.resumedAt(message.resumed.from);
    this.state = 'open';
    this.resumes += 1;
    const { inputReceived } = message.resumed;
    const undelivered = inputReceived === undefined ? undefined : this.inputLedger.reconcile(inputReceived);
    this.lastResume = { from: message.resumed.from, lost, count: this.resumes, undelivered };
    if (message.resumeGraceMs !== undefined) this.opened = { ...this.opened, resumeGraceMs: message.resumeGraceMs };
    this.resumedEmitter.fire(this.lastResume);
    if (this.cols !== this.sizeSent.cols || this.rows !== this.sizeSent.rows) this.resize(this.cols, this.rows);
  }

  private flushPendingInput(): void {
    const pending = this.pendingInput;
    this.pendingInput = [];
    this.pendingInputBytes = 0;
    for (const bytes of pending) this.write(bytes);
  }

  private sendMessage(message: ConsoleTtyMessage): void {
    const failed = this.channel ? this.channel.send(message) : { code: 'CHANNEL_CLOSED' as const, message: `\`${message.type}\` not sent: no channel` };
    if (failed) this.reportError(failed);
  }

  private sendBytes(bytes: Uint8Array): void {
    const failed = this.channel ? this.channel.sendBytes(bytes) : { code: 'CHANNEL_CLOSED' as const, message: 'input not sent: no channel' };
    if (failed) this.reportError(failed);
    else this.inputLedger.record(bytes);
  }

  private reportError(error: SessionError): void {
    this.errorEmitter.fire(error);
  }

  /** The one disposer: closes the channel, clears timers and listeners, fires onClosed once. */
  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.openTimer);
    this.store.dispose();
    this.channel?.dispose();
    this.closedEmitter.fire();
    for (const emitter of [
      this.outputEmitter, this.openedEmitter, this.exitEmitter, this.errorEmitter, this.closedEmitter,
      this.detachedEmitter, this.resumedEmitter, this.inputDroppedEmitter,
    ]) {
      emitter.dispose();
    }
  }
}
