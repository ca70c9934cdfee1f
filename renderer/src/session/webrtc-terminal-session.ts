import type { AgentTtyMessage, ConsoleTtyMessage, OpenedMessage } from '@tether/protocol';
import { DisposableStore } from '../base/emitter';
import { OPEN_FAILURES } from './open-failures';
import { OutputLedger } from './output-ledger';
import { PtySize } from './pty-size';
import { SessionChannel } from './session-channel';
import { SessionEvents } from './session-events';
import { SessionInput } from './session-input';
import { SessionResumes, type ResumeInfo } from './session-resumes';
import type { SessionError, TerminalSession } from './terminal-session';

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

const DEFAULT_OPEN_TIMEOUT_MS = 20_000;
const DEFAULT_CLOSE_GRACE_MS = 2_000;

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
  private readonly events = new SessionEvents();
  private readonly encoder = new TextEncoder();
  private readonly ledger = new OutputLedger();
  private readonly channel = new SessionChannel();
  private readonly input = new SessionInput((bytes) => this.channel.sendBytes(bytes), (error) => this.reportError(error));
  private readonly resumes = new SessionResumes(this.ledger, this.input);
  private readonly size = new PtySize();
  private state: State = 'idle';

  readonly onOutput = this.events.output.event;
  readonly onOpened = this.events.opened.event;
  readonly onExit = this.events.exit.event;
  readonly onError = this.events.error.event;
  readonly onClosed = this.events.closed.event;
  /** The channel was lost without `close`; the reason in words. `resume` may take the session back. */
  readonly onDetached = this.events.detached.event;
  /** A resume succeeded; output goes on from `from`, `lost` bytes are gone. */
  readonly onResumed = this.events.resumed.event;
  /** Keystrokes typed while no channel carries the session, in bytes: dropped, not sent later. */
  readonly onInputDropped = this.events.inputDropped.event;

  constructor(private readonly options: WebRtcTerminalSessionOptions) {}

  get sessionId(): string | undefined {
    return this.resumes.sessionId;
  }

  /** Output offset taken so far: what a resume sends as `received`. */
  get received(): number {
    return this.ledger.received;
  }

  /** How long the agent keeps the session after its channel is lost (0: it does not). */
  get resumeGraceMs(): number {
    return this.resumes.resumeGraceMs;
  }

  get resumeInfo(): ResumeInfo | undefined {
    return this.resumes.last;
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

  /**
   * The path under the channel is gone: drop the channel without `close`; the agent keeps the shell.
   * A resume that fails on the way (not refused) comes back here too, for the tab to try again.
   */
  detach(reason: string): void {
    if (this.state !== 'open' && this.state !== 'resuming') return;
    this.state = 'detached';
    this.channel.drop();
    this.events.detached.fire(reason);
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
    // Never queued while detached: a keystroke held across a reconnect could run twice or out of context.
    if (this.detached) this.events.inputDropped.fire(bytes.byteLength);
    else if (this.state === 'opening' || this.state === 'idle') this.input.hold(bytes);
    else if (this.state === 'open') this.input.send(bytes);
    else this.reportError({ code: 'NOT_OPEN', message: `input dropped: the session has ${this.state === 'exited' ? 'exited' : 'closed'}` });
  }

  resize(cols: number, rows: number): void {
    this.size.set(cols, rows);
    if (this.state !== 'open' || !this.size.unsent) return;
    this.sendMessage({ type: 'resize', ...this.size.markSent() });
  }

  ack(bytes: number): void {
    if (bytes <= 0) return;
    // Counted in every state, so that bytes parsed across a resume are not acknowledged twice.
    const current = this.ledger.parsedBytes(bytes);
    if (current > 0 && this.state === 'open') this.sendMessage({ type: 'ack', bytes: current });
  }

  close(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const running = this.state === 'open' || this.state === 'opening' || this.state === 'resuming';
    if (!this.channel.isOpen || !running) return this.finish();
    this.state = 'closing';
    this.sendMessage({ type: 'close' });
    // Let the agent answer `exit` and close its end; close ours after a grace period regardless.
    const timer = setTimeout(() => this.finish(), this.options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
    this.store.add({ dispose: () => clearTimeout(timer) });
  }

  /** Sends a frame as is, bypassing the protocol: for tests of the agent's validation. */
  sendRaw(data: string | Uint8Array): void {
    this.channel.sendRaw(data);
  }

  /** Closes the channel without `close`, as a dead path would (test hook): the agent detaches the session. */
  dropChannelForTest(): void {
    this.channel.closeAbruptly();
  }

  dispose(): void {
    this.finish();
  }

  private attachChannel(openChannel = this.options.openChannel): void {
    let raw: RTCDataChannel;
    try {
      raw = openChannel();
    } catch (error) {
      if (this.state === 'resuming') return this.detach(`no channel for the resume: ${String(error)}`);
      this.reportError({ code: 'CONNECTION_LOST', message: String(error), fatal: true });
      this.finish();
      return;
    }
    const timeout = this.options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    this.channel.attach(raw, {
      open: () => {
        const resume = this.state === 'resuming' ? this.resumes.request() : {};
        this.sendMessage({ type: 'open', target: this.options.target, ...this.size.markSent(), ...resume });
      },
      message: (message) => this.handleMessage(message),
      bytes: (bytes) => {
        if (this.state === 'open' || this.state === 'exited' || this.state === 'closing') this.output(bytes);
        else this.reportError({ code: 'NOT_OPEN', message: 'output before `opened`; dropped' });
      },
      invalid: (error) => this.reportError(error),
      closed: () => this.channelClosed(),
    }, timeout, () => {
      if (this.state === 'resuming') return this.detach(`the agent did not answer the resume within ${timeout / 1000} s`);
      if (this.state !== 'opening') return;
      this.reportError({ code: 'OPEN_TIMEOUT', message: `the agent did not open the terminal within ${timeout / 1000} s`, fatal: true });
      this.close();
    });
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

  private output(bytes: Uint8Array): void {
    const shown = this.ledger.take(bytes);
    if (shown.byteLength > 0) this.events.output.fire(shown);
  }

  private handleMessage(message: AgentTtyMessage): void {
    switch (message.type) {
      case 'opened':
        if (this.state === 'resuming') return this.resumed(message);
        if (this.state !== 'opening') {
          this.reportError({ code: 'ALREADY_OPEN', message: 'the agent sent `opened` twice; ignored' });
          return;
        }
        this.channel.answered();
        this.state = 'open';
        this.resumes.started(message);
        this.events.opened.fire({ sessionId: message.sessionId, target: message.target, shell: message.shell });
        if (this.size.unsent) this.resize(this.size.cols, this.size.rows);
        for (const bytes of this.input.takeHeld()) this.write(bytes);
        break;
      case 'output':
        this.output(this.encoder.encode(message.data));
        break;
      case 'exit':
        if (this.state === 'open' || this.state === 'closing') {
          const closing = this.state === 'closing';
          this.state = 'exited';
          this.events.exit.fire(message.code);
          if (closing) this.finish();
        }
        break;
      case 'error':
        this.reportError({ code: message.code, message: message.message, ...(message.fatal ? { fatal: true } : {}) });
        // A refused open or resume ends the session whether or not the agent marks it fatal.
        if ((this.state === 'opening' || this.state === 'resuming') && (message.fatal || OPEN_FAILURES.has(message.code) || message.code === 'BAD_MESSAGE')) {
          this.channel.answered();
          const resuming = this.state === 'resuming';
          this.state = 'closing';
          // A refused resume has nothing left to wait for; a refused open waits for the agent's close.
          if (resuming || !this.channel.isOpen) this.finish();
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
    this.channel.answered();
    const resumed = this.resumes.accept(message);
    if (!resumed.ok) {
      this.reportError(resumed.error);
      this.state = 'closing';
      this.sendMessage({ type: 'close' });
      this.finish();
      return;
    }
    this.state = 'open';
    this.events.resumed.fire(resumed.value);
    if (this.size.unsent) this.resize(this.size.cols, this.size.rows);
  }

  private sendMessage(message: ConsoleTtyMessage): void {
    const failed = this.channel.send(message);
    if (failed) this.reportError(failed);
  }

  private reportError(error: SessionError): void {
    this.events.error.fire(error);
  }

  /** The one disposer: closes the channel, clears timers and listeners, fires onClosed once. */
  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.store.dispose();
    this.channel.dispose();
    this.events.closed.fire();
    this.events.dispose();
  }
}
