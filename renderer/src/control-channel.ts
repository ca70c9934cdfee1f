import {
  CONTROL_CHANNEL_LABEL,
  TTY_PROTOCOL,
  encodeMessage,
  parseAgentControl,
  type ConsoleControlMessage,
  type HelloMessage,
  type ProtocolError,
  type Target,
} from '@tether/protocol';
import { CONSOLE_VERSION } from './console-version';
import { DisposableStore, Emitter, type Disposable } from './emitter';

/** The `control` channel of one peer connection: the hello exchange and the agent's target list. */
export class ControlChannel implements Disposable {
  private readonly store = new DisposableStore();
  private readonly helloEmitter = new Emitter<HelloMessage>();
  private readonly targetsEmitter = new Emitter<Target[]>();
  private readonly errorEmitter = new Emitter<ProtocolError>();
  private readonly openEmitter = new Emitter<void>();
  private readonly closeEmitter = new Emitter<void>();

  readonly onOpen = this.openEmitter.event;
  readonly onHello = this.helloEmitter.event;
  readonly onTargets = this.targetsEmitter.event;
  /** The agent reported an error, or sent something this console cannot parse. */
  readonly onError = this.errorEmitter.event;
  readonly onClose = this.closeEmitter.event;

  /** Must be created before the offer so that the SDP carries the SCTP association. */
  constructor(private readonly channel: RTCDataChannel) {
    if (channel.label !== CONTROL_CHANNEL_LABEL) throw new Error(`not a control channel: ${channel.label}`);
    channel.binaryType = 'arraybuffer';
    this.store.listen(channel, 'open', () => {
      this.send({
        type: 'hello',
        protocol: TTY_PROTOCOL,
        peer: { kind: 'console', version: CONSOLE_VERSION },
        capabilities: [],
      });
      this.send({ type: 'list-targets' });
      this.openEmitter.fire();
    });
    this.store.listen(channel, 'message', (event) => this.receive((event as MessageEvent).data));
    this.store.listen(channel, 'close', () => this.closeEmitter.fire());
  }

  listTargets(): void {
    this.send({ type: 'list-targets' });
  }

  dispose(): void {
    this.store.dispose();
    for (const emitter of [this.helloEmitter, this.targetsEmitter, this.errorEmitter, this.openEmitter, this.closeEmitter]) {
      emitter.dispose();
    }
    if (this.channel.readyState !== 'closed') this.channel.close();
  }

  private send(message: ConsoleControlMessage): void {
    if (this.channel.readyState !== 'open') {
      this.errorEmitter.fire({ code: 'INTERNAL', message: `control channel is ${this.channel.readyState}; ${message.type} not sent` });
      return;
    }
    this.channel.send(encodeMessage(message));
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') {
      this.errorEmitter.fire({ code: 'BAD_MESSAGE', message: 'the agent sent a binary frame on the control channel' });
      return;
    }
    const parsed = parseAgentControl(data);
    if (!parsed.ok) {
      this.errorEmitter.fire({ code: parsed.error.code, message: `from the agent: ${parsed.error.message}` });
      return;
    }
    const message = parsed.value;
    switch (message.type) {
      case 'hello':
        this.helloEmitter.fire(message);
        break;
      case 'targets':
        this.targetsEmitter.fire(message.targets);
        break;
      case 'error':
        this.errorEmitter.fire({ code: message.code, message: message.message });
        break;
      case 'ping':
        this.send({ type: 'pong', ...(message.id === undefined ? {} : { id: message.id }) });
        break;
      case 'pong':
        break;
    }
  }
}
