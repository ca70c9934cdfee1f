import {
  encodeMessage,
  parseAgentTtyFrame,
  type AgentTtyMessage,
  type ConsoleTtyMessage,
} from '@tether/protocol';
import { DisposableStore, type Disposable } from '../base/emitter';
import type { SessionError } from './terminal-session';

/** What one `tty:` channel hands to its session. */
export interface ConsoleTtyChannelHandlers {
  open(): void;
  message(message: AgentTtyMessage): void;
  /** output, a binary frame */
  bytes(bytes: Uint8Array): void;
  /** a frame that did not parse; dropped */
  invalid(error: SessionError): void;
  /** the channel closed, whoever closed it */
  closed(): void;
}

/**
 * One `tty:` data channel, framing only (tether-tty/1): parses what arrives, encodes what leaves.
 * A session outlives its channels (resume); once disposed, a channel reports nothing more.
 */
export class ConsoleTtyChannel implements Disposable {
  private readonly store = new DisposableStore();
  private disposed = false;

  constructor(
    private readonly channel: RTCDataChannel,
    handlers: ConsoleTtyChannelHandlers,
  ) {
    channel.binaryType = 'arraybuffer';
    this.store.listen(channel, 'open', () => handlers.open());
    this.store.listen(channel, 'message', (event) => this.receive((event as MessageEvent).data, handlers));
    this.store.listen(channel, 'close', () => handlers.closed());
  }

  get isOpen(): boolean {
    return !this.disposed && this.channel.readyState === 'open';
  }

  get readyState(): RTCDataChannelState {
    return this.channel.readyState;
  }

  /** Sends a message; an error (not thrown) when the channel is not open. */
  send(message: ConsoleTtyMessage): SessionError | undefined {
    if (!this.isOpen) return { code: 'CHANNEL_CLOSED', message: `\`${message.type}\` not sent: the channel is ${this.channel.readyState}` };
    this.channel.send(encodeMessage(message));
    return undefined;
  }

  sendBytes(bytes: Uint8Array): SessionError | undefined {
    if (!this.isOpen) return { code: 'CHANNEL_CLOSED', message: 'input not sent: the channel is closed' };
    this.channel.send(bytes as Uint8Array<ArrayBuffer>);
    return undefined;
  }

  /** Sends a frame as is, bypassing the protocol: for tests of the agent's validation. */
  sendRaw(data: string | Uint8Array): void {
    if (!this.isOpen) throw new Error('the terminal channel is not open');
    if (typeof data === 'string') this.channel.send(data);
    else this.channel.send(data as Uint8Array<ArrayBuffer>);
  }

  /** Closes the channel while still listening, as a dead path would close it (test hook). */
  closeAbruptly(): void {
    this.channel.close();
  }

  /** Stops listening and closes the channel. */
  dispose(): void {
    this.disposed = true;
    this.store.dispose();
    if (this.channel.readyState !== 'closed') this.channel.close();
  }

  private receive(data: unknown, handlers: ConsoleTtyChannelHandlers): void {
    if (typeof data !== 'string' && !(data instanceof ArrayBuffer)) {
      handlers.invalid({ code: 'BAD_MESSAGE', message: 'the agent sent a frame of an unknown kind; dropped' });
      return;
    }
    const parsed = parseAgentTtyFrame(data);
    if (!parsed.ok) handlers.invalid({ code: parsed.error.code, message: `from the agent, dropped: ${parsed.error.message}` });
    else if (parsed.value.kind === 'bytes') handlers.bytes(parsed.value.bytes);
    else handlers.message(parsed.value.message);
  }
}
