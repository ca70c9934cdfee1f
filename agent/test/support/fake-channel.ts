/** An in-memory DataChannelPort: records what the agent sends, lets a test deliver frames. */
import type { ChannelBounds } from '../../src/channel-bounds.js';
import type { DataChannelPort, InboundFrame, Unsubscribe } from '../../src/data-channel.js';

export class FakeChannel implements DataChannelPort {
  readonly sent: (string | Buffer)[] = [];
  bufferedAmount = 0;
  isOpen = true;
  private readonly messageListeners = new Set<(frame: InboundFrame) => void>();
  private readonly closeListeners = new Set<() => void>();
  private readonly waiters: (() => void)[] = [];
  /** Binary output acknowledged by `ackReceived`. */
  private acked = 0;

  /** `bounds`: applied as the werift port applies them (werift-channel.ts). */
  constructor(
    readonly label = 'tty:test',
    private readonly bounds?: ChannelBounds,
  ) {}

  send(frame: string | Buffer): boolean {
    if (!this.isOpen) return false;
    this.sent.push(typeof frame === 'string' ? frame : Buffer.from(frame));
    for (const wake of this.waiters.splice(0)) wake();
    return true;
  }

  answer(frame: string): boolean {
    if (this.bounds && !this.bounds.mayAnswer(this.label, this.bufferedAmount)) return false;
    return this.send(frame);
  }

  /**
   * As werift's channel does, `close()` leaves the channel closing: frames already on their way
   * are still delivered, and the close listeners run only at `finishClose()`.
   */
  holdClose = false;
  private closeHeld = false;

  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    if (this.holdClose) this.closeHeld = true;
    else this.fireClose();
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Ends a close that `holdClose` held. */
  finishClose(): void {
    if (!this.closeHeld) return;
    this.closeHeld = false;
    this.fireClose();
  }

  private fireClose(): void {
    for (const listener of this.closeListeners) listener();
  }

  onMessage(listener: (frame: InboundFrame) => void): Unsubscribe {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  onClose(listener: () => void): Unsubscribe {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  onBufferedAmountLow(_threshold: number, _listener: () => void): Unsubscribe {
    return () => undefined;
  }

  deliver(frame: InboundFrame | object): void {
    const data = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    const hand = (f: InboundFrame) => {
      for (const listener of this.messageListeners) listener(f);
    };
    if (this.bounds) this.bounds.receive(this, data, hand);
    else hand(data);
  }

  /** JSON messages sent so far. */
  messages(): { type: string; [key: string]: unknown }[] {
    return this.sent.filter((f): f is string => typeof f === 'string').map((f) => JSON.parse(f) as { type: string });
  }

  /** All binary output so far, as text. */
  output(): string {
    return Buffer.concat(this.sent.filter((f): f is Buffer => typeof f !== 'string')).toString('utf8');
  }

  outputBytes(): number {
    return this.sent.reduce((n, f) => n + (typeof f === 'string' ? 0 : f.length), 0);
  }

  /** Acknowledges the binary output that came since the last call, as a console reading a download does. */
  ackReceived(): void {
    const got = this.outputBytes();
    if (got > this.acked) {
      this.deliver({ type: 'ack', bytes: got - this.acked });
      this.acked = got;
    }
  }

  /** Waits until `predicate` holds, re-checking on every send; fails after `ms`. */
  async until(predicate: () => boolean, what: string, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${what}; output so far: ${JSON.stringify(this.output().slice(-400))}, messages: ${JSON.stringify(this.messages())}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
