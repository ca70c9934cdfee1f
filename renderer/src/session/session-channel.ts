import type { ConsoleTtyMessage } from '@tether/protocol';
import type { Disposable } from '../base/emitter';
import type { SessionError } from './terminal-session';
import { ConsoleTtyChannel, type ConsoleTtyChannelHandlers } from './console-tty-channel';

/**
 * The `tty:` channel a session is on right now, and the timer that waits for the agent's `opened`
 * on it. A session outlives its channels: a loss drops this one, a resume attaches the next.
 */
export class SessionChannel implements Disposable {
  private channel: ConsoleTtyChannel | undefined;
  private openTimer: ReturnType<typeof setTimeout> | undefined;

  get isOpen(): boolean {
    return this.channel?.isOpen === true;
  }

  /** Takes `raw` as the current channel; `onTimeout` runs if `opened` has not come within `timeoutMs`. */
  attach(raw: RTCDataChannel, handlers: ConsoleTtyChannelHandlers, timeoutMs: number, onTimeout: () => void): void {
    const channel = new ConsoleTtyChannel(raw, handlers);
    this.channel = channel;
    clearTimeout(this.openTimer);
    this.openTimer = setTimeout(() => {
      if (this.channel === channel) onTimeout();
    }, timeoutMs);
  }

  /** The agent answered `open` (or refused it): stop waiting. */
  answered(): void {
    clearTimeout(this.openTimer);
  }

  /** Sends a message; an error (not thrown) when there is no channel or it is not open. */
  send(message: ConsoleTtyMessage): SessionError | undefined {
    return this.channel ? this.channel.send(message) : { code: 'CHANNEL_CLOSED', message: `\`${message.type}\` not sent: no channel` };
  }

  sendBytes(bytes: Uint8Array): SessionError | undefined {
    return this.channel ? this.channel.sendBytes(bytes) : { code: 'CHANNEL_CLOSED', message: 'input not sent: no channel' };
  }

  /** Sends a frame as is, bypassing the protocol: for tests of the agent's validation. */
  sendRaw(data: string | Uint8Array): void {
    if (!this.channel) throw new Error('the terminal channel is not open');
    this.channel.sendRaw(data);
  }

  /** Closes the channel without `close`, as a dead path would (test hook). */
  closeAbruptly(): void {
    this.channel?.closeAbruptly();
  }

  /** Forgets the current channel: no more of its frames are taken, and nothing more is sent on it. */
  drop(): void {
    clearTimeout(this.openTimer);
    this.channel?.dispose();
    this.channel = undefined;
  }

  dispose(): void {
    this.drop();
  }
}
