import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeferredWork } from '../src/deferred-work.js';

test('deferred work runs every task in order, a chunk per turn, with timers running between chunks', async () => {
  const errors: unknown[] = [];
  const work = new DeferredWork((error) => errors.push(error), 10);
  const ran: number[] = [];
  const timerSawRan: number[] = [];
  for (let i = 0; i < 35; i++) work.push(() => ran.push(i));
  // Queued nothing runs at once: the caller (a Socket.IO close) returns first.
  assert.deepEqual(ran, []);
  assert.equal(work.pending, 35);
  // A timer due now runs before the work is done: the chunks leave the loop to timers and I/O.
  setTimeout(() => timerSawRan.push(ran.length), 0);
  await work.idle();
  assert.deepEqual(
    ran,
    Array.from({ length: 35 }, (_, i) => i),
  );
  assert.equal(timerSawRan.length, 1);
  assert.ok(timerSawRan[0]! < 35, `the timer ran only after all ${timerSawRan[0]} tasks`);
  assert.equal(timerSawRan[0]! % 10, 0, 'between chunks');
  assert.equal(work.pending, 0);
  assert.deepEqual(errors, []);
});

test('a task that throws is reported and the others still run; tasks queued by tasks run too', async () => {
  const errors: unknown[] = [];
  const work = new DeferredWork((error) => errors.push(error), 2);
  const ran: string[] = [];
  work.push(() => ran.push('a'));
  work.push(() => {
    throw new Error('boom');
  });
  work.push(() => {
    ran.push('c');
    work.push(() => ran.push('queued by c'));
  });
  work.push(() => ran.push('d'));
  await work.idle();
  assert.deepEqual(ran, ['a', 'c', 'd', 'queued by c']);
  assert.deepEqual(
    errors.map((error) => (error as Error).message),
    ['boom'],
  );
  // Idle with nothing queued resolves at once, and the queue works again afterwards.
  await work.idle();
  work.push(() => ran.push('e'));
  await work.idle();
  assert.equal(ran.at(-1), 'e');
});
