import { MAX_FRAME_BYTES, type AgentTtyMessage, type ConsoleTtyMessage, type OpenedMessage } from '@tether/protocol';
import { DisposableStore, Emitter } from '../base/emitter';
import { randomId } from '../base/random-id';
import { ConsoleTtyChannel } from './console-tty-channel';
import { InputLedger } from './input-ledger';
import { OutputLedger } from './output-ledger';
import { SessionResumes } from './session-resumes';
import {
  isOpenFailure,
  type ResumeInfo,
  type SessionCarrier,
  type SessionError,
  type SessionExit,
  type SessionFactory,
  type SessionOpened,
  type SessionRunning,
  type RestoredSession,
  type TerminalSession,
} from './terminal-session';

export interface WebRtcTerminalSessionOptions {
  /** the container to open, by name or id */
  target: string;
  /** the agent's connection: opens the `tty:<tab>` channel */
  carrier: SessionCarrier;
  /** how long to wait for `opened` after sending `open` */
  openTimeoutMs?: number;
  /** how long `close` waits for the agent's `exit` before closing the channel anyway */
  closeGraceMs?: number;
  /** a session of an earlier run of the console: the session starts detached, for `resume` */
  restored?: RestoredSession;
}

const DEFAULT_OPEN_TIMEOUT_MS = 20_000;
const DEFAULT_CLOSE_GRACE_MS = 2_000;
/** Input typed before the first `opened` is held up to this much; a paste larger than that is refused. */
const MAX_PENDING_INPUT_BYTES = 1024 * 1024;

