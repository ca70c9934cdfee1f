/**
 * The console's keepalive (renderer/src/connection/keepalive.ts) on a clock the test drives: when silence
 * counts as a lost data path, and when it must not. The real data path is exercised by
 * test/e2e/network-faults.test.ts, which stalls SCTP while ICE stays up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Keepalive } from '../../../renderer/src/connection/keepalive.js';

function harness(timeoutMs = 15_000) {
  let now = 0;
  const pings: number[] = [];
  const silences: number[] = [];
  const keepalive = new Keepalive(
    () => pings.push(now),
    (ms) => silences.push(ms),
    { intervalMs: 5_000, timeoutMs, now: () => now },
  );
  const at = (t: number) => {
    now = t;
    keepalive.tick();
  };
  return { keepalive, pings, silences, at };
}

test('an agent that answers every ping is never silent', () => {
  const { keepalive, pings, silences, at } = harness();
  for (let t = 0; t <= 120_000; t += 5_000) {
    at(t);
    keepalive.heard();
  }
  assert.equal(pings.length, 25);
  assert.deepEqual(silences, []);
});

test('nothing heard after a ping for the timeout: silent once, with the time since that ping, and no more pings', () => {
  const { pings, silences, at } = harness();
  at(0);
  at(5_000);
  at(10_000);
  assert.deepEqual(silences, [], 'not yet: 10 s since the first unanswered ping');
  at(15_000);
  assert.deepEqual(silences, [15_000]);
  assert.deepEqual(pings, [0, 5_000, 10_000], 'the tick that finds the silence does not ping');
  at(20_000);
  assert.deepEqual(silences, [15_000], 'reported once');
});

test('anything heard, not only a pong, answers every ping sent before it', () => {
  const { keepalive, silences, at } = harness();
  at(0);
  at(5_000);
  at(10_000);
  keepalive.heard(); // terminal output, say
  at(15_000);
  at(25_000);
  assert.deepEqual(silences, [], 'the clock restarts at the first ping after what was heard');
  at(30_000);
  assert.deepEqual(silences, [15_000]);
});

test('a throttled page that pings late does not take its own late ping for silence', () => {
  const { keepalive, silences, at } = harness();
  at(0);
  keepalive.heard();
  // The hidden window's timers run once a minute: the next tick is 60 s later.
  at(60_000);
  assert.deepEqual(silences, [], 'the agent answered the last ping; a minute without pings is not its silence');
  keepalive.heard();
  at(120_000);
  assert.deepEqual(silences, []);
  at(180_000);
  assert.deepEqual(silences, [60_000], 'a ping really left unanswered is still found');
});

test('start runs ticks on the interval, once however often it is called, and dispose stops them', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let pings = 0;
  const keepalive = new Keepalive(
    () => pings++,
    () => assert.fail('not silent'),
    { intervalMs: 5_000, timeoutMs: 15_000 },
  );
  keepalive.start();
  keepalive.start();
  t.mock.timers.tick(5_000);
  keepalive.heard();
  t.mock.timers.tick(5_000);
  keepalive.heard();
  assert.equal(pings, 2, 'one ping per interval');
  keepalive.dispose();
  t.mock.timers.tick(20_000);
  assert.equal(pings, 2, 'no ping after dispose');
});
