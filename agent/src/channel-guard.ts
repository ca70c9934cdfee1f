/**
 * The bounds on what a console sends on one data channel, applied before the control channel or
 * the terminal session sees a frame (docs/hardening.md): a frame rate per channel, the input that
 * may wait while a terminal opens, and no answers piling up on a channel the console does not read.
 * A DataChannelPort that wraps another, so the sessions behind it need not know.
 */
import {
  CONTROL_FRAME_BURST,
  CONTROL_FRAMES_PER_SECOND,
  encodeMessage,
  MAX_FRAME_BYTES,
  MAX_QUEUED_INPUT_BYTES,
  MAX_UNREAD_REPLY_BYTES,
  parseConsoleTtyFrame,
  TTY_FRAME_BURST,
  TTY_FRAMES_PER_SECOND,
  utf8Length,
} from '@tether/protocol';
import type { DataChannelPort, InboundFrame, Unsubscribe } from './data-channel.js';
import { createLogger } from './log.js';
import { RateGate } from './rate-limit.js';

const log = createLogger(import.meta.url);

export type ChannelKind = 'control' | 'tty';

/** Where a terminal channel is, as far as input goes: queued input is bounded while `opening`. */
type Phase = 'idle' | 'opening' | 'open';

/** Answers that exist only because the console sent something; dropped while it is not reading. */
const REPLY_TYPES = new Set(['error', 'pong']);

export interface ChannelGuardOptions {
  kind: ChannelKind;
  /** for the logs */
  negotiationId: string;
  now?: () => number;
}

export class ChannelGuard implements DataChannelPort {
  private readonly gate: RateGate;
  private readonly listeners = new Set<(frame: InboundFrame) => void>();
  private readonly unsubscribe: Unsubscribe;
  private phase: Phase = 'idle';
  private queuedInput = 0;
  private suppressed = 0;

  constructor(
    private readonly channel: DataChannelPort,
    private readonly options: ChannelGuardOptions,
  ) {
    this.gate = options.kind === 'tty'
      ? new RateGate(TTY_FRAMES_PER_SECOND, TTY_FRAME_BURST, options.now)
      : new RateGate(CONTROL_FRAMES_PER_SECOND, CONTROL_FRAME_BURST, options.now);
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
    if (typeof frame === 'string') {
      const type = typeOf(frame);
      if (type === 'opened') this.phase = 'open';
      if (type !== undefined && REPLY_TYPES.has(type) && this.channel.bufferedAmount > MAX_UNREAD_REPLY_BYTES) {
        if (this.suppressed++ === 0) log.warn('console does not read; answers dropped', { negotiationId: this.options.negotiationId, label: this.label.slice(0, 64), buffered: this.channel.bufferedAmount });
        return false;
      }
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

  private refuse(message: string): void {
    this.channel.send(encodeMessage({ type: 'error', code: 'RATE_LIMITED', message }));
  }

  private receive(frame: InboundFrame): void {
    const admission = this.gate.admit();
    if (admission !== 'pass') {
      if (admission === 'refuse') {
        log.warn('frames over the rate dropped', { negotiationId: this.options.negotiationId, label: this.label.slice(0, 64), excess: this.gate.excess });
        const rate = this.options.kind === 'tty' ? TTY_FRAMES_PER_SECOND : CONTROL_FRAMES_PER_SECOND;
        this.refuse(`more than ${rate} frames a second on this channel; frames were dropped`);
      }
      return;
    }
    if (this.options.kind === 'tty' && !this.admitInput(frame)) return;
    for (const listener of this.listeners) listener(frame);
  }

  /** Follows `open` and bounds the input that waits for `opened`; false when the frame is refused. */
  private admitInput(frame: InboundFrame): boolean {
    if (this.phase === 'open') return true;
    let inputBytes = 0;
    if (typeof frame === 'string') {
      const parsed = parseConsoleTtyFrame(frame);
      if (!parsed.ok || parsed.value.kind !== 'message') return true; // the session answers it
      const message = parsed.value.message;
      if (message.type === 'open' && this.phase === 'idle') this.phase = 'opening';
      if (message.type === 'input') inputBytes = utf8Length(message.data);
    } else {
      if (frame.length > MAX_FRAME_BYTES) return true; // the session answers MESSAGE_TOO_LARGE
      inputBytes = frame.length;
    }
    if (this.phase !== 'opening' || inputBytes === 0) return true;
    if (this.queuedInput + inputBytes > MAX_QUEUED_INPUT_BYTES) {
      if (this.gate.notice()) {
        log.warn('input before opened over the bound refused', { negotiationId: this.options.negotiationId, label: this.label.slice(0, 64), queued: this.queuedInput });
        this.refuse(`at most ${MAX_QUEUED_INPUT_BYTES} bytes of input may wait for the terminal to open; this input was not written`);
      }
      return false;
    }
    this.queuedInput += inputBytes;
    return true;
  }

  private dispose(): void {
    this.unsubscribe();
    this.listeners.clear();
  }
}

/** The `type` of an outbound text frame (the agent's own JSON). */
function typeOf(frame: string): string | undefined {
  try {
    const value = JSON.parse(frame) as { type?: unknown };
    return typeof value.type === 'string' ? value.type : undefined;
  } catch {
    return undefined; // never happens: every text frame comes from encodeMessage
  }
}
