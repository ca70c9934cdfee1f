/**
 * The console's keepalive (renderer/src/connection/keepalive.ts) on a clock the test drives: when silence
 * counts as a lost data path, and when it must not. The real data path is exercised by
 * test/e2e/network-faults.test.ts, which stalls SCTP while ICE stays up.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { KEEPALIVE_UNANSWERED_NOTICE_MS, Keepalive } from '../../../renderer/src/connection/keepalive.js';

function harness(t: TestContext, timeoutMs = 15_000) {
  // The unanswered-ping notice runs on its own timer; a mocked one never fires unless a test advances it.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 0;
  const pings: number[] = [];
  const silences: number[] = [];
  const keepalive = new Keepalive(
    () => pings.push(now),
    (ms, probed) => silences.push(probed ? -ms : ms),
    { intervalMs: 5_000, timeoutMs, now: () => now },
  );
  const at = (t: number) => {
    now = t;
    keepalive.tick();
  };
  return { keepalive, pings, silences, at };
}

test('an agent that answers every ping is never silent', (t) => {
  const { keepalive, pings, silences, at } = harness(t);
  for (let t = 0; t <= 120_000; t += 5_000) {
    at(t);
    keepalive.heard();
  }
  assert.equal(pings.length, 25);
  assert.deepEqual(silences, []);
});

test('nothing heard after a ping for the timeout: silent once, with the time since that ping, and no more pings', (t) => {
  const { pings, silences, at } = harness(t);
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

test('anything heard, not only a pong, answers every ping sent before it', (t) => {
  const { keepalive, silences, at } = harness(t);
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

test('a throttled page that pings late does not take its own late ping for silence', (t) => {
  const { keepalive, silences, at } = harness(t);
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

/**
 * A keepalive driven by its own timers on a test clock: `advance(to)` moves the clock in 100 ms
 * steps and runs the timers due, so every report reads the time it was made at. `log` has the
 * pings, the reports of an unanswered ping and the silence, in order.
 */
function running(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  let now = 0;
  const log: string[] = [];
  const keepalive = new Keepalive(
    () => log.push(`ping@${now}`),
    (ms) => log.push(`silent ${ms}`),
    { intervalMs: 5_000, timeoutMs: 15_000, now: () => now },
  );
  keepalive.onUnanswered((ms) => log.push(ms === undefined ? `answered@${now}` : `unanswered ${ms}`));
  const advance = (to: number) => {
    while (now < to) {
      now += 100;
      t.mock.timers.tick(100);
    }
  };
  keepalive.start();
  t.after(() => keepalive.dispose());
  return { keepalive, log, advance };
}

test('the notice is well under the timeout', () => {
  assert.ok(KEEPALIVE_UNANSWERED_NOTICE_MS >= 2_000 && KEEPALIVE_UNANSWERED_NOTICE_MS <= 5_000);
});

test('a ping unanswered for 3 s is reported, again each second, and the report ends the moment anything is heard', (t) => {
  const { keepalive, log, advance } = running(t);
  advance(7_900);
  assert.deepEqual(log, ['ping@5000'], 'not yet: 2.9 s since the ping');
  assert.equal(keepalive.unansweredMs, undefined);
  advance(10_000);
  assert.deepEqual(
    log,
    ['ping@5000', 'unanswered 3000', 'unanswered 4000', 'ping@10000', 'unanswered 5000'],
    'counted from the first unanswered ping, not the last',
  );
  assert.equal(keepalive.unansweredMs, 5_000);
  advance(10_500);
  keepalive.heard();
  assert.deepEqual(log.slice(5), ['answered@10500']);
  assert.equal(keepalive.unansweredMs, undefined);
  advance(17_900);
  assert.deepEqual(log.slice(6), ['ping@15000'], 'no report between the answer and 3 s after the next unanswered ping');
  advance(18_000);
  assert.deepEqual(log.slice(7), ['unanswered 3000']);
  keepalive.heard();
  keepalive.heard();
  assert.deepEqual(log.slice(8), ['answered@18000'], 'the end of a report is said once');
});

test('an agent that answers each ping within the notice is never reported', (t) => {
  const { keepalive, log, advance } = running(t);
  for (let at = 5_000; at <= 60_000; at += 5_000) {
    advance(at + 2_900);
    keepalive.heard();
  }
  advance(64_900);
  assert.ok(
    log.every((entry) => entry.startsWith('ping@')),
    log.join(', '),
  );
});

test('an agent that never answers: the report counts up to the timeout, then ends just before the silence', (t) => {
  const { log, advance } = running(t);
  advance(25_000);
  const counts = Array.from({ length: 12 }, (_, i) => `unanswered ${(i + 3) * 1_000}`);
  assert.deepEqual(
    log.filter((entry) => !entry.startsWith('ping@')),
    [...counts, 'answered@20000', 'silent 15000'],
    'the sign gives way to the lost connection; the timeout is the same as without it',
  );
  assert.deepEqual(
    log.filter((entry) => entry.startsWith('ping@')),
    ['ping@5000', 'ping@10000', 'ping@15000'],
  );
});

test('dispose ends a report and its timer', (t) => {
  const { keepalive, log, advance } = running(t);
  advance(9_000);
  keepalive.dispose();
  advance(30_000);
  assert.deepEqual(log, ['ping@5000', 'unanswered 3000', 'unanswered 4000', 'answered@9000']);
});

test('a probe: a ping at once, and silent after its grace unless something is heard; one heard goes on', (t) => {
  const { keepalive, pings, silences, at } = harness(t);
  at(0);
  keepalive.heard();
  keepalive.probe(3_000);
  assert.equal(pings.length, 2, 'pinged at once');
  keepalive.heard();
  t.mock.timers.tick(3_000);
  assert.deepEqual(silences, [], 'it answered: not silent');
  keepalive.probe(3_000);
  t.mock.timers.tick(2_999);
  assert.deepEqual(silences, []);
  t.mock.timers.tick(1);
  assert.equal(silences.length, 1, 'silent once the grace is over');
  at(5_000);
  assert.equal(pings.length, 3, 'and no more pings');
});
