/**
 * Property-based fuzzing of what Tether's parts accept (docs/hardening.md): fast-check with a
 * fixed seed and a fixed number of runs, so that a run is reproducible and its cost known. On a
 * failure fast-check prints the seed and the path of the failing case; rerun with
 * TETHER_FUZZ_SEED=<seed> to get it again, or another seed to explore (CI never sets it).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';

export const FUZZ_SEED = Number(process.env['TETHER_FUZZ_SEED'] ?? 20_261_126);

/** fast-check parameters: the fixed seed, `numRuns` cases, and no shrinking against live processes. */
export function fuzzParameters(numRuns: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns, endOnFailure: true };
}

/** `[[[…]]]` or `{"a":{"a":…}}`, `depth` levels deep. */
export function nested(depth: number, kind: 'array' | 'object'): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}

/** Values that break a field: wrong types, huge and negative numbers, NaN-ish strings, deep nesting. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, -0, 1.5, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, Number.MAX_SAFE_INTEGER),
  fc.constantFrom(
    '',
    'NaN',
    'Infinity',
    '-1',
    '1e999',
    '0x10',
    '__proto__',
    'constructor',
    '../etc/passwd',
    '\u0000',
    '\ud800',
    '😀'.repeat(100),
  ),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 1, max: 2000 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom(100, 1000).chain((n) => fc.constantFrom(nested(n, 'array'), nested(n, 'object'))),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/**
 * A valid message with one change: a field replaced by a weird value, a field removed, or an
 * unknown field added (which receivers drop; the message stays valid).
 */
export function mutated(valid: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(valid);
  return fc.oneof(
    fc.tuple(fc.constantFrom(...keys), weirdValue).map(([key, value]) => ({ ...valid, [key]: value })),
    fc.constantFrom(...keys).map((key) => {
      const copy = { ...valid };
      delete copy[key];
      return copy;
    }),
    fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), weirdValue).map(([key, value]) => ({ ...valid, [key]: value })),
    fc.constant(valid),
  );
}

/** Any payload: arbitrary JSON, a weird value, or a near miss of one of `valid`. */
export function payloadFor(valid: Record<string, unknown>[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.oneof(...valid.map(mutated)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    { weight: 1, arbitrary: weirdValue },
  );
}

/** What a JSON transport (Socket.IO, a text frame) delivers of `value`. */
export function overJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/** socket.io-client refuses to emit these; only raw packets carry them. */
export const RESERVED_EVENTS = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'];

/** Nesting as deep as a 64 KiB packet allows, written out (a JSON encoder would overflow its own stack). */
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
export const specialPackets = [
  ...RESERVED_EVENTS.map((name) => `42${JSON.stringify([name, { sessionId: 'session-0001', reason: 'x' }])}`),
  '420["disconnect"]',
  `42["webrtc:offer",${deep(30_000)}]`,
  `42["webrtc:ice",{"sessionId":"session-deep","candidate":${'{"a":'.repeat(10_000)}0${'}'.repeat(10_000)}}]`,
  // a binary event whose placeholder sits at the bottom: socket.io-parser rebuilds it recursively
  `451-["webrtc:offer",${'['.repeat(20_000)}{"_placeholder":true,"num":0}${']'.repeat(20_000)}]`,
];

/**
 * Socket.IO packets as a client could write them, valid or not: reserved event names, deep nesting,
 * stray binary attachments, garbage; sent with engine.io's `send`, under socket.io-client's encoder.
 */
export const rawSocketIoPacket: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.constantFrom(...specialPackets),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc
    .tuple(
      fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '9', '42', '43', '451-', '461-', '4/x,', '42/', '2-', '51-', '5999999999-'),
      fc.jsonValue({ maxDepth: 3 }),
    )
    .map(([prefix, json]) => prefix + JSON.stringify(json)),
  fc
    .tuple(fc.constantFrom('42', '421', '4299999999999999999', '451-', '452-'), fc.string({ maxLength: 20 }), weirdValue)
    .map(([prefix, event, payload]) => `${prefix}${JSON.stringify([event, payload, { _placeholder: true, num: 0 }])}`),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.constant(Buffer.from('binary attachment')),
);

/** Writes one raw Socket.IO packet on a socket.io-client socket's engine.io connection. */
export function sendRawPacket(socket: { io: { engine: unknown } }, packet: string | Buffer): void {
  (socket.io.engine as { send(data: string | Buffer): void }).send(packet);
}

/** Resident memory of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}
