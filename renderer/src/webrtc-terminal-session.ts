import {
  MAX_FRAME_BYTES,
  encodeMessage,
  parseAgentTtyFrame,
  type AgentTtyMessage,
  type ConsoleTtyMessage,
  type ErrorCode,
} from '@tether/protocol';
import { DisposableStore, Emitter } from './emitter';
import type { SessionError, SessionOpened, TerminalSession } from './terminal-session';

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
/** Input typed before `opened` is held up to this much; a paste larger than that is refused. */
const MAX_PENDING_INPUT_BYTES = 1024 * 1024;

const OPEN_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'UNKNOWN_TARGET',
  'TARGET_NOT_EXPOSED',
  'TARGET_NOT_RUNNING',
  'NO_SHELL',
  'EXEC_FAILED',
  'SESSION_NOT_FOUND',
  'DOCKER_UNAVAILABLE',
]);

/** Whether an error code means that opening the terminal was refused. */
export function isOpenFailure(code: SessionError['code']): boolean {
  return (OPEN_FAILURES as ReadonlySet<string>).has(code);
}

type State = 'idle' | 'opening' | 'open' | 'exited' | 'closing' | 'closed';

/** A terminal over one `tty:` data channel, speaking tether-tty/1. */
export class WebRtcTerminalSession implements TerminalSession {
  private readonly store = new DisposableStore();
  private readonly outputEmitter = new Emitter<Uint8Array>();
  private readonly openedEmitter = new Emitter<SessionOpened>();
  private readonly exitEmitter = new Emitter<number | null>();
  private readonly errorEmitter = new Emitter<SessionError>();
  private readonly closedEmitter = new Emitter<void>();
  private readonly encoder = new TextEncoder();
  private channel: RTCDataChannel | undefined;
  private state: State = 'idle';
  private cols = 80;
  private rows = 24;
  private sizeSent = { cols: 0, rows: 0 };
  private pendingInput: Uint8Array[] = [];
  private pendingInputBytes = 0;
  private openTimer: ReturnType<typeof setTimeout> | undefined;

  readonly onOutput = this.outputEmitter.event;
  readonly onOpened = this.openedEmitter.event;
  readonly onExit = this.exitEmitter.event;
  readonly onError = this.errorEmitter.event;
  readonly onClosed = this.closedEmitter.event;

  constructor(private readonly options: WebRtcTerminalSessionOptions) {}

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'opening';
    let channel: RTCDataChannel;
    try {
      channel = this.options.openChannel();
    } catch (error) {
      this.reportError({ code: 'CONNECTION_LOST', message: String(error), fatal: true });
      this.finish();
      return;
    }
    this.channel = channel;
    channel.binaryType = 'arraybuffer';
    this.store.listen(channel, 'open', () => {
      this.sizeSent = { cols: this.cols, rows: this.rows };
      this.sendMessage({ type: 'open', target: this.options.target, cols: this.cols, rows: this.rows });
    });
    this.store.listen(channel, 'message', (event) => this.receive((event as MessageEvent).data));
    this.store.listen(channel, 'close', () => {
      if (this.state === 'opening' || this.state === 'open') {
        this.reportError({ code: 'CHANNEL_CLOSED', message: 'the terminal channel closed unexpectedly', fatal: true });
      }
      this.finish();
    });
    const timeout = this.options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    this.openTimer = setTimeout(() => {
      if (this.state !== 'opening') return;
      this.reportError({
        code: 'OPEN_TIMEOUT',
        message: `the agent did not open the terminal within ${timeout / 1000} s`,
        fatal: true,
      });
      this.close();
    }, timeout);
    this.store.add({ dispose: () => clearTimeout(this.openTimer) });
  }

  write(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? this.encoder.encode(data) : data;
    if (bytes.byteLength === 0) return;
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
    if (bytes <= 0 || this.state !== 'open') return;
    this.sendMessage({ type: 'ack', bytes });
  }

  close(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const channel = this.channel;
    if (!channel || channel.readyState !== 'open') {
      this.finish();
      return;
    }
    const wasRunning = this.state === 'open' || this.state === 'opening';
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
    if (!this.channel || this.channel.readyState !== 'open') throw new Error('the terminal channel is not open');
    if (typeof data === 'string') this.channel.send(data);
    else this.channel.send(data as Uint8Array<ArrayBuffer>);
  }

  dispose(): void {
    this.finish();
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string' && !(data instanceof ArrayBuffer)) {
      this.reportError({ code: 'BAD_MESSAGE', message: 'the agent sent a frame of an unknown kind; dropped' });
      return;
    }
    const parsed = parseAgentTtyFrame(data);
    if (!parsed.ok) {
      this.reportError({ code: parsed.error.code, message: `from the agent, dropped: ${parsed.error.message}` });
      return;
    }
    if (parsed.value.kind === 'bytes') {
      if (this.state === 'open' || this.state === 'exited' || this.state === 'closing') this.outputEmitter.fire(parsed.value.bytes);
      else this.reportError({ code: 'NOT_OPEN', message: 'output before `opened`; dropped' });
      return;
    }
    this.handleMessage(parsed.value.message);
  }

  private handleMessage(message: AgentTtyMessage): void {
    switch (message.type) {
      case 'opened':
        if (this.state !== 'opening') {
          this.reportError({ code: 'ALREADY_OPEN', message: 'the agent sent `opened` twice; ignored' });
          return;
        }
        clearTimeout(this.openTimer);
        this.state = 'open';
        this.openedEmitter.fire({ sessionId: message.sessionId, target: message.target, shell: message.shell });
        if (this.cols !== this.sizeSent.cols || this.rows !== this.sizeSent.rows) this.resize(this.cols, this.rows);
        this.flushPendingInput();
        break;
      case 'output':
        this.outputEmitter.fire(this.encoder.encode(message.data));
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
        // A refused open ends the session whether or not the agent marks it fatal.
        if (this.state === 'opening' && (message.fatal || OPEN_FAILURES.has(message.code))) {
          clearTimeout(this.openTimer);
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

  private flushPendingInput(): void {
    const pending = this.pendingInput;
    this.pendingInput = [];
    this.pendingInputBytes = 0;
    for (const bytes of pending) this.write(bytes);
  }

  private sendMessage(message: ConsoleTtyMessage): void {
    const channel = this.channel;
    if (!channel || channel.readyState !== 'open') {
      this.reportError({ code: 'CHANNEL_CLOSED', message: `\`${message.type}\` not sent: the channel is ${channel?.readyState ?? 'not created'}` });
      return;
    }
    channel.send(encodeMessage(message));
  }

  private sendBytes(bytes: Uint8Array): void {
    const channel = this.channel;
    if (!channel || channel.readyState !== 'open') {
      this.reportError({ code: 'CHANNEL_CLOSED', message: 'input not sent: the channel is closed' });
      return;
    }
    channel.send(bytes as Uint8Array<ArrayBuffer>);
  }

  private reportError(error: SessionError): void {
    this.errorEmitter.fire(error);
  }

  /** The one disposer: closes the channel, clears timers and listeners, fires onClosed once. */
  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.store.dispose();
    if (this.channel && this.channel.readyState !== 'closed') this.channel.close();
    this.closedEmitter.fire();
    for (const emitter of [this.outputEmitter, this.openedEmitter, this.exitEmitter, this.errorEmitter, this.closedEmitter]) {
      emitter.dispose();
    }
  }
}
