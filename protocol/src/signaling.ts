import { z } from 'zod';
import { ErrorCodeSchema } from './tty.js';

/**
 * Signaling events, on Socket.IO, for the cloud server and (later) the agent's LAN endpoint alike.
 * Every payload is parsed on receipt with the schemas below; the event maps at the end type the
 * Socket.IO servers and clients (`Server<ConsoleToServer & AgentToServer, ...>`).
 */

/** Largest signaling payload a server accepts (an SDP with many candidates stays far below). */
export const MAX_SIGNALING_PAYLOAD_BYTES = 64 * 1024;

/** How long a peer waits for the server's acknowledgement of a signaling message. */
export const SIGNALING_ACK_TIMEOUT_MS = 10_000;

/**
 * Within this long after its WebSocket opened, a client's Socket.IO connection must be admitted
 * (on the cloud server: authenticated), or the server closes the transport. Socket.IO's own limit
 * is 45 s; a client sends its CONNECT as soon as the WebSocket is open.
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Bytes a client may send on a transport before a connection on it is admitted: one CONNECT of the
 * largest packet and room for a few more; past it the server closes the transport.
 */
export const MAX_INBOUND_BYTES_BEFORE_AUTH = MAX_SIGNALING_PAYLOAD_BYTES;

/** The first delay before a client connects again after losing its signaling connection (Socket.IO's `reconnectionDelay`). */
export const RECONNECT_FIRST_MS = 1000;
/** The longest delay between attempts (`reconnectionDelayMax`); delays double up to it. */
export const RECONNECT_MAX_MS = 30_000;
/**
 * The share of each delay that is random, either way (`randomizationFactor`): a fleet that lost its
 * server at once (a node restarted, a site's uplink back) does not come back in one wave.
 */
export const RECONNECT_JITTER = 0.5;

/**
 * How long to wait before attempt `attempt` (0 for the first) after a refused handshake. When the
 * server said `retryAfterMs` (a busy node), that long plus up to as much again at random, so that
 * the refused clients of one moment come back spread over the next; otherwise the jittered
 * exponential delay of that attempt, which Socket.IO applies by itself to lost connections.
 */
export function reconnectDelayMs(attempt: number, retryAfterMs = 0, random: () => number = Math.random): number {
  if (retryAfterMs > 0) return Math.round(retryAfterMs * (1 + random()));
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(base * (1 - RECONNECT_JITTER + 2 * RECONNECT_JITTER * random()));
}

export const AgentId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, `_`, `.` and `-`');

/** Chosen by the console per negotiation, so one socket can carry several. */
export const NegotiationId = z
  .string()
  .min(8)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/);

/** Sent as the Socket.IO handshake's `auth`. */
export const SignalingAuth = z.discriminatedUnion('role', [
  z.object({ role: z.literal('console'), token: z.string().min(1).max(4096) }),
  z.object({
    role: z.literal('agent'),
    token: z.string().min(1).max(4096),
    agentId: AgentId,
    name: z.string().min(1).max(128),
    version: z.string().max(64),
  }),
]);

export const AgentInfo = z.object({
  agentId: AgentId,
  name: z.string().max(128),
  version: z.string().max(64),
});

/** Agents one organisation's presence may list; a snapshot or one diff holds at most this many. */
export const MAX_PRESENCE_AGENTS = 10_000;

/**
 * How long the server gathers presence changes into one diff. A reconnect storm of N agents then
 * costs a console about one list in diffs, not N lists.
 */
export const PRESENCE_BATCH_MS = 100;

/** A position in an organisation's presence stream on one server connection; each diff is the previous + 1. */
export const PresenceSeq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Every agent of the organisation a console may reach, with the sequence number the diffs that
 * follow continue from: sent on connect, and in answer to `presence:resync`.
 */
export const PresenceSnapshot = z.object({ seq: PresenceSeq, agents: z.array(AgentInfo).max(MAX_PRESENCE_AGENTS) });

/**
 * The changes of one batch interval, `seq` one more than the snapshot's or the previous diff's:
 * `joins` are agents that came online or whose name or version changed (the whole entry, which
 * replaces any entry of that agentId), `leaves` the agentIds that went offline. Applying a diff is
 * idempotent: a join of a listed agent replaces it, a leave of an unlisted one changes nothing.
 */
/** `presence:resync`'s payload: nothing (an empty object, or none). */
export const PresenceResync = z.object({}).optional();

/** A console may ask for a snapshot once per this interval; more often is RATE_LIMITED. */
export const PRESENCE_RESYNC_INTERVAL_MS = 1000;

export const PresenceDiff = z.object({
  seq: PresenceSeq.min(1),
  joins: z.array(AgentInfo).max(MAX_PRESENCE_AGENTS),
  leaves: z.array(AgentId).max(MAX_PRESENCE_AGENTS),
});

const sdp = z.string().min(1).max(60_000);

export const IceCandidate = z.object({
  candidate: z.string().max(1024),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(1024).nullable().optional(),
  usernameFragment: z.string().max(256).nullable().optional(),
});

