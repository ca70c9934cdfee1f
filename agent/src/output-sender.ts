/**
 * The output side of a terminal session (tty-session.ts): sends the session's output log to the
 * one data channel attached to it, no faster than its console acknowledges parsing, and pauses
 * reading the exec stream while the console is behind (DESIGN.md "Flow control"). The session
 * decides when a channel attaches or is lost and when the session ends; this holds how far the
 * attached channel got, and says when that channel has every byte (`onCaughtUp`). It never calls
 * back into the session while it pumps: that news is given once the pump has returned.
 */
import {
  CHANNEL_BUFFER_HIGH_BYTES,
  CHANNEL_BUFFER_LOW_BYTES,
  encodeMessage,
  HIGH_WATERMARK_BYTES,
  LOW_WATERMARK_BYTES,
  OUTPUT_BATCH_BYTES,
  type AgentTtyMessage,
} from '@tether/protocol';
import type { DataChannelPort, Unsubscribe } from './data-channel.js';
import type { OutputLog } from './output-log.js';

/** The channel a session sends to, and how far it got on it. */
export interface Attachment {
  channel: DataChannelPort;
  /** Output offset up to which frames went into this channel. */
  sent: number;
  /** Output offset up to which the console acknowledged parsing. */
  acked: number;
  offLow: Unsubscribe;
}

/** The part of the exec stream flow control needs: reading it, or not. */
export interface PausableSource {
  pause(): void;
  resume(): void;
}

export class OutputSender {
  private attachment: Attachment | undefined;
  /** Rule 1 holds reading: more than HIGH_WATERMARK_BYTES unacknowledged, until under LOW_WATERMARK_BYTES. */
  private heldByCredit = false;
  /** Rule 2 holds reading: the channel's buffer above CHANNEL_BUFFER_HIGH_BYTES, until at or under CHANNEL_BUFFER_LOW_BYTES. */
  private heldByBuffer = false;
  private readingPaused = false;
  /** How many times reading paused for flow control; for logs and tests. */
  pauses = 0;
  private pumpTimer: NodeJS.Immediate | undefined;
  private stopped = false;
  private readonly caughtUpListeners = new Set<() => void>();
  private caughtUpQueued = false;

  constructor(
    private readonly output: OutputLog,
    private readonly source: PausableSource,
  ) {}

  /**
   * `listener` runs whenever a pump leaves the attached channel with every byte of the output: on
   * a later microtask, after the pump has returned, so it may stop or end the session freely.
   */
  onCaughtUp(listener: () => void): Unsubscribe {
    this.caughtUpListeners.add(listener);
    return () => this.caughtUpListeners.delete(listener);
  }

  get isAttached(): boolean {
    return this.attachment !== undefined;
  }

  /** Whether output goes to `channel`: a channel a resume took over is not, even before it closes. */
  isAttachedTo(channel: DataChannelPort): boolean {
    return this.attachment?.channel === channel;
  }

  /**
   * Makes `channel` the one output goes to, from the output offset `from`; the caller pumps once
   * it is ready. A channel attached before is let go and closed: its console has moved on.
   * Returns whether there was one.
   */
  attach(channel: DataChannelPort, from: number): boolean {
    // Let go before closing: a channel whose close is reported at once must find the session
    // already detached from it, not detach it (a spurious detach, or the end with no grace period).
    const previous = this.letGo();
    if (previous && previous.channel !== channel && previous.channel.isOpen) previous.channel.close();
    const offLow = channel.onBufferedAmountLow(CHANNEL_BUFFER_LOW_BYTES, () => this.pump());
    this.attachment = { channel, sent: from, acked: from, offLow };
    return previous !== undefined;
  }

  /**
   * Lets `channel` go if it is the attached one, leaving it open, and says how far it got. Reading
   * is left as it is: the session resumes it with `updateReading` unless it is ending anyway.
   */
  detach(channel: DataChannelPort): Attachment | undefined {
    if (this.attachment?.channel !== channel) return undefined;
    return this.letGo();
  }

  /** The console on `channel` has parsed `bytes` more bytes; an ack beyond what was sent is capped. */
  ack(channel: DataChannelPort, bytes: number): void {
    const attachment = this.attachment;
    if (!attachment || attachment.channel !== channel) return;
    attachment.acked = Math.min(attachment.acked + bytes, attachment.sent);
    this.pump();
  }

  /** The output log has grown. */
  outputAdded(): void {
    const attachment = this.attachment;
    if (!attachment) return;
    // Coalesce: a full batch goes at once, a smaller remainder on the next turn of the loop.
    if (this.output.end - attachment.sent >= OUTPUT_BATCH_BYTES) this.pump();
    else {
      this.pumpTimer ??= setImmediate(() => {
        this.pumpTimer = undefined;
        this.pump();
      });
      this.updateReading();
    }
  }

