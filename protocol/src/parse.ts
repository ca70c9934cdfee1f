import type { z } from 'zod';
import { err, ok, protocolError, type Result } from './errors.js';
import { MAX_FRAME_BYTES } from './flow-control.js';
import { AgentFileMessage, ConsoleFileMessage } from './transfer.js';
import { AgentControlMessage, AgentTtyMessage, ConsoleControlMessage, ConsoleTtyMessage } from './tty.js';

/** What a data channel delivered: a text frame or a binary one. */
export type Frame = string | ArrayBuffer | ArrayBufferView;

/** A frame after parsing: a JSON message, or raw terminal bytes. */
export type Parsed<M> = { kind: 'message'; message: M } | { kind: 'bytes'; bytes: Uint8Array };

/**
 * Byte length of a text frame as UTF-8, without allocating; equal to TextEncoder's for every
 * string, lone surrogates included (each becomes U+FFFD, 3 bytes).
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function describe(issues: z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (!first) return 'does not match the schema';
  const where = first.path.length > 0 ? first.path.join('.') : 'message';
  return `${where}: ${first.message}`;
}

/** Parses a JSON text into one of the messages `schema` accepts, with bounds checked. */
export function parseJson<S extends z.ZodType>(schema: S, text: string): Result<z.infer<S>> {
  if (utf8Length(text) > MAX_FRAME_BYTES) {
    return err(protocolError('MESSAGE_TOO_LARGE', `text frame over ${MAX_FRAME_BYTES} bytes`));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return err(protocolError('BAD_MESSAGE', 'text frame is not valid JSON'));
  }
  return parseValue(schema, json);
}

/** Validates an already-decoded value (a Socket.IO payload, an IPC argument). */
export function parseValue<S extends z.ZodType>(schema: S, value: unknown): Result<z.infer<S>> {
  const result = schema.safeParse(value);
  if (!result.success) {
    return err(protocolError('BAD_MESSAGE', describe(result.error.issues)));
  }
  return ok(result.data);
}

function parseFrame<S extends z.ZodType>(schema: S, frame: Frame): Result<Parsed<z.infer<S>>> {
  if (typeof frame === 'string') {
    const parsed = parseJson(schema, frame);
    return parsed.ok ? ok({ kind: 'message', message: parsed.value }) : parsed;
  }
  // isView rather than instanceof ArrayBuffer: a buffer from another realm (iframe, vm) must not
  // be mistaken for a view and read as empty.
  const bytes = ArrayBuffer.isView(frame) ? new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength) : new Uint8Array(frame);
  if (bytes.byteLength > MAX_FRAME_BYTES) {
    return err(protocolError('MESSAGE_TOO_LARGE', `binary frame over ${MAX_FRAME_BYTES} bytes`));
  }
  return ok({ kind: 'bytes', bytes });
}

/** The agent's parser for what a console sends on a tty channel. */
export const parseConsoleTtyFrame = (frame: Frame) => parseFrame(ConsoleTtyMessage, frame);
/** The console's parser for what an agent sends on a tty channel. */
export const parseAgentTtyFrame = (frame: Frame) => parseFrame(AgentTtyMessage, frame);
/** The agent's parser for what a console sends on a `file:` channel: messages, or upload bytes. */
export const parseConsoleFileFrame = (frame: Frame) => parseFrame(ConsoleFileMessage, frame);
/** The console's parser for what an agent sends on a `file:` channel: messages, or download bytes. */
export const parseAgentFileFrame = (frame: Frame) => parseFrame(AgentFileMessage, frame);
/** The agent's parser for the console's control channel; binary frames are not allowed there. */
export const parseConsoleControl = (text: string) => parseJson(ConsoleControlMessage, text);
/** The console's parser for the agent's control channel. */
export const parseAgentControl = (text: string) => parseJson(AgentControlMessage, text);

/**
 * Serializes a message; the single place where messages become text frames. Generic so that an
 * object literal with its fields is accepted as it stands.
 */
export function encodeMessage<M extends { type: string }>(message: M): string {
  return JSON.stringify(message);
}
