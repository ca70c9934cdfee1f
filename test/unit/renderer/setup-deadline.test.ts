/**
 * The console's setup timeout (renderer/src/connection/setup-deadline.ts) on mocked timers: each stage gets
 * its own timeout, a setup that keeps advancing gets at most MAX_SETUP_STAGE_TIMEOUTS of them,
 * and the sentence says where it waited; after setups that ran out of time, the next one's timeout
 * grows (reconnect-policy.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RESUME_CONNECT_TIMEOUT_MS, setupTimeoutMs } from '../../../renderer/src/connection/reconnect-policy.js';
import { MAX_SETUP_STAGE_TIMEOUTS, SetupDeadline } from '../../../renderer/src/connection/setup-deadline.js';

test('a stage that does not end in time fails the setup, saying what it waited for and why', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const failures: string[] = [];
  const deadline = new SetupDeadline(10_000, (reason) => failures.push(reason));
  deadline.start();
  deadline.stage('a network path (ICE)', () => 'turn:x refused the credentials');
  t.mock.timers.tick(9_999);
  assert.deepEqual(failures, []);
  t.mock.timers.tick(1);
  assert.deepEqual(failures, [
    'no connection to the agent within 10 s: waited 10 s for a network path (ICE); turn:x refused the credentials',
  ]);
});

test('each stage that begins gets a new timeout, up to the cap for the whole setup', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const failures: string[] = [];
  const deadline = new SetupDeadline(10_000, (reason) => failures.push(reason));
  deadline.start();
  deadline.stage("the agent's answer", () => undefined);
  t.mock.timers.tick(9_000);
  deadline.stage('a network path (ICE)', () => undefined);
  t.mock.timers.tick(9_000);
  deadline.stage('the secure channel (DTLS and hello)', () => undefined);
  t.mock.timers.tick(9_000);
  assert.deepEqual(failures, [], '27 s, every stage within its own 10 s');
  deadline.stage('the secure channel (DTLS and hello)', () => undefined);
  t.mock.timers.tick(10_000 * MAX_SETUP_STAGE_TIMEOUTS - 27_000);
  assert.deepEqual(failures, ['no connection to the agent within 30 s: waited 3 s for the secure channel (DTLS and hello)']);
});

test('clear stops the wait: a setup that is done never fails', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const deadline = new SetupDeadline(10_000, () => assert.fail('no failure after clear'));
  deadline.start();
  deadline.stage('a network path (ICE)', () => undefined);
  deadline.clear();
  t.mock.timers.tick(60_000);
});

test('after attempts that ran out of time, the next setup gets twice the time, up to four times', () => {
  const base = RESUME_CONNECT_TIMEOUT_MS;
  assert.deepEqual(
    [0, 1, 2, 3, 10].map((timedOut) => setupTimeoutMs(base, timedOut)),
    [base, 2 * base, 4 * base, 4 * base, 4 * base],
  );
  assert.equal(setupTimeoutMs(15_000, -1), 15_000, 'no count is no growth');
});
