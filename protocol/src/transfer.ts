import { z } from 'zod';
import { MAX_FRAME_BYTES } from './flow-control.js';
import { AckMessage, ErrorMessage, SessionId } from './tty.js';

/**
 * File transfers (protocol/README.md, "File transfers"): one `file:<id>` data channel per
 * transfer, on the peer connection that carries the terminals, served once the peer is authorized.
 * Text frames carry the JSON messages below; binary frames carry the file's bytes (console → agent
 * on an upload, agent → console on a download), under the credit rule below.
 */

/** File channels are labelled `file:<id>`; the part after the colon is the console's own. */
export const FILE_CHANNEL_PREFIX = 'file:';

/** In the agent's `hello` capabilities when it serves `file:` channels. */
export const TRANSFER_CAPABILITY = 'file-transfer/1';

/**
 * The largest binary frame of a transfer: a quarter of a data-channel frame. werift puts a message's
 * chunks into its one send queue whole, so a terminal's echo can wait behind a whole frame; 16 KiB
 * is some 4 ms at 4 MB/s, and 64 KiB frames measured no faster within this machine's noise
 * (README, "Benchmarks").
 */
export const TRANSFER_CHUNK_BYTES = MAX_FRAME_BYTES / 4;

/**
 * The sender of a transfer's bytes never has more than this unacknowledged; the receiver acks
 * what it has consumed (written to the file, or taken by the console's save path). Invariants,
 * checked in protocol/test/transfer.test.ts: TRANSFER_ACK_BYTES ≤ TRANSFER_WINDOW_BYTES / 2, so
 * that an ack arrives before the sender runs dry; TRANSFER_CHUNK_BYTES ≤ TRANSFER_ACK_BYTES; and
 * the window is a few dozen chunks at most (werift's send cost grows with its queue). Much smaller
 * than a terminal's high watermark on purpose: on an upload, the agent's werift (CPU-bound) works
 * through every byte in flight before a keystroke that came after them, so the window is what a
 * keystroke waits behind (protocol/README.md, "The credit rule").
 */
export const TRANSFER_WINDOW_BYTES = 128 * 1024;

/**
 * What a receiver accepts unacknowledged before it refuses bytes beyond the window: the window that
 * `file-transfer/1` first had. Senders keep to TRANSFER_WINDOW_BYTES, which is smaller, so that a
 * console or an agent still sending with the former 256 KiB window works with this one.
 */
export const TRANSFER_WINDOW_LIMIT_BYTES = 256 * 1024;

/**
 * The sender of a transfer's bytes stops while its channel holds more than this unsent, and goes
 * on at TRANSFER_BUFFER_LOW_BYTES: werift sends the messages of every channel from one queue, in
 * order, so what a download queues is what a terminal's output waits behind. At most about two
 * frames queued, where the terminals keep CHANNEL_BUFFER_HIGH_BYTES.
 */
export const TRANSFER_BUFFER_HIGH_BYTES = 16 * 1024;
export const TRANSFER_BUFFER_LOW_BYTES = 4 * 1024;

/** The receiver acks once it has consumed this many bytes since its last ack, and the rest after ACK_IDLE_MS. */
export const TRANSFER_ACK_BYTES = 32 * 1024;

/**
 * While the agent waits on the console in a transfer (bytes, an ack, its `done`), this long
 * without a frame cancels the transfer: a console that went quiet must not hold a command and a
 * temporary file in the container.
 */
export const TRANSFER_IDLE_TIMEOUT_MS = 60_000;

/** A file or directory name in a listing or an upload: at most NAME_MAX (255) bytes on Linux, checked by the agent. */
export const MAX_FILE_NAME_BYTES = 255;

/** A path in an offer or a listing request: at most PATH_MAX (4096) bytes, checked by the agent. */
export const MAX_FILE_PATH_BYTES = 4096;

/** The largest size an offer may state: 2^53 − 1 (a JSON number that stays exact). */
export const MAX_TRANSFER_BYTES = Number.MAX_SAFE_INTEGER;

/** Text of at most `max` UTF-16 code units without NUL; what it may name is the agent's check (BAD_PATH). */
const pathText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !s.includes('\0'), 'no NUL character');

/** SHA-256 as 64 lower-case hex digits. */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'SHA-256 as 64 lower-case hex digits');

const byteCount = z.number().int().min(0).max(MAX_TRANSFER_BYTES);

// ---- console → agent ----

