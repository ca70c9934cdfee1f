import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fuzzParameters } from '../../harness/fuzz.js';
import { OutputLog } from '../src/output-log.js';

const bytes = (text: string) => Buffer.from(text);

test('numbers bytes from the start of the session and reads from any held offset', () => {
  const log = new OutputLog(100);
  log.append(bytes('hello '));
  log.append(bytes('world'));
  assert.equal(log.end, 11);
  assert.equal(log.read(0, 100).toString(), 'hello world');
  assert.equal(log.read(3, 5).toString(), 'lo wo');
  assert.equal(log.read(6, 100).toString(), 'world');
  assert.equal(log.read(11, 100).length, 0);
});

test('keeps only the newest `capacity` bytes, splitting a chunk where needed', () => {
  const log = new OutputLog(10);
  log.append(bytes('0123456789'));
  log.append(bytes('abcd'));
  assert.equal(log.start, 4);
  assert.equal(log.size, 10);
  assert.equal(log.read(4, 100).toString(), '456789abcd');
  log.append(bytes('x'.repeat(25)));
  assert.equal(log.start, 29);
  assert.equal(log.read(29, 100).toString(), 'x'.repeat(10));
  assert.throws(() => log.read(3, 1), RangeError);
  assert.throws(() => log.read(40, 1), RangeError);
});

test('a resume point past the start loses nothing; before it, the gap is the loss', () => {
  const log = new OutputLog(10);
  log.append(bytes('a'.repeat(30)));
  assert.deepEqual(log.resumePoint(25), { from: 25, lost: 0 });
  assert.deepEqual(log.resumePoint(5), { from: 20, lost: 15 });
});

test('reads across many small chunks return exactly the bytes asked for', () => {
  const log = new OutputLog(1000);
  let all = '';
  for (let i = 0; i < 300; i++) {
    const piece = String(i % 10).repeat((i % 7) + 1);
    log.append(bytes(piece));
    all += piece;
  }
  const kept = all.slice(all.length - 1000);
  for (const [from, max] of [
    [0, 1000],
    [1, 17],
    [500, 3],
    [999, 10],
    [250, 400],
  ] as const) {
    assert.equal(log.read(log.start + from, max).toString(), kept.slice(from, from + max), `${from}+${max}`);
  }
});

test('any sequence of chunks: every held byte reads back as written, and memory stays within two blocks of the capacity', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 200_000 }),
      fc.array(fc.integer({ min: 0, max: 150_000 }), { minLength: 1, maxLength: 60 }),
      fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 100_000 })), { maxLength: 10 }),
      (capacity, sizes, reads) => {
        const log = new OutputLog(capacity);
        let written = 0;
        // byte n of the session is n % 251, so any misplaced byte shows
        const byteAt = (n: number) => n % 251;
        for (const size of sizes) {
          const chunk = Buffer.alloc(size);
          for (let i = 0; i < size; i++) chunk[i] = byteAt(written + i);
          log.append(chunk);
          written += size;
          assert.equal(log.end, written);
          assert.equal(log.start, Math.max(0, written - capacity));
          assert.ok(log.allocated <= capacity + 2 * 64 * 1024, `${log.allocated} bytes held for a capacity of ${capacity}`);
        }
        for (const [where, max] of reads) {
          const from = log.start + Math.floor(where * log.size);
          const got = log.read(from, max);
          assert.equal(got.length, Math.min(max, log.end - from));
          for (let i = 0; i < got.length; i++) if (got[i] !== byteAt(from + i)) assert.fail(`byte ${from + i} read as ${got[i]}`);
        }
      },
    ),
    fuzzParameters(200),
  );
});

test('a megabyte of PTY-sized chunks is held in a few blocks, not one object per chunk', () => {
  const log = new OutputLog(1024 * 1024);
  const chunk = Buffer.alloc(96, 'x');
  for (let i = 0; i < 20_000; i++) log.append(Buffer.from(chunk)); // a new buffer each, as a stream delivers them
  assert.equal(log.size, 1024 * 1024);
  assert.ok(log.pieces <= 18, `${log.pieces} buffers`);
  assert.ok(log.allocated <= 1024 * 1024 + 2 * 64 * 1024, `${log.allocated} bytes`);
  assert.equal(log.read(log.start, 32 * 1024).length, 32 * 1024);
});

test('what a read returned stays as it was while the log goes on', () => {
  const log = new OutputLog(100_000);
  log.append(Buffer.from('abc'));
  const early = log.read(0, 3);
  for (let i = 0; i < 1000; i++) log.append(Buffer.alloc(50, i % 256));
  assert.equal(early.toString(), 'abc');
});
