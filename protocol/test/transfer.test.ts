import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ERROR_CODES,
  FILE_CHANNEL_PREFIX,
  MAX_FRAME_BYTES,
  parseAgentFileFrame,
  parseConsoleFileFrame,
  TRANSFER_ACK_BYTES,
  TRANSFER_BUFFER_HIGH_BYTES,
  TRANSFER_BUFFER_LOW_BYTES,
  TRANSFER_CHUNK_BYTES,
  TRANSFER_WINDOW_BYTES,
} from '@tether/protocol';

const sha = 'a'.repeat(64);

test('transfer credit: an ack comes before the sender runs dry, a chunk fits a frame and an ack, the window is a few dozen chunks', () => {
  assert.ok(TRANSFER_ACK_BYTES <= TRANSFER_WINDOW_BYTES / 2);
  assert.ok(TRANSFER_CHUNK_BYTES <= MAX_FRAME_BYTES);
  assert.ok(TRANSFER_CHUNK_BYTES <= TRANSFER_ACK_BYTES);
  assert.ok(TRANSFER_WINDOW_BYTES / TRANSFER_CHUNK_BYTES <= 32);
  assert.ok(TRANSFER_BUFFER_LOW_BYTES < TRANSFER_BUFFER_HIGH_BYTES);
  assert.ok(TRANSFER_BUFFER_HIGH_BYTES <= TRANSFER_WINDOW_BYTES);
});

test('file channels have their own label prefix', () => {
  assert.equal(FILE_CHANNEL_PREFIX, 'file:');
});

test('every message a console sends on a file: channel parses, and binary frames are bytes', () => {
  const valid = [
    { type: 'offer', direction: 'upload', sessionId: 's1', name: 'a.txt', size: 0, overwrite: false },
    { type: 'offer', direction: 'upload', sessionId: 's1', dir: '/home/plc', name: 'a.txt', size: 2 ** 40, overwrite: true },
    { type: 'offer', direction: 'download', sessionId: 's1', path: 'logs/app.log' },
    { type: 'list', sessionId: 's1' },
    { type: 'list', sessionId: 's1', path: '/var/log', prefix: 'app' },
    { type: 'ack', bytes: 131072 },
    { type: 'done', bytes: 10, sha256: sha },
    { type: 'cancel' },
    { type: 'cancel', reason: 'cancelled by the user' },
  ];
  for (const message of valid) {
    const parsed = parseConsoleFileFrame(JSON.stringify(message));
    assert.ok(parsed.ok && parsed.value.kind === 'message', JSON.stringify(message));
  }
  const bytes = parseConsoleFileFrame(new Uint8Array([1, 2, 3]));
  assert.ok(bytes.ok && bytes.value.kind === 'bytes' && bytes.value.bytes.length === 3);
});

test('what the agent sends on a file: channel parses', () => {
  const valid = [
    { type: 'accept', path: '/home/plc/a.txt' },
    { type: 'accept', path: '/home/plc/logs', kind: 'directory', size: null, name: 'logs.tar' },
    {
      type: 'listing',
      path: '/home/plc',
      cwd: '/home/plc',
      entries: [
        { name: 'a', kind: 'file' },
        { name: 'b', kind: 'directory', link: true },
      ],
      truncated: false,
      allowed: { upload: true, download: true, maxBytes: 0 },
    },
    { type: 'listing', path: '/', entries: [], truncated: false, allowed: { upload: false, download: true, maxBytes: 1024 } },
    { type: 'ack', bytes: 1 },
    { type: 'done', bytes: 0, sha256: sha, path: '/home/plc/a.txt' },
    { type: 'cancel', reason: 'nothing from the console for 60 s' },
    { type: 'error', code: 'FILE_EXISTS', message: 'exists', fatal: true },
  ];
  for (const message of valid) assert.ok(parseAgentFileFrame(JSON.stringify(message)).ok, JSON.stringify(message));
});

test('malformed transfer messages are BAD_MESSAGE: wrong direction, NUL in a path, a size that is not an exact integer, a digest that is not hex', () => {
  const invalid = [
    { type: 'offer', direction: 'sideways', sessionId: 's1', path: 'x' },
    { type: 'offer', direction: 'download', sessionId: 's1', path: 'a\0b' },
    { type: 'offer', direction: 'download', sessionId: 's1', path: '' },
    { type: 'offer', direction: 'upload', sessionId: 's1', name: 'a', size: -1, overwrite: false },
    { type: 'offer', direction: 'upload', sessionId: 's1', name: 'a', size: 2 ** 53, overwrite: false },
    { type: 'offer', direction: 'upload', sessionId: 's1', name: 'a', size: 1.5, overwrite: false },
    { type: 'offer', direction: 'upload', sessionId: 's1', name: 'a', size: 1 },
    { type: 'offer', direction: 'upload', sessionId: '../x', name: 'a', size: 1, overwrite: false },
    { type: 'done', bytes: 1, sha256: 'A'.repeat(64) },
    { type: 'done', bytes: 1, sha256: 'abc' },
    { type: 'ack', bytes: 0 },
    { type: 'accept', path: '/x' },
  ];
  for (const message of invalid) {
    const parsed = parseConsoleFileFrame(JSON.stringify(message));
    assert.ok(!parsed.ok && parsed.error.code === 'BAD_MESSAGE', JSON.stringify(message));
  }
  const tooLarge = parseConsoleFileFrame(new Uint8Array(MAX_FRAME_BYTES + 1));
  assert.ok(!tooLarge.ok && tooLarge.error.code === 'MESSAGE_TOO_LARGE');
});

test('the transfer error codes are known codes', () => {
  for (const code of [
    'TRANSFER_NOT_ALLOWED',
    'FILE_TOO_LARGE',
    'BAD_PATH',
    'FILE_NOT_FOUND',
    'FILE_EXISTS',
    'PERMISSION_DENIED',
    'NO_SPACE',
    'DIGEST_MISMATCH',
    'TRANSFER_FAILED',
  ]) {
    assert.ok((ERROR_CODES as readonly string[]).includes(code), code);
  }
});