/** The tabs' session factory in the product: a WebRTC session on the agent's connection. */
export const webRtcSessions: SessionFactory = (target, carrier, restored) =>
  new WebRtcTerminalSession({ target, carrier, ...(restored ? { restored } : {}) });

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
  private readonly encoder = new TextEncoder();
  private readonly output = new OutputLedger();
  private readonly input = new InputLedger();
  private readonly resumes = new SessionResumes(this.output, this.input);
  /** the channel the session is on now; none while detached */
  private channel: ConsoleTtyChannel | undefined;
  private state: State = 'idle';
  /** the size the user set last, and the one the agent last heard (`open` or `resize`) */
  private size = { cols: 80, rows: 24 };
  private sentSize = { cols: 0, rows: 0 };
  /** input typed before the first `opened`, sent once it comes */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  private readonly outputEmitter = new Emitter<Uint8Array>();
  private readonly openedEmitter = new Emitter<SessionOpened>();
  private readonly runningEmitter = new Emitter<SessionRunning>();
  /** `running` came once: a resume's `running` tells the tab nothing new */
  private runningSeen = false;
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

  constructor(private readonly options: WebRtcTerminalSessionOptions) {
    if (options.restored) {
      this.resumes.restore(options.restored);
      this.state = 'detached';
    }
  }

  get sessionId(): string | undefined {
    return this.resumes.sessionId;
  }

  get received(): number {
    return this.output.received;
  }

  get resumeGraceMs(): number {
    return this.resumes.resumeGraceMs;
  }

  get resumeInfo(): ResumeInfo | undefined {
    return this.resumes.last;
  }

  get detached(): boolean {
    return this.state === 'detached' || this.state === 'resuming';
  }

  get resuming(): boolean {
    return this.state === 'resuming';
  }

  get hasClosed(): boolean {
    return this.state === 'closed';
  }

  get resumable(): boolean {
    return this.resumeGraceMs > 0 && (this.state === 'open' || this.detached);
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'opening';
    this.attachChannel(this.options.carrier);
  }

  /**
   * The path under the channel is gone: drop the channel without `close`; the agent keeps the shell.
   * A resume that fails on the way (not refused) comes back here too, for the tab to try again.
   */
  detach(reason: string): void {
    if (this.state !== 'open' && this.state !== 'resuming') return;
    this.state = 'detached';
    this.dropChannel();
    this.detachedEmitter.fire(reason);
  }

  /** Takes the detached session back on a new channel (`open {resume: {sessionId, received}}`). */
  resume(carrier: SessionCarrier): void {
    if (this.state !== 'detached') return;
    this.state = 'resuming';
    this.attachChannel(carrier);
  }

  write(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? this.encoder.encode(data) : data;
    if (bytes.byteLength === 0) return;
    // Never queued while detached: a keystroke held across a reconnect could run twice or out of context.
    if (this.detached) this.inputDroppedEmitter.fire(bytes.byteLength);
    else if (this.state === 'opening' || this.state === 'idle') this.hold(bytes);
    else if (this.state === 'open') this.sendInput(bytes);
    else this.reportError({ code: 'NOT_OPEN', message: `input dropped: the session has ${this.state === 'exited' ? 'exited' : 'closed'}` });
  }

  resize(cols: number, rows: number): void {
    this.size = { cols, rows };
    if (this.state === 'open' && this.sizeUnsent()) this.sendMessage({ type: 'resize', ...this.markSizeSent() });
  }

  ack(bytes: number): void {
    if (bytes <= 0) return;
    // Counted in every state, so that bytes parsed across a resume are not acknowledged twice.
    const current = this.output.parsedBytes(bytes);
    if (current > 0 && this.state === 'open') this.sendMessage({ type: 'ack', bytes: current });
  }

  close(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const running = this.state === 'open' || this.state === 'opening' || this.state === 'resuming';
    if (!this.channel?.isOpen || !running) return this.finish();
    this.state = 'closing';
    this.sendMessage({ type: 'close' });
    // Let the agent answer `exit` and close its end; close ours after a grace period regardless.
    const timer = setTimeout(() => this.finish(), this.options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
    this.store.add({ dispose: () => clearTimeout(timer) });
  }

  dispose(): void {
    this.finish();
  }

  private attachChannel(carrier: SessionCarrier): void {
    let raw: RTCDataChannel;
    try {
      raw = carrier.openTerminalChannel(randomId(12));
    } catch (error) {
      if (this.state === 'resuming') return this.detach(`no channel for the resume: ${String(error)}`);
      this.reportError({ code: 'CONNECTION_LOST', message: String(error), fatal: true });
      this.finish();
      return;
    }
    const timeout = this.options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    this.dropChannel();
    const channel: ConsoleTtyChannel = new ConsoleTtyChannel(
      raw,
      {
        open: () => {
          const resume = this.state === 'resuming' ? this.resumes.request() : {};
          this.sendMessage({ type: 'open', target: this.options.target, ...this.markSizeSent(), ...resume });
        },
        message: (message) => this.handleMessage(message),
        bytes: (bytes) => {
          if (this.state === 'open' || this.state === 'exited' || this.state === 'closing') this.show(bytes);
          else this.reportError({ code: 'NOT_OPEN', message: 'output before `opened`; dropped' });
        },
        invalid: (error) => this.reportError(error),
        closed: () => this.channelClosed(),
        openTimeout: () => {
          if (this.channel !== channel) return;
          if (this.state === 'resuming') return this.detach(`the agent did not answer the resume within ${timeout / 1000} s`);
          if (this.state !== 'opening') return;
          this.reportError({
            code: 'OPEN_TIMEOUT',
            message: `the agent did not open the terminal within ${timeout / 1000} s`,
            fatal: true,
          });
          this.close();
        },
      },
      timeout,
    );
    this.channel = channel;
  }

  /** Forgets the current channel: no more of its frames are taken, and nothing more is sent on it. */
  private dropChannel(): void {
    this.channel?.dispose();
    this.channel = undefined;
  }

  /** An open session whose agent keeps sessions detaches; one still opening, or kept by no one, ends. */
  private channelClosed(): void {
    if (this.state === 'open' && this.resumeGraceMs > 0) this.detach('the terminal channel closed without `close`');
    else if (this.state === 'resuming') this.detach('the channel closed during the resume');
    else if (this.state === 'opening' || this.state === 'open') {
      this.reportError({ code: 'CHANNEL_CLOSED', message: 'the terminal channel closed unexpectedly', fatal: true });
      this.finish();
    } else if (this.state !== 'detached') this.finish();
  }

  private show(bytes: Uint8Array): void {
    const shown = this.output.take(bytes);
    if (shown.byteLength > 0) this.outputEmitter.fire(shown);
  }

  /** Before `opened`: keeps `bytes` to send once the terminal is open, unless that goes over the bound. */
  private hold(bytes: Uint8Array): void {
    if (this.pendingBytes + bytes.byteLength > MAX_PENDING_INPUT_BYTES) {
      this.reportError({ code: 'NOT_OPEN', message: 'input dropped: the terminal is not open yet' });
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
  }

  /** The input held before `opened`, sent now that the terminal is open. */
  private sendHeld(): void {
    const held = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const bytes of held) this.write(bytes);
  }

  /** Sends `bytes` in frames of at most MAX_FRAME_BYTES; each one sent is recorded for a resume. */
  private sendInput(bytes: Uint8Array): void {
    for (let offset = 0; offset < bytes.byteLength; offset += MAX_FRAME_BYTES) {
      const frame = bytes.subarray(offset, Math.min(offset + MAX_FRAME_BYTES, bytes.byteLength));
      const failed = this.channel
        ? this.channel.sendBytes(frame)
        : { code: 'CHANNEL_CLOSED' as const, message: 'input not sent: no channel' };
      if (failed) this.reportError(failed);
      else this.input.record(frame);
    }
  }

  private sizeUnsent(): boolean {
    return this.size.cols !== this.sentSize.cols || this.size.rows !== this.sentSize.rows;
  }

  /** The size set last, now on its way to the agent. */
  private markSizeSent(): { cols: number; rows: number } {
    this.sentSize = { ...this.size };
    return this.sentSize;
  }

  private handleMessage(message: AgentTtyMessage): void {
    switch (message.type) {
      case 'opened':
        if (this.state === 'resuming') return this.resumed(message);
        if (this.state !== 'opening') {
          this.reportError({ code: 'ALREADY_OPEN', message: 'the agent sent `opened` twice; ignored' });
          return;
        }
        this.channel?.answered();
        this.state = 'open';
        this.resumes.started(message);
        this.openedEmitter.fire({
          sessionId: message.sessionId,
          target: message.target,
          shell: message.shell,
          ...(message.notices ? { notices: message.notices } : {}),
        });
        if (this.sizeUnsent()) this.resize(this.size.cols, this.size.rows);
        this.sendHeld();
        break;
      case 'running':
        if (this.runningSeen || this.state === 'opening') return;
        this.runningSeen = true;
        this.runningEmitter.fire({ hostPid: message.hostPid, ...(message.notices ? { notices: message.notices } : {}) });
        break;
      case 'output':
        this.show(this.encoder.encode(message.data));
        break;
      case 'exit':
        if (this.state === 'open' || this.state === 'closing') {
          const closing = this.state === 'closing';
          this.state = 'exited';
          this.exitEmitter.fire({ code: message.code, ...(message.container ? { container: message.container } : {}) });
          if (closing) this.finish();
        }
        break;
      case 'error':
        this.reportError({ code: message.code, message: message.message, ...(message.fatal ? { fatal: true } : {}) });
        // A refused open or resume ends the session whether or not the agent marks it fatal.
        if (
          (this.state === 'opening' || this.state === 'resuming') &&
          (message.fatal || isOpenFailure(message.code) || message.code === 'BAD_MESSAGE')
        ) {
          this.channel?.answered();
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
    this.channel?.answered();
    const resumed = this.resumes.accept(message);
    if (!resumed.ok) {
      this.reportError(resumed.error);
      this.state = 'closing';
      this.sendMessage({ type: 'close' });
      this.finish();
      return;
    }
    this.state = 'open';
    this.resumedEmitter.fire(resumed.value);
    if (this.sizeUnsent()) this.resize(this.size.cols, this.size.rows);
  }

  /** Sends a message on the current channel; an error is reported, not thrown. */
  private sendMessage(message: ConsoleTtyMessage): void {
    const failed = this.channel
      ? this.channel.send(message)
      : { code: 'CHANNEL_CLOSED' as const, message: `\`${message.type}\` not sent: no channel` };
    if (failed) this.reportError(failed);
  }

  private reportError(error: SessionError): void {
    this.errorEmitter.fire(error);
  }

  /** The one disposer: closes the channel, clears timers and listeners, fires onClosed once. */
  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.store.dispose();
    this.dropChannel();
    this.closedEmitter.fire();
    const emitters = [
      this.outputEmitter,
      this.openedEmitter,
      this.runningEmitter,
      this.exitEmitter,
      this.errorEmitter,
      this.closedEmitter,
      this.detachedEmitter,
      this.resumedEmitter,
      this.inputDroppedEmitter,
    ];
    for (const emitter of emitters) emitter.dispose();
  }
}
