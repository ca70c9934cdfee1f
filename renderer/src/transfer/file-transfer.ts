import {
  TRANSFER_BUFFER_LOW_BYTES,
  type AcceptMessage,
  type AgentFileMessage,
  type ConsoleFileMessage,
  type DoneMessage,
  type ErrorCode,
} from '@tether/protocol';
import { Emitter, type Disposable } from '../base/emitter';
import { randomId } from '../base/random-id';
import { ConsoleFileChannel } from './file-channel';

export type TransferState = 'starting' | 'running' | 'verifying' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/** Failures found on the console side, beside the agent's codes. */
export type TransferErrorCode = ErrorCode | 'TIMEOUT' | 'CHANNEL_CLOSED' | 'READ_FAILED';

export interface TransferError {
  code: TransferErrorCode;
  message: string;
}

/** How long the agent may take to accept an offer (it starts a command in the container). */
export const ACCEPT_TIMEOUT_MS = 30_000;

/** What the progress list shows of a transfer. */
export interface TransferFacts {
  id: string;
  direction: 'upload' | 'download';
  /** the file's name as the user knows it */
  name: string;
  state: TransferState;
  bytes: number;
  /** null while unknown (a directory download) */
  total: number | null;
  /** bytes a second over the last seconds, 0 before there is a measure */
  rate: number;
  /** the path in the container, once the agent named it */
  path: string | undefined;
  sha256: string | undefined;
  error: TransferError | undefined;
  /** from opening the channel to the end (or now, while it runs), in ms */
  elapsedMs: number;
}

const finished = (state: TransferState) => state === 'done' || state === 'failed' || state === 'cancelled' || state === 'interrupted';

/**
 * One transfer on its own `file:` channel: the offer, the agent's answer, progress, cancel, and how
 * it ended. Upload and download (upload.ts, download.ts) fill in what moves the bytes.
 */
export abstract class FileTransfer implements Disposable {
  readonly id = randomId(12);
  state: TransferState = 'starting';
  bytes = 0;
  total: number | null = null;
  path: string | undefined;
  sha256: string | undefined;
  error: TransferError | undefined;
  protected channel: ConsoleFileChannel | undefined;
  private acceptTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly rateSamples: { at: number; bytes: number }[] = [];
  private startedAt = 0;
  private endedAt: number | undefined;
  private readonly changeEmitter = new Emitter<void>();
  private settle!: (state: TransferState) => void;
  readonly onChange = this.changeEmitter.event;
  /** Resolves with the final state. */
  readonly finished: Promise<TransferState> = new Promise((resolve) => (this.settle = resolve));

  protected constructor(
    readonly direction: 'upload' | 'download',
    readonly name: string,
  ) {}

  /** Opens the channel (`file:<id>`) and offers the transfer once it is open. */
  start(openChannel: (id: string) => RTCDataChannel): void {
    this.startedAt = performance.now();
    let raw: RTCDataChannel;
    try {
      raw = openChannel(this.id);
    } catch (error) {
      this.end('failed', { code: 'CHANNEL_CLOSED', message: error instanceof Error ? error.message : String(error) });
      return;
    }
    this.channel = new ConsoleFileChannel(
      raw,
      {
        open: () => {
          this.channel?.send(this.offer());
          this.acceptTimer = setTimeout(
            () => this.fail('TIMEOUT', `the agent did not answer the offer within ${ACCEPT_TIMEOUT_MS / 1000} s`),
            ACCEPT_TIMEOUT_MS,
          );
        },
        message: (message) => this.receive(message),
        bytes: (bytes) => this.onBytes(bytes),
        invalid: (error) => console.warn(`[transfer ${this.id}] ${error.code} from the agent, dropped: ${error.message}`),
        closed: () => this.closed(),
        drained: () => this.onDrained(),
      },
      TRANSFER_BUFFER_LOW_BYTES,
    );
  }

  get facts(): TransferFacts {
    return {
      id: this.id,
      direction: this.direction,
      name: this.name,
      state: this.state,
      bytes: this.bytes,
      total: this.total,
      rate: this.rate,
      path: this.path,
      sha256: this.sha256,
      error: this.error,
      elapsedMs: (this.endedAt ?? performance.now()) - this.startedAt,
    };
  }

  get isFinished(): boolean {
    return finished(this.state);
  }

  /** Bytes a second over the last three seconds of progress. */
  get rate(): number {
    const first = this.rateSamples[0];
    const last = this.rateSamples[this.rateSamples.length - 1];
    if (!first || !last || last.at - first.at < 200) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  /** Cancels: the agent is told, stops, and keeps nothing of an upload. */
  cancel(): void {
    if (this.isFinished) return;
    this.channel?.send({ type: 'cancel', reason: 'cancelled by the user' });
    this.end('cancelled', undefined);
  }

  dispose(): void {
    if (!this.isFinished) this.cancel();
    this.changeEmitter.dispose();
  }

  /** The first message on the channel: the offer. */
  protected abstract offer(): ConsoleFileMessage;
  protected abstract onAccept(message: AcceptMessage): void;
  protected abstract onAck(bytes: number): void;
  protected abstract onBytes(bytes: Uint8Array): void;
  protected abstract onDone(message: DoneMessage): void;
  protected onDrained(): void {}

  protected progress(bytes: number): void {
    this.bytes = bytes;
    const now = performance.now();
    this.rateSamples.push({ at: now, bytes });
    while (this.rateSamples.length > 2 && now - this.rateSamples[0]!.at > 3000) this.rateSamples.shift();
    this.changed();
  }

  protected changed(): void {
    this.changeEmitter.fire();
  }

  protected fail(code: TransferErrorCode, message: string): void {
    if (this.isFinished) return;
    this.channel?.send({ type: 'cancel', reason: message.slice(0, 256) });
    this.end('failed', { code, message });
  }

  /** The transfer is over: its channel closes (after what it queued has gone), and it says how. */
  protected end(state: TransferState, error: TransferError | undefined): void {
    if (this.isFinished) return;
    clearTimeout(this.acceptTimer);
    this.endedAt = performance.now();
    this.state = state;
    this.error = error;
    this.channel?.dispose();
    this.changed();
    this.settle(state);
  }

  private receive(message: AgentFileMessage): void {
    if (this.isFinished) return;
    switch (message.type) {
      case 'accept':
        clearTimeout(this.acceptTimer);
        if (this.state !== 'starting') return;
        this.state = 'running';
        this.path = message.path;
        this.onAccept(message);
        this.changed();
        return;
      case 'ack':
        this.onAck(message.bytes);
        return;
      case 'done':
        this.onDone(message);
        return;
      case 'cancel':
        this.end('cancelled', {
          code: 'TRANSFER_FAILED',
          message: `the agent cancelled the transfer${message.reason ? `: ${message.reason}` : ''}`,
        });
        return;
      case 'error':
        // Non-fatal errors answer one frame; the transfer goes on.
        if (message.fatal) this.end('failed', { code: message.code, message: message.message });
        else console.warn(`[transfer ${this.id}] the agent says ${message.code}: ${message.message}`);
        return;
      case 'listing':
        return;
    }
  }

  private closed(): void {
    if (this.isFinished) return;
    const total = this.total === null ? '' : ` of ${this.total}`;
    this.end('interrupted', {
      code: 'CHANNEL_CLOSED',
      message: `interrupted after ${this.bytes}${total} bytes: the connection to the agent was lost; nothing was kept`,
    });
  }
}
