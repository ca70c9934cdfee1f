import assert from 'node:assert/strict';
import { test } from 'node:test';
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
