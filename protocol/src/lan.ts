import { z } from 'zod';
import { Base64Url, Fingerprint } from './pairing.js';
import type { Answer, Disconnect, Ice, OfferToServer } from './signaling.js';
import { AgentId, SignalingErrorPayload, type SignalingAck } from './signaling.js';

/**
 * The agent's own LAN signaling endpoint (protocol/README.md, "LAN endpoint"): the cloud's
 * `webrtc:*` events, plus a greeting, pairing enrollment and authentication of enrolled consoles.
 */

/** A console's ECDSA P-256 public key: base64url of its SubjectPublicKeyInfo (WebCrypto `spki`). */
export const ConsolePublicKey = Base64Url(40, 256);
/** An ECDSA P-256 / SHA-256 signature in IEEE P1363 form (r ‖ s, 64 bytes; what WebCrypto makes), base64url. */
export const EcdsaSignature = Base64Url(86, 86);
/** The agent's name for an enrolled console: base64url of the first 16 bytes of SHA-256(SPKI). */
export const ConsoleId = Base64Url(22, 22);
/** A random nonce, at least 16 bytes, base64url. */
export const Nonce = Base64Url(22, 64);

/** agent → console, at once on connection. */
export const LanHello = z.object({
  agentId: AgentId,
  name: z.string().max(128),
  version: z.string().max(64),
  /** to sign in `lan:auth`; valid for this connection only */
  nonce: Nonce,
});

/** console → agent: enroll with a pairing token's secret. */
export const PairEnroll = z.object({
  pairingId: Base64Url(8, 32),
  consoleName: z.string().min(1).max(128),
  publicKey: ConsolePublicKey,
  /** the fingerprint of the console's persisted RTCCertificate (sha-256) */
  fingerprint: Fingerprint,
  /** HMAC-SHA256(SHA-256(secret), pairingProofInput(...)), base64url (32 bytes) */
  proof: Base64Url(43, 43),
});

/** What the agent says about itself once a console is enrolled or authenticated. */
export const PairedAgent = z.object({
  agentId: AgentId,
  name: z.string().max(128),
  version: z.string().max(64),
  fingerprint: Fingerprint,
  /** the agent's DTLS certificate, DER, base64url: SHA-256 of it is `fingerprint` */
  certificate: Base64Url(100, 4096),
  /** the agent's identity key (the certificate's key), SPKI DER, base64url; verifies its binding signatures */
  publicKey: Base64Url(40, 256),
});

/** console → agent: prove that this connection is an enrolled console. */
export const LanAuth = z.object({
  consoleId: ConsoleId,
  /** ECDSA over lanAuthInput({agentId, consoleId, nonce from lan:hello}) */
  signature: EcdsaSignature,
});

const failure = z.object({ ok: z.literal(false), error: SignalingErrorPayload });

/** The ack of `pair:enroll` and of `lan:auth`. */
export const LanAuthAck = z.union([z.object({ ok: z.literal(true), consoleId: ConsoleId, agent: PairedAgent }), failure]);

export type LanHello = z.infer<typeof LanHello>;
export type PairEnroll = z.infer<typeof PairEnroll>;
export type PairedAgent = z.infer<typeof PairedAgent>;
export type LanAuth = z.infer<typeof LanAuth>;
export type LanAuthAck = z.infer<typeof LanAuthAck>;

type Ack = (reply: SignalingAck) => void;

/** Events a console emits on an agent's LAN endpoint. */
export interface ConsoleToLanEvents {
  'pair:enroll': (msg: PairEnroll, ack: (reply: LanAuthAck) => void) => void;
  'lan:auth': (msg: LanAuth, ack: (reply: LanAuthAck) => void) => void;
  'webrtc:offer': (msg: OfferToServer, ack: Ack) => void;
  'webrtc:ice': (msg: Ice, ack: Ack) => void;
  'webrtc:disconnect': (msg: Disconnect, ack: Ack) => void;
}

/** Events an agent's LAN endpoint sends a console. */
export interface LanToConsoleEvents {
  'lan:hello': (msg: LanHello) => void;
  'webrtc:answer': (msg: Answer) => void;
  'webrtc:ice': (msg: Ice) => void;
  'webrtc:disconnect': (msg: Disconnect) => void;
  'signal:error': (msg: z.infer<typeof SignalingErrorPayload>) => void;
}
