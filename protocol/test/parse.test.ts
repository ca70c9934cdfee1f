import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import {
  encodeMessage,
  MAX_FRAME_BYTES,
  parseAgentControl,
  parseAgentTtyFrame,
  parseConsoleControl,
  parseConsoleTtyFrame,
  parseJson,
  parseValue,
  ResizeMessage,
  utf8Length,
  type Frame,
} from '@tether/protocol';

function code(result: { ok: boolean; error?: { code: string } }): string | undefined {
  return result.ok ? undefined : result.error?.code;
}

test('text that is not a JSON object of a known type is BAD_MESSAGE', () => {
  for (const text of [
    '',
    'not json',
    '{',
    '[]',
    '[{"type":"close"}]',
    '42',
    'null',
    'true',
    '"close"',
    '{}',
    '{"type":"nope"}',
    '{"type":null}',
    '{"type":"close"',
    '\u0000',
  ]) {
    assert.equal(code(parseConsoleTtyFrame(text)), 'BAD_MESSAGE', JSON.stringify(text));
  }
});

test('a text frame over MAX_FRAME_BYTES is MESSAGE_TOO_LARGE, counted in UTF-8 bytes', () => {
  const padding = (n: number) => encodeMessage({ type: 'input', data: 'x'.repeat(n) });
  const overhead = padding(0).length;
  assert.equal(parseConsoleTtyFrame(padding(MAX_FRAME_BYTES - overhead)).ok, true, 'a frame of exactly MAX_FRAME_BYTES');
  assert.equal(code(parseConsoleTtyFrame(padding(MAX_FRAME_BYTES - overhead + 1))), 'MESSAGE_TOO_LARGE');
  // 'é' is 2 bytes in UTF-8: half as many characters already exceed the limit.
  const wide = encodeMessage({ type: 'input', data: 'é'.repeat(MAX_FRAME_BYTES / 2) });
  assert.ok(wide.length < MAX_FRAME_BYTES * 2);
  assert.equal(code(parseConsoleTtyFrame(wide)), 'MESSAGE_TOO_LARGE');
  // The size is checked before parsing: an oversized frame that is not JSON is still too large.
  assert.equal(code(parseConsoleControl('x'.repeat(MAX_FRAME_BYTES + 1))), 'MESSAGE_TOO_LARGE');
  assert.equal(code(parseAgentControl('x'.repeat(MAX_FRAME_BYTES + 1))), 'MESSAGE_TOO_LARGE');
});

test('binary frames come back as the same bytes, from buffers and views with offsets', () => {
  const source = new Uint8Array([0, 1, 2, 0xe2, 0x82, 0xac, 0xff, 9]);
  const frames: [string, Frame, number[]][] = [
    ['ArrayBuffer', source.slice().buffer, [...source]],
    ['Uint8Array', source, [...source]],
    ['Uint8Array with offset', source.subarray(3, 6), [0xe2, 0x82, 0xac]],
    ['DataView with offset', new DataView(source.buffer, 2, 3), [2, 0xe2, 0x82]],
    ['Uint16Array view', new Uint16Array(source.buffer, 2, 2), [2, 0xe2, 0x82, 0xac]],
    ['Node Buffer', Buffer.from([7, 8, 9]), [7, 8, 9]],
    ['empty', new ArrayBuffer(0), []],
  ];
  for (const [what, frame, expected] of frames) {
    for (const parse of [parseConsoleTtyFrame, parseAgentTtyFrame]) {
      const result = parse(frame);
      assert.ok(result.ok, what);
      assert.equal(result.value.kind, 'bytes', what);
      assert.ok(result.value.kind === 'bytes' && result.value.bytes instanceof Uint8Array);
      assert.deepEqual(result.value.kind === 'bytes' && [...result.value.bytes], expected, what);
    }
  }
});

test('regression: an ArrayBuffer from another realm is read, not taken for an empty view', () => {
  const foreign = runInNewContext('new Uint8Array([1, 2, 3]).buffer') as ArrayBuffer;
  assert.equal(foreign instanceof ArrayBuffer, false);
  const result = parseAgentTtyFrame(foreign);
  assert.ok(result.ok && result.value.kind === 'bytes');
  assert.deepEqual([...result.value.bytes], [1, 2, 3]);
});

test('a binary frame over MAX_FRAME_BYTES is MESSAGE_TOO_LARGE; one at the limit is accepted', () => {
  assert.equal(parseConsoleTtyFrame(new Uint8Array(MAX_FRAME_BYTES)).ok, true);
  assert.equal(code(parseConsoleTtyFrame(new Uint8Array(MAX_FRAME_BYTES + 1))), 'MESSAGE_TOO_LARGE');
  assert.equal(code(parseAgentTtyFrame(new ArrayBuffer(MAX_FRAME_BYTES + 1))), 'MESSAGE_TOO_LARGE');
  const big = new Uint8Array(MAX_FRAME_BYTES + 10);
  assert.equal(parseAgentTtyFrame(big.subarray(10)).ok, true, 'only the view counts');
});

test('utf8Length equals TextEncoder for any string, surrogate pairs and lone surrogates included', () => {
  const encoder = new TextEncoder();
  const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
  const surrogateHeavy = fc.constantFrom('\ud83d', '\ude00', '😀', 'é', '€', 'a', '\u0800', '\u07ff', '\uffff');
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: anyCodeUnit }), fc.string({ unit: surrogateHeavy })),
      (text) => utf8Length(text) === encoder.encode(text).byteLength,
    ),
    { numRuns: 2000 },
  );
  for (const text of ['', 'a', '\ud800', '\ud800\u00e9', '\ud800\u4e00', '\udc00\ud800', '😀', '\ud83d\ude00\ud83d']) {
    assert.equal(utf8Length(text), encoder.encode(text).byteLength, JSON.stringify(text));
  }
});

test('parseValue checks decoded values, and refuses what JSON could not carry', () => {
  assert.deepEqual(parseValue(ResizeMessage, { type: 'resize', cols: 80, rows: 24 }), {
    ok: true,
    value: { type: 'resize', cols: 80, rows: 24 },
  });
  for (const cols of [Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 1001, 80.5, '80', null, undefined, 2 ** 53]) {
    assert.equal(code(parseValue(ResizeMessage, { type: 'resize', cols, rows: 24 })), 'BAD_MESSAGE', String(cols));
  }
});

test('a refusal says where the input was wrong', () => {
  const result = parseJson(ResizeMessage, '{"type":"resize","cols":80,"rows":0}');
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.error.message : '', /^rows: /);
  const notJson = parseConsoleTtyFrame('{');
  assert.deepEqual(notJson, { ok: false, error: { code: 'BAD_MESSAGE', message: 'text frame is not valid JSON' } });
});

test('encodeMessage and the parsers round-trip', () => {
  const message = { type: 'open', target: 'plc-runtime', cols: 120, rows: 40 } as const;
  assert.deepEqual(parseConsoleTtyFrame(encodeMessage(message)), { ok: true, value: { kind: 'message', message } });
});