  /** Sends what the attached channel lacks, within the watermarks; then lets the session finish. */
  pump(): void {
    if (this.pumpTimer) clearImmediate(this.pumpTimer);
    this.pumpTimer = undefined;
    const attachment = this.attachment;
    if (!attachment || this.stopped) return;
    const { channel } = attachment;
    while (attachment.sent < this.output.end) {
      if (attachment.sent - attachment.acked >= HIGH_WATERMARK_BYTES || channel.bufferedAmount > CHANNEL_BUFFER_HIGH_BYTES) break;
      const frame = this.output.read(attachment.sent, OUTPUT_BATCH_BYTES);
      if (!channel.send(frame)) break;
      attachment.sent += frame.length;
    }
    this.updateReading();
    if (attachment.sent === this.output.end) this.reportCaughtUp();
  }

  private reportCaughtUp(): void {
    if (this.caughtUpQueued) return;
    this.caughtUpQueued = true;
    queueMicrotask(() => {
      this.caughtUpQueued = false;
      // Still so when the news is given: nothing came in or went away meanwhile.
      if (this.stopped || !this.attachment || this.attachment.sent !== this.output.end) return;
      for (const listener of this.caughtUpListeners) listener();
    });
  }

  /** Sends what the console lacks whatever the watermarks say: the session is over. */
  flush(): void {
    const attachment = this.attachment;
    if (!attachment) return;
    while (attachment.sent < this.output.end) {
      const frame = this.output.read(attachment.sent, OUTPUT_BATCH_BYTES);
      if (!attachment.channel.send(frame)) break;
      attachment.sent += frame.length;
    }
  }

  /**
   * Flow control at the source, as two independent rules with their own hysteresis
   * (protocol/README.md, "Flow control"): (1) credit — stop reading the exec stream when more than
   * HIGH_WATERMARK_BYTES are unacknowledged, read again under LOW_WATERMARK_BYTES; (2) the
   * channel — stop while its buffer is above CHANNEL_BUFFER_HIGH_BYTES, read again at or under
   * CHANNEL_BUFFER_LOW_BYTES. Reading goes on when neither holds it. (They used to be joined: once
   * paused for the buffer, reading waited for the credit's low watermark as well, so a console that
   * did not ack got 314-348 KB, a figure that depended on timing, instead of the window; issue 16.)
   * Detached, read on: the program carries on and the log keeps the newest output.
   */
  updateReading(): void {
    const attachment = this.attachment;
    if (!attachment) {
      this.heldByCredit = this.heldByBuffer = false;
    } else {
      const unacked = this.output.end - attachment.acked;
      const buffered = attachment.channel.bufferedAmount;
      if (unacked > HIGH_WATERMARK_BYTES) this.heldByCredit = true;
      else if (unacked < LOW_WATERMARK_BYTES) this.heldByCredit = false;
      if (buffered > CHANNEL_BUFFER_HIGH_BYTES) this.heldByBuffer = true;
      else if (buffered <= CHANNEL_BUFFER_LOW_BYTES) this.heldByBuffer = false;
    }
    const hold = this.heldByCredit || this.heldByBuffer;
    if (hold && !this.readingPaused) {
      this.readingPaused = true;
      this.pauses++;
      this.source.pause();
    } else if (!hold && this.readingPaused) {
      this.readingPaused = false;
      this.source.resume();
    }
  }

  /** Sends a message to the attached channel, if any. */
  send(message: AgentTtyMessage): void {
    this.attachment?.channel.send(encodeMessage(message));
  }

  /** The session ends: nothing is sent any more. Returns the channel that was attached, to close. */
  stop(): DataChannelPort | undefined {
    this.stopped = true;
    return this.letGo()?.channel;
  }

  /** Output offsets of the attached channel; for tests and logs. */
  get flow(): { produced: number; sent: number; acked: number; paused: boolean } {
    return { produced: this.output.end, sent: this.attachment?.sent ?? 0, acked: this.attachment?.acked ?? 0, paused: this.readingPaused };
  }

  /** What the debug stats show of the output side: where the output is, and why it is not sent. */
  figures(): Record<string, unknown> {
    return { ...this.flow, pauses: this.pauses, attached: this.isAttached, buffered: this.attachment?.channel.bufferedAmount };
  }

  private letGo(): Attachment | undefined {
    const attachment = this.attachment;
    this.attachment = undefined;
    if (attachment) this.release(attachment);
    return attachment;
  }

  private release(attachment: Attachment): void {
    attachment.offLow();
    if (this.pumpTimer) clearImmediate(this.pumpTimer);
    this.pumpTimer = undefined;
  }
}
