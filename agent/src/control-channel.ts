/** The `control` channel: hello, the list of exposed containers, ping. Text JSON only. */
import {
  encodeMessage,
  parseConsoleControl,
  RUNNING_CAPABILITY,
  TRANSFER_CAPABILITY,
  TTY_PROTOCOL,
  type AgentControlMessage,
  type ErrorCode,
} from '@tether/protocol';
import { answerError, answerPing, closeWhenDrained, type DataChannelPort, type InboundFrame, type Unsubscribe } from './data-channel.js';
import type { DockerTargets } from './docker-targets.js';
import { createLogger } from './log.js';
import type { TargetWatcher } from './target-events.js';
import type { PeerTrust } from './trust/peer-trust.js';

const log = createLogger(import.meta.url);

export interface AgentIdentity {
  id: string;
  name: string;
  version: string;
}

export class AgentControlChannel {
  private readonly unsubscribe: Unsubscribe[] = [];
  private helloSeen = false;

  constructor(
    private readonly channel: DataChannelPort,
    private readonly targets: DockerTargets,
    private readonly identity: AgentIdentity,
    private readonly peerId: string,
    private readonly trust?: PeerTrust,
    watcher?: TargetWatcher,
    /** told the console's hello capabilities (what its tty channels take) */
    private readonly onHello?: (capabilities: readonly string[]) => void,
  ) {
    this.unsubscribe.push(channel.onMessage((frame) => void this.receive(frame)));
    this.unsubscribe.push(channel.onClose(() => this.dispose()));
    // Pushed lists go only where list-targets would be answered.
    if (watcher) {
      this.unsubscribe.push(
        watcher.subscribe((targets) => {
          if (this.mayList() && this.channel.isOpen) this.send({ type: 'targets', targets });
        }),
      );
    }
  }

  private mayList(): boolean {
    return this.helloSeen && (!this.trust || this.trust.isAuthorized);
  }

  private send(message: AgentControlMessage): void {
    this.channel.send(encodeMessage(message));
  }

  private sendError(code: ErrorCode, message: string, fatal = false): void {
    answerError(this.channel, code, message, fatal);
  }

  private async receive(frame: InboundFrame): Promise<void> {
    if (typeof frame !== 'string') {
      this.sendError('BAD_MESSAGE', 'the control channel carries text JSON only');
      return;
    }
    const parsed = parseConsoleControl(frame);
    if (!parsed.ok) {
      log.warn('bad control message dropped', { peer: this.peerId, code: parsed.error.code, reason: parsed.error.message });
      this.sendError(parsed.error.code, parsed.error.message);
      return;
    }
    const message = parsed.value;
    if (!this.helloSeen && message.type !== 'hello' && message.type !== 'ping' && message.type !== 'pong') {
      // protocol/README.md, "State rules": nothing but hello (and pings) before hello.
      this.sendError('BAD_MESSAGE', `send hello first; ${message.type} before hello is refused`);
      return;
    }
    switch (message.type) {
      case 'hello':
        if (this.helloSeen) {
          this.sendError('BAD_MESSAGE', 'hello was already said on this channel');
          return;
        }
        if (message.protocol !== TTY_PROTOCOL) {
          log.warn('console speaks another protocol', { peer: this.peerId, protocol: message.protocol.slice(0, 64) });
          const reason = `this agent speaks ${TTY_PROTOCOL}, not ${message.protocol.slice(0, 64)}`;
          this.sendError('UNSUPPORTED_PROTOCOL', reason, true);
          closeWhenDrained(this.channel);
          // Fatal on control: the peer connection goes with it (its tty: channels are refused too).
          this.trust?.protocolRefused(reason);
          return;
        }
        this.helloSeen = true;
        this.onHello?.(message.capabilities);
        this.trust?.helloReceived();
        log.info('console hello', { peer: this.peerId, version: message.peer.version, capabilities: message.capabilities });
        this.send({
          type: 'hello',
          protocol: TTY_PROTOCOL,
          peer: { kind: 'agent', id: this.identity.id, name: this.identity.name, version: this.identity.version },
          // What this agent serves: file: channels, and `running` to a console that asks for it
          // (a console then knows whether `running` will come).
          capabilities: [TRANSFER_CAPABILITY, RUNNING_CAPABILITY],
          ...(this.trust ? this.trust.helloFields(message) : {}),
        });
        return;
      case 'auth': {
        if (!this.trust) {
          this.sendError('BAD_MESSAGE', 'this peer has no binding to authenticate');
          return;
        }
        const checked = this.trust.authenticate(message);
        if (checked.ok) this.send({ type: 'auth-ok', consoleId: checked.value.id });
        else this.sendError(checked.error.code, checked.error.message, true);
        return;
      }
      case 'list-targets': {
        if (!this.mayList()) {
          this.sendError('NOT_PAIRED', 'authenticate (auth) before listing targets');
          return;
        }
        const listed = await this.targets.list();
        if (listed.ok) this.send({ type: 'targets', targets: listed.value });
        else this.sendError(listed.error.code, listed.error.message);
        return;
      }
      case 'ping':
        answerPing(this.channel, message);
        return;
      case 'pong':
        return;
    }
  }

  dispose(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
