/**
 * Moves exec output to the data channel under flow control (DESIGN.md "Flow control"):
 * coalesces chunks into binary frames of at most OUTPUT_BATCH_BYTES, and stops reading the exec
 * stream while too much is unacknowledged or the channel's own buffer is full. Reading stops at
 * the source, so a flood is held back by the PTY and the process blocks; the agent's memory holds
 * at most one batch.
 */
import type { Readable } from 'node:stream';
import {
  CHANNEL_BUFFER_HIGH_BYTES,
  CHANNEL_BUFFER_LOW_BYTES,
  HIGH_WATERMARK_BYTES,
  LOW_WATERMARK_BYTES,
  OUTPUT_BATCH_BYTES,
} from '@tether/protocol';
import type { DataChannelPort, Unsubscribe } from './data-channel.js';

export class OutputPump {
  /** Output bytes sent to the console. */
  sent = 0;
  /** Output bytes the console acknowledged. */
  acked = 0;
  /** How many times reading paused; for logs and tests. */
  pauses = 0;
  private paused = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushTimer: NodeJS.Immediate | undefined;
  private readonly unsubscribe: Unsubscribe;
  private readonly onData = (chunk: Buffer) => this.take(chunk);

  constructor(
    private readonly stream: Readable,
    private readonly channel: DataChannelPort,
    /** each frame as it was handed to the channel (the session recording) */
    private readonly onSent?: (frame: Buffer) => void,
  ) {
    this.unsubscribe = channel.onBufferedAmountLow(CHANNEL_BUFFER_LOW_BYTES, () => this.maybeResume());
    stream.on('data', this.onData);
  }

  get unacked(): number {
    return this.sent - this.acked;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** The console has parsed `bytes` more bytes; an ack beyond what was sent is capped. */
  ack(bytes: number): void {
    this.acked = Math.min(this.acked + bytes, this.sent);
    this.maybeResume();
  }

  /** Sends what is pending now, e.g. before the final `exit` message. */
  flush(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingBytes === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    for (let at = 0; at < data.length; at += OUTPUT_BATCH_BYTES) {
      const frame = data.subarray(at, at + OUTPUT_BATCH_BYTES);
      if (this.channel.send(frame)) {
        this.sent += frame.length;
        this.onSent?.(frame);
      }
    }
    this.maybePause();
  }

  dispose(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    this.stream.off('data', this.onData);
    this.unsubscribe();
    this.pending = [];
    this.pendingBytes = 0;
  }

  private take(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= OUTPUT_BATCH_BYTES) this.flush();
    else this.flushTimer ??= setImmediate(() => this.flush());
  }

  private maybePause(): void {
    if (this.paused) return;
    if (this.unacked > HIGH_WATERMARK_BYTES || this.channel.bufferedAmount > CHANNEL_BUFFER_HIGH_BYTES) {
      this.paused = true;
      this.pauses++;
      this.stream.pause();
    }
  }

  private maybeResume(): void {
    if (!this.paused) return;
    if (this.unacked < LOW_WATERMARK_BYTES && this.channel.bufferedAmount <= CHANNEL_BUFFER_LOW_BYTES) {
      this.paused = false;
      this.stream.resume();
    }
  }
}
