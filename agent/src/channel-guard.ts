/**
 * The bounds on one data channel that hold whatever its frames say (docs/hardening.md): a frame
 * rate per channel, checked before the control channel or the terminal channel parses a frame, and
 * no answers piling up on a channel the console does not read. A DataChannelPort that wraps
 * another, so the channels behind it need not know. It never parses a frame: what a frame means,
 * its size and the input a terminal may queue are the business of the channel that parses it.
 */
import {
  CONTROL_FRAME_BURST,
  CONTROL_FRAMES_PER_SECOND,
  MAX_UNREAD_REPLY_BYTES,
  TTY_FRAME_BURST,
  TTY_FRAMES_PER_SECOND,
} from '@tether/protocol';
import { answerError, type DataChannelPort, type InboundFrame, type Unsubscribe } from './data-channel.js';
import { createLogger } from './log.js';
import { RateGate } from './rate-limit.js';

const log = createLogger(import.meta.url);

/** `file` channels (transfers) have the terminal channels' frame rates: a 64 KiB frame each at well under 500 a second. */
export type ChannelKind = 'control' | 'tty' | 'file';

export interface ChannelGuardOptions {
  kind: ChannelKind;
  /** for the logs */
  negotiationId: string;
  now?: () => number;
}

export class ChannelGuard implements DataChannelPort {
  private readonly rate: number;
  private readonly gate: RateGate;
  private readonly listeners = new Set<(frame: InboundFrame) => void>();
  private readonly unsubscribe: Unsubscribe;
  private suppressed = 0;

  constructor(
    private readonly channel: DataChannelPort,
    private readonly options: ChannelGuardOptions,
  ) {
    const [rate, burst] = options.kind !== 'control'
      ? [TTY_FRAMES_PER_SECOND, TTY_FRAME_BURST]
      : [CONTROL_FRAMES_PER_SECOND, CONTROL_FRAME_BURST];
    this.rate = rate;
    this.gate = new RateGate(rate, burst, options.now);
    this.unsubscribe = channel.onMessage((frame) => this.receive(frame));
    channel.onClose(() => this.dispose());
  }

  get label(): string {
    return this.channel.label;
  }

  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  get isOpen(): boolean {
    return this.channel.isOpen;
  }

  /** Frames over the rate so far; for logs and tests. */
  get excess(): number {
    return this.gate.excess;
  }

  send(frame: string | Buffer): boolean {
    return this.channel.send(frame);
  }

  /** Dropped while more than MAX_UNREAD_REPLY_BYTES wait on the channel: its console does not read. */
  answer(frame: string): boolean {
    if (this.channel.bufferedAmount > MAX_UNREAD_REPLY_BYTES) {
      if (this.suppressed++ === 0) log.warn('console does not read; answers dropped', { negotiationId: this.options.negotiationId, label: this.label.slice(0, 64), buffered: this.channel.bufferedAmount });
      return false;
    }
    return this.channel.send(frame);
  }

  close(): void {
    this.channel.close();
  }

  onMessage(listener: (frame: InboundFrame) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onClose(listener: () => void): Unsubscribe {
    return this.channel.onClose(listener);
  }

  onBufferedAmountLow(threshold: number, listener: () => void): Unsubscribe {
    return this.channel.onBufferedAmountLow(threshold, listener);
  }

  private receive(frame: InboundFrame): void {
    const admission = this.gate.admit();
    if (admission === 'pass') {
      for (const listener of this.listeners) listener(frame);
      return;
    }
    if (admission === 'refuse') {
      log.warn('frames over the rate dropped', { negotiationId: this.options.negotiationId, label: this.label.slice(0, 64), excess: this.gate.excess });
      answerError(this, 'RATE_LIMITED', `more than ${this.rate} frames a second on this channel; frames were dropped`);
    }
  }

  private dispose(): void {
    this.unsubscribe();
    this.listeners.clear();
  }
}
