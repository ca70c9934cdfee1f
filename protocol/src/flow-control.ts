/**
 * Flow control for terminal output, agent → console (DESIGN.md "Flow control").
 *
 * The console acknowledges output bytes after xterm.js has parsed them (the `write` callback), in
 * batches of at least ACK_BATCH_BYTES or after ACK_IDLE_MS without more output. The agent stops
 * reading the exec stream while more than HIGH_WATERMARK_BYTES are unacknowledged and resumes once
 * fewer than LOW_WATERMARK_BYTES are. Invariants, checked in protocol/test/flow-control.test.ts:
 *
 * - ACK_BATCH_BYTES <= LOW_WATERMARK_BYTES: a console that holds back less than one batch must
 *   still let the agent resume, or both sides wait on each other forever.
 * - LOW_WATERMARK_BYTES < HIGH_WATERMARK_BYTES: otherwise pause and resume thrash.
 * - OUTPUT_BATCH_BYTES <= MAX_FRAME_BYTES, and HIGH_WATERMARK_BYTES is a few dozen batches at most:
 *   werift's send cost grows with the square of its queue length (WERIFT-NOTES.md).
 */

/** Largest message, text or binary, that either side sends or accepts on a data channel. */
export const MAX_FRAME_BYTES = 64 * 1024;

/** The agent coalesces exec output into binary frames of at most this size. */
export const OUTPUT_BATCH_BYTES = 32 * 1024;

/** Unacknowledged output above which the agent stops reading the exec stream. */
export const HIGH_WATERMARK_BYTES = 512 * 1024;

/** Unacknowledged output below which the agent reads the exec stream again. */
export const LOW_WATERMARK_BYTES = 128 * 1024;

/** The console acknowledges once it has parsed this many bytes since its last ack. */
export const ACK_BATCH_BYTES = 32 * 1024;

/** The console acknowledges a smaller remainder after this long without new output. */
export const ACK_IDLE_MS = 50;

/** The agent also stops reading while the data channel's own send buffer holds more than this. */
export const CHANNEL_BUFFER_HIGH_BYTES = 256 * 1024;

/** …and resumes when the data channel reports its buffer below this (bufferedAmountLowThreshold). */
export const CHANNEL_BUFFER_LOW_BYTES = 64 * 1024;

/**
 * Resume (DESIGN.md "Resume"): the agent keeps the last RESUME_BUFFER_BYTES of each session's
 * output, with byte offsets, so that a console that lost its channel can `open` with `resume` and
 * get what it missed. It must hold at least everything that may be unacknowledged (the high
 * watermark plus one batch), or a resume could lose bytes that were sent but never parsed.
 */
export const RESUME_BUFFER_BYTES = 1024 * 1024;

/** How long the agent keeps a session whose channel is gone, unless configured otherwise. */
export const DEFAULT_RESUME_GRACE_MS = 5 * 60 * 1000;
