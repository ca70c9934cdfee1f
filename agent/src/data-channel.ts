/**
 * The data channel as the sessions see it: small enough to fake in unit tests, implemented over
 * werift's RTCDataChannel in werift-channel.ts.
 */
import { encodeMessage, type ErrorCode } from '@tether/protocol';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** A frame as it arrives: text, or binary bytes. */
export type InboundFrame = string | Buffer;

export type Unsubscribe = () => void;

export interface DataChannelPort {
  readonly label: string;
  /** Bytes queued for sending and not yet handed to the transport. */
  readonly bufferedAmount: number;
  readonly isOpen: boolean;
  /** Sends one frame; false when the channel refused it (closed, too large). */
  send(frame: string | Buffer): boolean;
  /**
   * Sends a frame that only answers one the console sent (an error, a pong). A guarded channel
   * drops it while the console does not read (channel-bounds.ts); false then.
   */
  answer(frame: string): boolean;
  close(): void;
  onMessage(listener: (frame: InboundFrame) => void): Unsubscribe;
  onClose(listener: () => void): Unsubscribe;
  /** Called when `bufferedAmount` falls to `threshold` or below. */
  onBufferedAmountLow(threshold: number, listener: () => void): Unsubscribe;
}

/** Answers a console's frame with an error; `fatal` when the channel is about to close for it. */
export function answerError(channel: DataChannelPort, code: ErrorCode, message: string, fatal = false): void {
  channel.answer(encodeMessage({ type: 'error', code, message, ...(fatal ? { fatal: true } : {}) }));
}

/** Answers a ping, on either channel type, with a pong that carries its id. */
export function answerPing(channel: DataChannelPort, ping: { id?: number | undefined }): void {
  channel.answer(encodeMessage({ type: 'pong', ...(ping.id !== undefined ? { id: ping.id } : {}) }));
}

const DRAIN_POLL_MS = 20;
const DRAIN_MAX_MS = 2000;

/**
 * Closes the channel once what was sent has left its buffer: werift resets the stream at once on
 * close and would drop frames still queued, such as the final `exit`.
 */
export function closeWhenDrained(channel: DataChannelPort): void {
  void drainAndClose(channel);
}

/** `closeWhenDrained`, resolving once the channel is closed (at most DRAIN_MAX_MS later). */
export function drainAndClose(channel: DataChannelPort): Promise<void> {
  const started = performance.now();
  return new Promise((resolve) => {
    const tick = () => {
      if (!channel.isOpen) return resolve();
      if (channel.bufferedAmount === 0 || performance.now() - started > DRAIN_MAX_MS) {
        if (channel.bufferedAmount > 0)
          log.warn('closing a channel with unsent data', { label: channel.label, buffered: channel.bufferedAmount });
        channel.close();
        return resolve();
      }
      setTimeout(tick, DRAIN_POLL_MS);
    };
    tick();
  });
}
