import { z } from 'zod';
import { ERROR_CODES } from './errors.js';
import { MAX_FRAME_BYTES } from './flow-control.js';

/**
 * tether-tty/1: the messages on Tether's WebRTC data channels (protocol/README.md).
 *
 * One `control` channel per peer connection, one `tty` channel per terminal. Text frames carry the
 * JSON messages below; binary frames carry raw terminal bytes (console → agent: input, agent →
 * console: output).
 */
export const TTY_PROTOCOL = 'tether-tty/1';

/** The label of the one control channel of a peer connection. */
export const CONTROL_CHANNEL_LABEL = 'control';

/** Terminal channels are labelled `tty:<tab id>`; the part after the colon is the console's own. */
export const TTY_CHANNEL_PREFIX = 'tty:';

export const MIN_TERMINAL_SIZE = 1;
export const MAX_TERMINAL_SIZE = 1000;

const dimension = z.number().int().min(MIN_TERMINAL_SIZE).max(MAX_TERMINAL_SIZE);

/** A container by name or id, as Docker spells them. */
export const TargetRef = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a container name or id');

/** Chosen by the agent; opaque to the console. */
export const SessionId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/);

export const TargetState = z.enum(['running', 'stopped', 'paused', 'restarting', 'unknown']);

/** A container that the agent exposes. */
export const Target = z.object({
  id: z.string().max(64),
  name: z.string().max(128),
  image: z.string().max(256),
  state: TargetState,
});

export const ErrorCodeSchema = z.enum(ERROR_CODES);

const text = (max: number) => z.string().max(max);

// ---- messages either side may send ----

export const PingMessage = z.object({ type: z.literal('ping'), id: z.number().int().nonnegative().optional() });
export const PongMessage = z.object({ type: z.literal('pong'), id: z.number().int().nonnegative().optional() });
export const ErrorMessage = z.object({
  type: z.literal('error'),
  code: ErrorCodeSchema,
  message: text(1024),
  /** true when the sender is about to close the channel because of this error */
  fatal: z.boolean().optional(),
});

// ---- control channel ----

export const HelloMessage = z.object({
  type: z.literal('hello'),
  /**
   * The protocol the sender speaks, `tether-tty/1` (TTY_PROTOCOL). Any other value still parses,
   * so that the receiver can answer it with UNSUPPORTED_PROTOCOL instead of BAD_MESSAGE.
   */
  protocol: z.string().min(1).max(64),
  /** who is speaking: an agent sends its id, name and version; a console its app version */
  peer: z.object({
    kind: z.enum(['agent', 'console']),
    id: text(128).optional(),
    name: text(128).optional(),
    version: text(64),
  }),
  capabilities: z.array(text(64)).max(64),
  /** trust binding (protocol/README.md, "Console, step by step", "Connection"): a fresh random nonce, base64url */
  nonce: z
    .string()
    .min(22)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
  /** agent only: its certificate fingerprint as it signed it */
  fingerprint: z.string().max(128).optional(),
  /** agent only: ECDSA signature of bindingInput({role: 'agent', ...}) with its identity key, base64url */
  signature: z.string().max(128).optional(),
  /** agent only: `required` when the console must send `auth` before anything else is served */
  auth: z.enum(['required', 'optional']).optional(),
});

/** console → agent: the console's binding signature, made with its enrolled key. */
export const AuthMessage = z.object({
  type: z.literal('auth'),
  consoleId: z.string().max(64).optional(),
  /** ECDSA P-256/SHA-256 (IEEE P1363) of bindingInput({role: 'console', ...}), base64url */
  signature: z
    .string()
    .min(86)
    .max(86)
    .regex(/^[A-Za-z0-9_-]+$/),
});

/** agent → console: the binding checked; targets and terminals are served from now on. */
export const AuthOkMessage = z.object({ type: z.literal('auth-ok'), consoleId: z.string().max(64) });

export const ListTargetsMessage = z.object({ type: z.literal('list-targets') });

export const TargetsMessage = z.object({
  type: z.literal('targets'),
  targets: z.array(Target).max(1000),
});

/** What a console sends on `control`. */
export const ConsoleControlMessage = z.discriminatedUnion('type', [
  HelloMessage,
  AuthMessage,
  ListTargetsMessage,
  PingMessage,
  PongMessage,
]);

/** What an agent sends on `control`. */
export const AgentControlMessage = z.discriminatedUnion('type', [
  HelloMessage,
  AuthOkMessage,
  TargetsMessage,
  ErrorMessage,
  PingMessage,
  PongMessage,
]);

// ---- tty channels ----

export const OpenMessage = z.object({
  type: z.literal('open'),
  target: TargetRef,
  cols: dimension,
  rows: dimension,
  /** reattach to a session that outlived its channel; `received` is the output bytes seen so far */
  resume: z.object({ sessionId: SessionId, received: z.number().int().nonnegative() }).optional(),
});

/** At most this many notices in one `opened`, each at most MAX_NOTICE_LENGTH characters. */
export const MAX_NOTICES = 8;
export const MAX_NOTICE_LENGTH = 1024;

