import {
  CONTROL_CHANNEL_LABEL,
  TTY_PROTOCOL,
  encodeMessage,
  parseAgentControl,
  RUNNING_CAPABILITY,
  type ConsoleControlMessage,
  type HelloMessage,
  type ProtocolError,
  type Target,
} from '@tether/protocol';
import { CONSOLE_VERSION } from '../base/console-version';
import { DisposableStore, Emitter, type Disposable } from '../base/emitter';
import type { ChannelBinding } from '../trust/channel-binding';

/** How long the agent may take to answer `auth` with `auth-ok`. */
export const AUTH_OK_TIMEOUT_MS = 15_000;

/**
 * The `control` channel of one peer connection: the hello exchange, the data-channel binding
 * (`auth` → `auth-ok`) for paired agents, and the agent's target list. Targets are asked for only
 * once the channel is ready: after the agent's hello, and after `auth-ok` when a binding is needed.
 */
export class ConsoleControlChannel implements Disposable {
  private readonly store = new DisposableStore();
  private readonly helloEmitter = new Emitter<HelloMessage>();
  private readonly refusedEmitter = new Emitter<ProtocolError>();
  private agentHello: HelloMessage | undefined;
  private authTimer: ReturnType<typeof setTimeout> | undefined;
  private ready = false;
  private readonly targetsEmitter = new Emitter<Target[]>();
  private readonly errorEmitter = new Emitter<ProtocolError>();
  private readonly openEmitter = new Emitter<void>();
  private readonly closeEmitter = new Emitter<void>();

  readonly onOpen = this.openEmitter.event;
  /** The channel is ready: the agent said hello and, when a binding is needed, accepted `auth`. */
  readonly onReady = this.helloEmitter.event;
  /** The agent failed the binding, or refused this console (FINGERPRINT_MISMATCH, NOT_PAIRED). */
  readonly onRefused = this.refusedEmitter.event;
  readonly onTargets = this.targetsEmitter.event;
  /** The agent reported an error, or sent something this console cannot parse. */
  readonly onError = this.errorEmitter.event;
  readonly onClose = this.closeEmitter.event;

  /**
   * Must be created before the offer so that the SDP carries the SCTP association. `verifyPeer`
   * checks the certificate the DTLS handshake presented; nothing is sent or acted on before it
   * says yes, and a no is a refusal (FINGERPRINT_MISMATCH).
   */
  constructor(
    private readonly channel: RTCDataChannel,
    private readonly binding?: ChannelBinding,
    private readonly verifyPeer: () => Promise<ProtocolError | undefined> = async () => undefined,
  ) {
    if (channel.label !== CONTROL_CHANNEL_LABEL) throw new Error(`not a control channel: ${channel.label}`);
    channel.binaryType = 'arraybuffer';
    this.store.listen(channel, 'open', () => void this.opened());
    this.store.listen(channel, 'message', (event) => {
      const data = (event as MessageEvent).data;
      if (this.verified) this.receive(data);
      else this.early.push(data);
    });
    this.store.listen(channel, 'close', () => this.closeEmitter.fire());
  }

  /** Frames that arrived before the DTLS certificate was checked: acted on only once it was. */
  private early: unknown[] = [];
  private verified = false;

  private async opened(): Promise<void> {
    const refused = await this.verifyPeer();
    if (refused) {
      this.early = [];
      this.refusedEmitter.fire(refused);
      return;
    }
    this.verified = true;
    if (this.channel.readyState === 'open') {
      this.send({
        type: 'hello',
        protocol: TTY_PROTOCOL,
        peer: { kind: 'console', version: CONSOLE_VERSION },
        capabilities: [RUNNING_CAPABILITY],
        ...(this.binding ? { nonce: this.binding.consoleNonce } : {}),
      });
    }
    this.openEmitter.fire();
    for (const data of this.early.splice(0)) this.receive(data);
  }

  listTargets(): void {
    if (this.ready) this.send({ type: 'list-targets' });
  }

  /** A keepalive ping; the agent answers `pong`. Nothing is sent unless the channel is ready. */
  ping(id: number): void {
    if (this.ready && this.channel.readyState === 'open') this.send({ type: 'ping', id });
  }

  dispose(): void {
    clearTimeout(this.authTimer);
    this.store.dispose();
    for (const emitter of [
      this.refusedEmitter,
      this.helloEmitter,
      this.targetsEmitter,
      this.errorEmitter,
      this.openEmitter,
      this.closeEmitter,
    ]) {
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
        void this.agentSaidHello(message);
        break;
      case 'auth-ok':
        if (!this.agentHello || this.ready) {
          this.errorEmitter.fire({ code: 'BAD_MESSAGE', message: 'the agent sent auth-ok unasked' });
          break;
        }
        clearTimeout(this.authTimer);
        this.becomeReady(this.agentHello);
        break;
      case 'targets':
        this.targetsEmitter.fire(message.targets);
        break;
      case 'error':
        if (message.fatal && (message.code === 'FINGERPRINT_MISMATCH' || message.code === 'NOT_PAIRED')) {
          this.refusedEmitter.fire({ code: message.code, message: message.message });
        } else this.errorEmitter.fire({ code: message.code, message: message.message });
        break;
      case 'ping':
        this.send({ type: 'pong', ...(message.id === undefined ? {} : { id: message.id }) });
        break;
      case 'pong':
        break;
    }
  }

  private async agentSaidHello(hello: HelloMessage): Promise<void> {
    if (this.agentHello) {
      this.errorEmitter.fire({ code: 'BAD_MESSAGE', message: 'the agent said hello twice; the second one is ignored' });
      return;
    }
    this.agentHello = hello;
    if (hello.protocol !== TTY_PROTOCOL) {
      return this.refusedEmitter.fire({
        code: 'UNSUPPORTED_PROTOCOL',
        message: `the agent speaks ${hello.protocol.slice(0, 64)}, this console ${TTY_PROTOCOL}: update one of them`,
      });
    }
    if (!this.binding) return this.becomeReady(hello);
    const answer = await this.binding.answerHello(hello);
    if (!answer.ok) return this.refusedEmitter.fire(answer.error);
    if (!answer.value) return this.becomeReady(hello);
    this.send(answer.value);
    this.authTimer = setTimeout(() => {
      this.refusedEmitter.fire({
        code: 'NOT_PAIRED',
        message: `the agent did not accept this console's binding within ${AUTH_OK_TIMEOUT_MS / 1000} s`,
      });
    }, AUTH_OK_TIMEOUT_MS);
  }

  private becomeReady(hello: HelloMessage): void {
    this.ready = true;
    this.send({ type: 'list-targets' });
    this.helloEmitter.fire(hello);
  }
}
