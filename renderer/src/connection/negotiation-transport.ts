import type { Answer, Disconnect, Ice, OfferToServer, ProtocolError, Result } from '@tether/protocol';
import type { Disposable } from '../base/emitter';

/** What one negotiation (one peer connection) hears back through its signaling path. */
export interface NegotiationHandlers {
  onAnswer(msg: Answer): void;
  onIce(msg: Ice): void;
  onDisconnect(msg: Disconnect): void;
  onError(error: ProtocolError): void;
}

/**
 * A signaling path that carries `webrtc:*` for peer connections: the cloud signaling server or an
 * agent's own LAN endpoint. Both speak the same events (protocol/README.md).
 */
export interface NegotiationTransport {
  /** `cloud` or `lan`, shown in the device list */
  readonly path: 'cloud' | 'lan';
  register(sessionId: string, handlers: NegotiationHandlers): Disposable;
  sendOffer(msg: OfferToServer): Promise<Result<void>>;
  sendIce(msg: Ice): Promise<Result<void>>;
  sendDisconnect(msg: Disconnect): Promise<Result<void>>;
}