export const OpenedMessage = z.object({
  type: z.literal('opened'),
  sessionId: SessionId,
  target: z.object({ id: z.string().max(64), name: z.string().max(128) }),
  /** the shell the agent started, e.g. `/bin/bash` */
  shell: text(256),
  /** how long the agent keeps this session after its channel is lost, in ms (0: no resume) */
  resumeGraceMs: z.number().int().nonnegative().optional(),
  /**
   * Present when the open was a `resume`: output follows from byte offset `from`; `lost` bytes
   * between the console's `received` and `from` fell out of the agent's buffer and are gone.
   * Offsets count output bytes from the start of the session.
   * `inputReceived`: the input bytes that reached the agent for this session from its start, over
   * every channel, whether written or refused. The console compares it with what it sent: the
   * difference was sent into the channel that died and never arrived (it is not sent again).
   * Absent from agents before 0.1.0's resume accounting.
   */
  resumed: z
    .object({
      from: z.number().int().nonnegative(),
      lost: z.number().int().nonnegative(),
      inputReceived: z.number().int().nonnegative().optional(),
    })
    .optional(),
  /**
   * Sentences the console shows in the tab when it opens: that what is typed is recorded, or what
   * the agent could not apply to the session's processes (their priority, CPUs, caps). Absent when
   * there is nothing to tell.
   */
  notices: z.array(text(MAX_NOTICE_LENGTH)).max(MAX_NOTICES).optional(),
});

/**
 * In the console's `hello` capabilities when it takes `running` on tty channels: the agent then
 * sends `opened` as soon as the exec stream is attached, and `running` once the shell runs. To a
 * console without it, the agent sends `opened` only once the shell runs, with every notice.
 */
export const RUNNING_CAPABILITY = 'tty-running/1';

/**
 * After `opened`, to a console with RUNNING_CAPABILITY, once per channel: the session's shell runs
 * (the agent has its host process id, has settled its standing and audited its start), and input
 * held until then is written. An `error` with `fatal` instead says that it never ran.
 */
export const RunningMessage = z.object({
  type: z.literal('running'),
  /** the shell's process id on the agent's host, as Docker reports it; 0 when Docker did not say */
  hostPid: z.number().int().nonnegative(),
  /** what the agent could not apply to the session's processes (their priority, CPUs, caps); absent when nothing */
  notices: z.array(text(MAX_NOTICE_LENGTH)).max(MAX_NOTICES).optional(),
});

/** JSON form of input, for simple clients; consoles send binary frames. */
export const InputMessage = z.object({ type: z.literal('input'), data: text(MAX_FRAME_BYTES) });

/** JSON form of output; the agent sends binary frames and never this. Accepted for symmetry. */
export const OutputMessage = z.object({ type: z.literal('output'), data: text(MAX_FRAME_BYTES) });

export const ResizeMessage = z.object({ type: z.literal('resize'), cols: dimension, rows: dimension });

/** The console has parsed `bytes` more bytes of output (flow-control.ts). */
export const AckMessage = z.object({
  type: z.literal('ack'),
  bytes: z
    .number()
    .int()
    .positive()
    .max(1 << 30),
});

/** The console asks the agent to end the session; the agent kills the exec'd process. */
export const CloseMessage = z.object({ type: z.literal('close') });

/**
 * What became of the container when the shell ended with it: `stopped` (stopped or killed, and not
 * running again within about 2 s), `restarted` (running again, by `docker restart` or its restart
 * policy, or restarting), `removed`.
 */
export const ContainerFate = z.enum(['stopped', 'restarted', 'removed']);

/**
 * The process in the container ended; `code` is null when Docker could not tell. `container`, when
 * present, says the shell ended because its container stopped, restarted or was removed.
 */
export const ExitMessage = z.object({
  type: z.literal('exit'),
  code: z.number().int().nullable(),
  // A fate a later agent may add reads as none, rather than the whole message as malformed.
  container: ContainerFate.optional().catch(undefined),
});

/** What a console sends on a tty channel, as text. */
export const ConsoleTtyMessage = z.discriminatedUnion('type', [
  OpenMessage,
  InputMessage,
  ResizeMessage,
  AckMessage,
  CloseMessage,
  PingMessage,
  PongMessage,
]);

/** What an agent sends on a tty channel, as text. */
export const AgentTtyMessage = z.discriminatedUnion('type', [
  OpenedMessage,
  RunningMessage,
  OutputMessage,
  ExitMessage,
  ErrorMessage,
  PingMessage,
  PongMessage,
]);

export type Target = z.infer<typeof Target>;
export type TargetState = z.infer<typeof TargetState>;
export type HelloMessage = z.infer<typeof HelloMessage>;
export type AuthMessage = z.infer<typeof AuthMessage>;
export type AuthOkMessage = z.infer<typeof AuthOkMessage>;
export type TargetsMessage = z.infer<typeof TargetsMessage>;
export type ErrorMessage = z.infer<typeof ErrorMessage>;
export type OpenMessage = z.infer<typeof OpenMessage>;
export type OpenedMessage = z.infer<typeof OpenedMessage>;
export type RunningMessage = z.infer<typeof RunningMessage>;
export type ResizeMessage = z.infer<typeof ResizeMessage>;
export type AckMessage = z.infer<typeof AckMessage>;
export type ExitMessage = z.infer<typeof ExitMessage>;
export type ContainerFate = z.infer<typeof ContainerFate>;
export type ConsoleControlMessage = z.infer<typeof ConsoleControlMessage>;
export type AgentControlMessage = z.infer<typeof AgentControlMessage>;
export type ConsoleTtyMessage = z.infer<typeof ConsoleTtyMessage>;
export type AgentTtyMessage = z.infer<typeof AgentTtyMessage>;
