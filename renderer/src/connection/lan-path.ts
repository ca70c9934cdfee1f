/**
 * The LAN signaling path to one paired agent, for one peer connection: opens the agent's own
 * endpoint (each endpoint of the pairing in turn), authenticates with `lan:auth`, and then carries
 * the negotiation. The offer waits until the socket is authenticated, so a connection can be
 * created at once and fail with the agent's reason (NOT_PAIRED for a revoked console).
 */
import { err, ok, protocolError, type Disconnect, type Ice, type OfferToServer, type ProtocolError, type Result } from '@tether/protocol';
import type { Disposable } from '../base/emitter';
import { LanSignaling } from './lan-signaling';
import type { NegotiationHandlers, NegotiationTransport } from './negotiation-transport';
import type { ConsoleIdentity } from '../trust/console-identity';
import type { PairedAgentRecord } from '../trust/trust-store';

export class LanPath implements NegotiationTransport, Disposable {
  readonly path = 'lan' as const;
  private readonly handlers = new Map<string, NegotiationHandlers>();
  private signaling: Promise<Result<LanSignaling>> | undefined;
  private opened: LanSignaling | undefined;
  private disposed = false;

  /** `adopted`: a socket already authenticated (right after pairing), used instead of a new one. */
  constructor(
    private readonly agent: PairedAgentRecord,
    private readonly identity: ConsoleIdentity,
    adopted?: LanSignaling,
  ) {
    if (adopted) this.signaling = Promise.resolve(ok(this.adopt(adopted)));
  }

  register(sessionId: string, handlers: NegotiationHandlers): Disposable {
    this.handlers.set(sessionId, handlers);
    const forwarded = this.opened?.register(sessionId, handlers);
    return { dispose: () => (this.handlers.delete(sessionId), forwarded?.dispose()) };
  }

  async sendOffer(msg: OfferToServer): Promise<Result<void>> {
    this.signaling ??= this.open();
    const signaling = await this.signaling;
    return signaling.ok ? signaling.value.sendOffer(msg) : signaling;
  }

  sendIce(msg: Ice): Promise<Result<void>> {
    return this.opened
      ? this.opened.sendIce(msg)
      : Promise.resolve(err(protocolError('AGENT_OFFLINE', 'the LAN endpoint is not connected')));
  }

  sendDisconnect(msg: Disconnect): Promise<Result<void>> {
    return this.opened ? this.opened.sendDisconnect(msg) : Promise.resolve(ok(undefined));
  }

  dispose(): void {
    this.disposed = true;
    this.handlers.clear();
    this.opened?.dispose();
    this.opened = undefined;
  }

  private adopt(signaling: LanSignaling): LanSignaling {
    this.opened = signaling;
    for (const [sessionId, handlers] of this.handlers) signaling.register(sessionId, handlers);
    // Without its signaling path a LAN peer connection can neither restart ICE nor be ended
    // cleanly by the agent: report it, and the directory reconnects.
    signaling.onClosed((reason) => {
      for (const handlers of this.handlers.values()) handlers.onError(protocolError('AGENT_OFFLINE', reason));
    });
    return signaling;
  }

  private async open(): Promise<Result<LanSignaling>> {
    let last: ProtocolError = protocolError('AGENT_OFFLINE', `${this.agent.name} has no LAN endpoint`);
    for (const endpoint of this.agent.endpoints) {
      const opened = await LanSignaling.open(endpoint);
      if (!opened.ok) {
        last = opened.error;
        continue;
      }
      const signaling = opened.value;
      if (this.disposed) {
        signaling.dispose();
        return err(protocolError('AGENT_OFFLINE', 'the connection was closed while connecting'));
      }
      if (signaling.hello.agentId !== this.agent.agentId) {
        signaling.dispose();
        last = protocolError(
          'FINGERPRINT_MISMATCH',
          `${endpoint} is now agent ${signaling.hello.agentId}, not the paired ${this.agent.agentId}`,
        );
        continue;
      }
      const authenticated = await signaling.authenticate(this.agent.consoleId, this.identity);
      if (!authenticated.ok) {
        signaling.dispose();
        return authenticated;
      }
      if (authenticated.value.agent.fingerprint.toUpperCase() !== this.agent.fingerprint) {
        signaling.dispose();
        return err(
          protocolError(
            'FINGERPRINT_MISMATCH',
            `the agent at ${endpoint} now presents fingerprint ${authenticated.value.agent.fingerprint}`,
          ),
        );
      }
      return ok(this.adopt(signaling));
    }
    return err(last);
  }
}
