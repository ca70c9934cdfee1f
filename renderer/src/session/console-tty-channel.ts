import { encodeMessage, parseAgentTtyFrame, type AgentTtyMessage, type ConsoleTtyMessage } from '@tether/protocol';
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
  /** the agent has not answered `open` (with `opened` or an error) within the time given */
  openTimeout(): void;
}

/**
 * The console's end of one `tty:` data channel (tether-tty/1): parses what arrives, encodes what
 * leaves, and waits for the agent's answer to `open`. A session outlives its channels (resume);
 * once disposed, a channel reports nothing more.
 */
export class ConsoleTtyChannel implements Disposable {
  private readonly store = new DisposableStore();
  private readonly openTimer: ReturnType<typeof setTimeout>;
  private disposed = false;

  constructor(
    private readonly channel: RTCDataChannel,
    handlers: ConsoleTtyChannelHandlers,
    openTimeoutMs: number,
  ) {
    channel.binaryType = 'arraybuffer';
    this.store.listen(channel, 'open', () => handlers.open());
    this.store.listen(channel, 'message', (event) => this.receive((event as MessageEvent).data, handlers));
    this.store.listen(channel, 'close', () => handlers.closed());
    this.openTimer = setTimeout(() => handlers.openTimeout(), openTimeoutMs);
    this.store.add({ dispose: () => clearTimeout(this.openTimer) });
  }

  get isOpen(): boolean {
    return !this.disposed && this.channel.readyState === 'open';
  }

  /** The agent answered `open` (or refused it): stop waiting. */
  answered(): void {
    clearTimeout(this.openTimer);
  }

  /** Sends a message; an error (not thrown) when the channel is not open. */
  send(message: ConsoleTtyMessage): SessionError | undefined {
    if (!this.isOpen) return { code: 'CHANNEL_CLOSED', message: `\`${message.type}\` not sent: the channel is ${this.channel.readyState}` };
    this.channel.send(encodeMessage(message));
    return undefined;
  }

  /** Sends one frame of input; an error (not thrown) when the channel is not open. */
  sendBytes(bytes: Uint8Array): SessionError | undefined {
    if (!this.isOpen) return { code: 'CHANNEL_CLOSED', message: 'input not sent: the channel is closed' };
    this.channel.send(bytes as Uint8Array<ArrayBuffer>);
    return undefined;
  }

  /** Stops listening and waiting, and closes the channel. */
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
