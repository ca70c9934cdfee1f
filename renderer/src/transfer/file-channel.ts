import {
  encodeMessage,
  parseAgentFileFrame,
  protocolError,
  type AgentFileMessage,
  type ConsoleFileMessage,
  type ProtocolError,
} from '@tether/protocol';
import { DisposableStore, type Disposable } from '../base/emitter';

/** What one `file:` channel hands to its transfer. */
export interface FileChannelHandlers {
  open(): void;
  message(message: AgentFileMessage): void;
  /** download bytes, a binary frame */
  bytes(bytes: Uint8Array): void;
  /** a frame that did not parse; dropped */
  invalid(error: ProtocolError): void;
  /** the channel closed, whoever closed it */
  closed(): void;
  /** the channel's send buffer fell to its low threshold */
  drained(): void;
}

/** The console's end of one `file:` data channel, framing only (protocol/README.md, "File transfers"). */
export class ConsoleFileChannel implements Disposable {
  private readonly store = new DisposableStore();

  constructor(
    private readonly channel: RTCDataChannel,
    handlers: FileChannelHandlers,
    lowThreshold: number,
  ) {
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = lowThreshold;
    this.store.listen(channel, 'open', () => handlers.open());
    this.store.listen(channel, 'message', (event) => this.receive((event as MessageEvent).data, handlers));
    this.store.listen(channel, 'close', () => handlers.closed());
    this.store.listen(channel, 'bufferedamountlow', () => handlers.drained());
  }

  get isOpen(): boolean {
    return this.channel.readyState === 'open';
  }

  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  /** False when the channel is not open: nothing was sent. */
  send(message: ConsoleFileMessage): boolean {
    if (!this.isOpen) return false;
    this.channel.send(encodeMessage(message));
    return true;
  }

  sendBytes(bytes: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.channel.send(bytes as Uint8Array<ArrayBuffer>);
    return true;
  }

  /** Stops listening and closes the channel. */
  dispose(): void {
    this.store.dispose();
    if (this.channel.readyState !== 'closed') this.channel.close();
  }

  private receive(data: unknown, handlers: FileChannelHandlers): void {
    if (typeof data !== 'string' && !(data instanceof ArrayBuffer)) {
      handlers.invalid(protocolError('BAD_MESSAGE', 'the agent sent a frame of an unknown kind; dropped'));
      return;
    }
    const parsed = parseAgentFileFrame(data);
    if (!parsed.ok) handlers.invalid(parsed.error);
    else if (parsed.value.kind === 'bytes') handlers.bytes(parsed.value.bytes);
    else handlers.message(parsed.value.message);
  }
}