/** console → server */
export const OfferToServer = z.object({ sessionId: NegotiationId, agentId: AgentId, sdp });
/** server → agent; `consoleId` is the server's name for the console's connection */
export const OfferToAgent = z.object({ sessionId: NegotiationId, consoleId: z.string().max(64), sdp });
/** agent → server → console */
export const Answer = z.object({ sessionId: NegotiationId, sdp });
/** both ways; `candidate: null` marks the end of gathering */
export const Ice = z.object({ sessionId: NegotiationId, candidate: IceCandidate.nullable() });
/** both ways: the negotiation and its peer connection are over */
export const Disconnect = z.object({
  sessionId: NegotiationId,
  reason: z.string().max(512),
  /** why, as an error code, when the sender refused the negotiation (e.g. FINGERPRINT_MISMATCH) */
  code: ErrorCodeSchema.optional(),
  /**
   * Set by the signaling server when it ends a negotiation because the other side's signaling
   * connection dropped ("console went offline", "agent went offline"): a statement about the
   * signaling path only. A peer connection that works goes on; each end judges it by its own ICE,
   * DTLS and data channels (protocol/README.md, "Losing signaling").
   */
  offline: z.literal(true).optional(),
});

export const SignalingErrorPayload = z.object({
  code: ErrorCodeSchema,
  message: z.string().max(1024),
  sessionId: NegotiationId.optional(),
  /** a refused handshake (RATE_LIMITED): try again no sooner than this, in milliseconds, plus a random part */
  retryAfterMs: z.number().int().min(0).max(3_600_000).optional(),
});

/**
 * One ICE server as WebRTC's `RTCIceServer` takes it: `stun:`/`turn:`/`turns:` URLs, and for TURN
 * the username and credential (a password; never an OAuth token here).
 */
export const IceServer = z.object({
  urls: z
    .array(
      z
        .string()
        .min(1)
        .max(512)
        .regex(/^(stun|stuns|turn|turns):/i, 'a stun:, stuns:, turn: or turns: URL'),
    )
    .min(1)
    .max(8),
  username: z.string().max(512).optional(),
  credential: z.string().max(512).optional(),
});

/**
 * Time-limited TURN credentials (the TURN REST API scheme coturn's `use-auth-secret` checks):
 * `username` is `<expiry Unix seconds>:<user id>`, `credential` is base64(HMAC-SHA1(secret,
 * username)). Sent by the server to every authenticated console and agent right after connecting,
 * and again before they expire; the newest replaces the previous ones.
 */
export const TurnCredentials = z.object({
  iceServers: z.array(IceServer).max(8),
  /** when the TURN server stops accepting these for new allocations, Unix milliseconds */
  expiresAt: z.number().int().min(0),
  /** how long they were issued for, seconds */
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600),
});

/** The reply to every acknowledged signaling message. */
export const SignalingAck = z.union([z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: SignalingErrorPayload })]);

export type SignalingAuth = z.infer<typeof SignalingAuth>;
export type AgentInfo = z.infer<typeof AgentInfo>;
export type PresenceSnapshot = z.infer<typeof PresenceSnapshot>;
export type PresenceDiff = z.infer<typeof PresenceDiff>;
export type IceCandidate = z.infer<typeof IceCandidate>;
export type OfferToServer = z.infer<typeof OfferToServer>;
export type OfferToAgent = z.infer<typeof OfferToAgent>;
export type Answer = z.infer<typeof Answer>;
export type Ice = z.infer<typeof Ice>;
export type Disconnect = z.infer<typeof Disconnect>;
export type SignalingErrorPayload = z.infer<typeof SignalingErrorPayload>;
export type SignalingAck = z.infer<typeof SignalingAck>;
export type IceServer = z.infer<typeof IceServer>;
export type TurnCredentials = z.infer<typeof TurnCredentials>;

type Ack = (reply: SignalingAck) => void;

/** Events a console emits. Handlers on the server take `unknown` and parse. */
export interface ConsoleToServerEvents {
  /** asks for a fresh `presence:snapshot` (the console saw a gap in the diffs' `seq`); no payload needed */
  'presence:resync': (msg: Record<string, never>, ack: Ack) => void;
  'webrtc:offer': (msg: OfferToServer, ack: Ack) => void;
  'webrtc:ice': (msg: Ice, ack: Ack) => void;
  'webrtc:disconnect': (msg: Disconnect, ack: Ack) => void;
}

/** Events an agent emits. */
export interface AgentToServerEvents {
  'webrtc:answer': (msg: Answer, ack: Ack) => void;
  'webrtc:ice': (msg: Ice, ack: Ack) => void;
  'webrtc:disconnect': (msg: Disconnect, ack: Ack) => void;
}

/** Events the server sends a console. */
export interface ServerToConsoleEvents {
  'presence:snapshot': (msg: PresenceSnapshot) => void;
  'presence:diff': (msg: PresenceDiff) => void;
  'webrtc:answer': (msg: Answer) => void;
  'webrtc:ice': (msg: Ice) => void;
  'webrtc:disconnect': (msg: Disconnect) => void;
  'signal:error': (msg: SignalingErrorPayload) => void;
  'turn:credentials': (msg: TurnCredentials) => void;
}

/** Events the server sends an agent. */
export interface ServerToAgentEvents {
  'webrtc:offer': (msg: OfferToAgent) => void;
  'webrtc:ice': (msg: Ice) => void;
  'webrtc:disconnect': (msg: Disconnect) => void;
  'signal:error': (msg: SignalingErrorPayload) => void;
  'turn:credentials': (msg: TurnCredentials) => void;
}

export type ClientToServerEvents = ConsoleToServerEvents & AgentToServerEvents;
export type ServerToClientEvents = ServerToConsoleEvents & ServerToAgentEvents;
