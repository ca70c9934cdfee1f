/**
 * The bounds on one data channel that hold whatever its frames say (docs/hardening.md): a frame
 * rate per channel, checked before the control, terminal or file channel parses a frame, and no
 * answers piling up on a channel the console does not read. The channel port applies them
 * (werift-channel.ts) where frames come in and answers go out, so the channels behind it need not
 * know. Never parses a frame: what a frame means, its size and the input a terminal may queue are
 * the business of the channel that parses it.
 */
import {
  CONTROL_FRAME_BURST,
  CONTROL_FRAMES_PER_SECOND,
  MAX_UNREAD_REPLY_BYTES,
  TTY_FRAME_BURST,
  TTY_FRAMES_PER_SECOND,
} from '@tether/protocol';
import { answerError, type DataChannelPort, type InboundFrame } from './data-channel.js';
import { createLogger } from './log.js';
import { RateGate } from './rate-limit.js';

const log = createLogger(import.meta.url);

/** `file` channels (transfers) have the terminal channels' frame rates: a 64 KiB frame each at well under 500 a second. */
export type ChannelKind = 'control' | 'tty' | 'file';

export interface ChannelBoundsOptions {
  kind: ChannelKind;
  /** for the logs */
  negotiationId: string;
  now?: () => number;
}

/** What the bounds decide of an inbound frame: act on it, answer RATE_LIMITED, or drop it unanswered. */
export type FrameAdmission = 'pass' | 'refuse' | 'drop';

export class ChannelBounds {
  /** frames a second this channel may send */
  readonly rate: number;
  private readonly gate: RateGate;
  private suppressed = 0;

  constructor(private readonly options: ChannelBoundsOptions) {
    const [rate, burst] =
      options.kind !== 'control' ? [TTY_FRAMES_PER_SECOND, TTY_FRAME_BURST] : [CONTROL_FRAMES_PER_SECOND, CONTROL_FRAME_BURST];
    this.rate = rate;
    this.gate = new RateGate(rate, burst, options.now);
  }

  /** Frames over the rate so far; for logs and tests. */
  get excess(): number {
    return this.gate.excess;
  }

  /**
   * One frame arrived on `port`: handed to `deliver` within the rate; over it, answered with one
   * RATE_LIMITED per notice interval and otherwise dropped.
   */
  receive(port: DataChannelPort, frame: InboundFrame, deliver: (frame: InboundFrame) => void): FrameAdmission {
    const admission = this.gate.admit();
    if (admission === 'pass') deliver(frame);
    else if (admission === 'refuse') {
      log.warn('frames over the rate dropped', {
        negotiationId: this.options.negotiationId,
        label: port.label.slice(0, 64),
        excess: this.gate.excess,
      });
      answerError(port, 'RATE_LIMITED', `more than ${this.rate} frames a second on this channel; frames were dropped`);
    }
    return admission;
  }

  /** Whether an answer may go out now: not while more than MAX_UNREAD_REPLY_BYTES wait (its console does not read). */
  mayAnswer(label: string, buffered: number): boolean {
    if (buffered <= MAX_UNREAD_REPLY_BYTES) return true;
    if (this.suppressed++ === 0)
      log.warn('console does not read; answers dropped', {
        negotiationId: this.options.negotiationId,
        label: label.slice(0, 64),
        buffered,
      });
    return false;
  }
}