/**
 * An upload: `name` (one file name, no `/`) into `dir` (absolute, or relative to the shell's
 * working directory; that directory when absent). `overwrite: false` refuses an existing `name`
 * with FILE_EXISTS.
 */
export const UploadOffer = z.object({
  type: z.literal('offer'),
  direction: z.literal('upload'),
  sessionId: SessionId,
  dir: pathText(MAX_FILE_PATH_BYTES).optional(),
  name: pathText(1024),
  size: byteCount,
  overwrite: z.boolean(),
});

/** A download of `path` (absolute, or relative to the shell's working directory): a file, or a directory as a tar archive. */
export const DownloadOffer = z.object({
  type: z.literal('offer'),
  direction: z.literal('download'),
  sessionId: SessionId,
  path: pathText(MAX_FILE_PATH_BYTES),
});

export const TransferOffer = z.discriminatedUnion('direction', [UploadOffer, DownloadOffer]);

/** Lists `path` (the shell's working directory when absent), entries starting with `prefix` only. */
export const ListMessage = z.object({
  type: z.literal('list'),
  sessionId: SessionId,
  path: pathText(MAX_FILE_PATH_BYTES).optional(),
  prefix: z.string().max(1024).optional(),
});

/** The sender of the bytes has sent them all: their count and SHA-256. The receiver answers with its own (agent: and where the file now is). */
export const DoneMessage = z.object({
  type: z.literal('done'),
  bytes: byteCount,
  sha256: Sha256Hex,
  /** agent, upload: the file's final path */
  path: z.string().max(MAX_FILE_PATH_BYTES).optional(),
});

/** Either side ends the transfer; nothing is left under the final name of an upload. */
export const CancelMessage = z.object({ type: z.literal('cancel'), reason: z.string().max(256).optional() });

// ---- agent → console ----

export const TransferKind = z.enum(['file', 'directory']);

/** The agent took the offer: an upload's final path; a download's path, kind, size (null: unknown, a directory) and a file name to save it as. */
export const AcceptMessage = z.object({
  type: z.literal('accept'),
  path: z.string().max(MAX_FILE_PATH_BYTES),
  kind: TransferKind.optional(),
  size: byteCount.nullable().optional(),
  name: z.string().max(1024).optional(),
});

export const ListingEntry = z.object({
  name: z.string().max(1024),
  kind: z.enum(['file', 'directory', 'other']),
  /** a symbolic link (`kind` is what it points to) */
  link: z.boolean().optional(),
});

/** What the agent allows in this session's container, so that a console can offer only that. */
export const TransferAllowance = z.object({
  upload: z.boolean(),
  download: z.boolean(),
  /** the size limit in bytes; 0: none */
  maxBytes: byteCount,
});

export const ListingMessage = z.object({
  type: z.literal('listing'),
  /** the directory listed, resolved */
  path: z.string().max(MAX_FILE_PATH_BYTES),
  /** the shell's working directory, which relative paths start from; absent when the agent could not read it */
  cwd: z.string().max(MAX_FILE_PATH_BYTES).optional(),
  entries: z.array(ListingEntry).max(4096),
  /** more entries matched than fit in one frame */
  truncated: z.boolean(),
  allowed: TransferAllowance,
});

/** What a console sends on a `file:` channel, as text. */
export const ConsoleFileMessage = z.discriminatedUnion('type', [TransferOffer, ListMessage, AckMessage, DoneMessage, CancelMessage]);

/** What an agent sends on a `file:` channel, as text. */
export const AgentFileMessage = z.discriminatedUnion('type', [
  AcceptMessage,
  ListingMessage,
  AckMessage,
  DoneMessage,
  CancelMessage,
  ErrorMessage,
]);

export type UploadOffer = z.infer<typeof UploadOffer>;
export type DownloadOffer = z.infer<typeof DownloadOffer>;
export type TransferOffer = z.infer<typeof TransferOffer>;
export type ListMessage = z.infer<typeof ListMessage>;
export type DoneMessage = z.infer<typeof DoneMessage>;
export type CancelMessage = z.infer<typeof CancelMessage>;
export type AcceptMessage = z.infer<typeof AcceptMessage>;
export type ListingEntry = z.infer<typeof ListingEntry>;
export type ListingMessage = z.infer<typeof ListingMessage>;
export type TransferAllowance = z.infer<typeof TransferAllowance>;
export type TransferKind = z.infer<typeof TransferKind>;
export type ConsoleFileMessage = z.infer<typeof ConsoleFileMessage>;
export type AgentFileMessage = z.infer<typeof AgentFileMessage>;
