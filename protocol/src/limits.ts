/**
 * Rate and size bounds on what a peer may send, beyond the per-frame and per-field bounds of the
 * schemas (docs/hardening.md lists every bound and what happens when it is exceeded). A receiver
 * answers excess with RATE_LIMITED, drops it, and keeps serving its other peers and channels.
 *
 * Rates are token buckets: `…_PER_SECOND` on average, `…_BURST` at once. Invariant: a
 * well-behaved console stays far below them. Typing sends one frame per key, a window being
 * resized some 60 resizes a second, and acks one per ACK_BATCH_BYTES of output (a few hundred a
 * second at most); a paste is cut into frames of at most MAX_FRAME_BYTES.
 */

/** Frames (text or binary) a console may send on one `tty:` channel, per second on average. */
export const TTY_FRAMES_PER_SECOND = 500;
/** …and at once. */
export const TTY_FRAME_BURST = 1000;

/** Frames a console may send on the `control` channel, per second on average. */
export const CONTROL_FRAMES_PER_SECOND = 20;
/** …and at once. */
export const CONTROL_FRAME_BURST = 100;

/**
 * Input a console may send after `open` and before `opened` (the agent holds it until the shell
 * runs): a type-ahead, not a paste. More is refused with RATE_LIMITED and not written.
 */
export const MAX_QUEUED_INPUT_BYTES = 64 * 1024;

/**
 * Input written to a shell that does not read it waits in the agent's socket to Docker. Above this
 * much, frames longer than MAX_ALWAYS_WRITTEN_INPUT_BYTES are refused with RATE_LIMITED and not
 * written; shorter ones (a Ctrl-C, a keystroke) still are, at most at the frame rate.
 */
export const MAX_PENDING_INPUT_BYTES = 1024 * 1024;
export const MAX_ALWAYS_WRITTEN_INPUT_BYTES = 16;

/**
 * Bytes the agent may have queued on a channel that the console does not read before it stops
 * answering that channel's text frames (errors, pongs): a peer that sends without reading must
 * not grow the agent's send buffer. Well above CHANNEL_BUFFER_HIGH_BYTES, where output pauses.
 */
export const MAX_UNREAD_REPLY_BYTES = 1024 * 1024;

/** Data channels (`control` and `tty:`) one peer connection may open; more are refused and closed. */
export const MAX_CHANNELS_PER_PEER = 64;

/** Signaling messages per second a connection may send on average (cloud server and LAN endpoint). */
export const SIGNALING_MESSAGES_PER_SECOND = 100;
/** …and at once. */
export const SIGNALING_MESSAGE_BURST = 200;

/**
 * Negotiations (peer connections) one signaling connection may hold with an agent at once: a LAN
 * connection, or one console connection of the cloud server (the server's own bound is 64 per
 * console connection). Refused beyond with `webrtc:disconnect {code: RATE_LIMITED}`.
 */
export const MAX_NEGOTIATIONS_PER_CONNECTION = 16;
/** The former name, when only the LAN path had this bound. */
export const MAX_NEGOTIATIONS_PER_LAN_CONNECTION = MAX_NEGOTIATIONS_PER_CONNECTION;

/**
 * Negotiations one console identity may hold with an agent at once, over all its connections: the
 * enrolled console, or (unpaired) the DTLS certificate fingerprint its offers declare. Invariant:
 * ≥ MAX_NEGOTIATIONS_PER_CONNECTION, so that a console that reconnects while its old peer
 * connections still wait out their timeouts is not refused before its connection is; and far
 * below the agent's total (128), so that one console — or one token on several connections
 * presenting one certificate — cannot take every slot.
 */
export const MAX_NEGOTIATIONS_PER_CONSOLE = 32;

/** Remote ICE candidates the agent takes per negotiation; later ones are dropped (and logged). */
export const MAX_REMOTE_CANDIDATES = 64;

/**
 * Outbound data the cloud signaling server may hold for one connection, beyond what the kernel's
 * socket buffers already took: answers, relayed offers and candidates, presence lists. A client
 * that sends but never reads makes it grow; above this bound the server ends that connection.
 * Invariant: far above what a console or agent that reads ever has queued. The largest messages
 * are a presence list (10 000 agents, about 3 MB with the schema's longest names) and a console's
 * offers (64 negotiations × 60 000-byte SDPs ≈ 3.9 MB); a client that reads drains them as fast as
 * its link allows, so a burst, not a rate, is what this has to hold.
 */
export const MAX_QUEUED_OUTBOUND_BYTES = 8 * 1024 * 1024;

/**
 * The same bound for a connection that has not passed the handshake's authentication: all it is
 * ever sent is the engine.io handshake, pings, and one `connect_error` per attempt.
 */
export const MAX_QUEUED_OUTBOUND_BYTES_BEFORE_AUTH = 64 * 1024;

/**
 * The same bound on the agent's LAN endpoint, which sends a console acks, `lan:hello` and the
 * answers and candidates of at most MAX_NEGOTIATIONS_PER_LAN_CONNECTION negotiations: werift's
 * answers are a few KB, and even 16 of the schema's 60 000 bytes stay under 1 MiB.
 */
export const MAX_LAN_QUEUED_OUTBOUND_BYTES = 1024 * 1024;

/**
 * Socket.IO connections one address may hold on the agent's LAN endpoint at once; one more is
 * refused at the handshake (`connect_error` RATE_LIMITED). A console needs one per agent, and keeps
 * an old one for a moment while it reconnects; 16 lets some eight consoles share one NAT address.
 */
export const MAX_LAN_CONNECTIONS_PER_ADDRESS = 16;

/**
 * TCP connections one address may hold on the agent's LAN endpoint, whatever they carry (a
 * Socket.IO transport, or an HTTP request never finished): one more is closed at once. Above
 * MAX_LAN_CONNECTIONS_PER_ADDRESS so that a transport being replaced still has room.
 */
export const MAX_LAN_TCP_PER_ADDRESS = 32;

/** TCP connections the agent's LAN endpoint holds in all; more are closed at once (a file descriptor each). */
export const MAX_LAN_TCP_CONNECTIONS = 256;

/** An HTTP request to the LAN endpoint must have sent its headers within this long, or it is closed. */
export const LAN_HEADERS_TIMEOUT_MS = 10_000;
