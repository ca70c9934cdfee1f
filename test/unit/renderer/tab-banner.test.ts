/**
 * What a tab's banner says when its agent is unreachable and when its agent stopped
 * (renderer/src/tabs/tab-banner.ts): only what the console knows. The same texts are checked in
 * Chromium against a real agent in test/e2e/console-agent-stop.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bannerFor, formatClock, type BannerFacts } from '../../../renderer/src/tabs/tab-banner.js';
import { exitText } from '../../../renderer/src/terminal/error-hints.js';

const base: BannerFacts = {
  target: 'plc-1',
  agentName: 'line 3',
  state: 'open',
  connectionLost: undefined,
  targetState: 'running',
  exitCode: undefined,
  lastError: undefined,
  reconnect: undefined,
  now: Date.UTC(2030, 0, 2, 3, 4, 5),
};

test('an unreachable agent: since when, and that it keeps the shell only if it still runs', () => {
  const since = base.now - 6_000;
  const banner = bannerFor({
    ...base,
    state: 'reconnecting',
    reconnect: { since, reason: 'ICE failed', graceMs: 300_000, state: undefined, resumeAttempts: 1, droppedInput: 0 },
  });
  assert.ok(banner);
  assert.match(banner.title, /^Connection lost — reconnecting \(attempt 1\)… 6 s$/);
  assert.equal(
    banner.detail,
    `ICE failed. line 3 unreachable since ${formatClock(since)}; the agent keeps the shell for up to 4 min 54 s more if it is still running. Input is paused: keys typed now are dropped, not sent later.`,
  );
  assert.doesNotMatch(banner.detail, /keeps running/);
});

test('the agent stopped: the shell was ended, whichever way the tab learnt it', () => {
  const lastError = { code: 'AGENT_STOPPED' as const, message: 'The agent stopped (signal SIGTERM); the shell was ended.', fatal: true };
  for (const state of ['failed', 'gone'] as const) {
    const banner = bannerFor({ ...base, state, lastError, connectionLost: state === 'failed' ? 'the agent stopped' : undefined });
    assert.ok(banner);
    assert.equal(banner.title, 'The agent line 3 stopped; the shell was ended');
    assert.match(banner.detail, /^The agent stopped \(signal SIGTERM\); the shell was ended\. The output above stays readable/);
    assert.equal(banner.action, 'Open a new session');
  }
});

test('formatClock is the local time of day, hours to seconds', () => {
  assert.match(formatClock(base.now), /^\d\d:\d\d:\d\d$/);
});

test("a shell that ended with its container: the banner and the terminal's line say what became of the container", () => {
  const stopped = bannerFor({ ...base, state: 'exited', exitCode: 137, containerFate: 'stopped' });
  assert.equal(stopped?.title, 'Container plc-1 stopped');
  assert.match(stopped!.detail, /^The shell ended with it \(exit code 137\)\. Start the container/);
  const restarted = bannerFor({ ...base, state: 'exited', exitCode: 137, containerFate: 'restarted' });
  assert.equal(restarted?.title, 'Container plc-1 restarted');
  assert.match(restarted!.detail, /It runs again: open a new session/);
  assert.equal(bannerFor({ ...base, state: 'exited', exitCode: 137, containerFate: 'removed' })?.title, 'Container plc-1 was removed');
  // A shell that exited on its own keeps the words it had.
  assert.equal(bannerFor({ ...base, state: 'exited', exitCode: 137 })?.title, 'The shell exited (exit code 137)');
  assert.equal(exitText({ code: 137, container: 'restarted' }), 'the container restarted; the shell ended with it (code 137)');
  assert.equal(exitText({ code: 3 }), 'process exited with code 3');
});

test('a restarted container that the device list shows restarting (a restart policy between end and start) keeps the restart banner', () => {
  // A CI run saw the banner say "restarted", then "is restarting … Start the container on the host".
  const restarting = bannerFor({ ...base, state: 'exited', exitCode: 137, containerFate: 'restarted', targetState: 'restarting' });
  assert.equal(restarting?.title, 'Container plc-1 restarted');
  // Restarting with no word from the agent: Docker starts it, nobody needs to.
  const policy = bannerFor({ ...base, state: 'exited', exitCode: 137, targetState: 'restarting' });
  assert.equal(policy?.title, 'Container plc-1 is restarting');
  assert.match(policy!.detail, /Docker starts the container again \(its restart policy\): open a new session once it runs/);
  // Stopped is still news over an earlier "restarted": it is what holds now.
  assert.equal(
    bannerFor({ ...base, state: 'exited', exitCode: 137, containerFate: 'restarted', targetState: 'exited' })?.title,
    'Container plc-1 is exited',
  );
});

test('a session that failed: "could not open" only when no shell ran; the code in the detail, not the headline', () => {
  const lastError = { code: 'DOCKER_UNAVAILABLE' as const, message: 'The Docker engine did not answer: connect ECONNREFUSED', fatal: true };
  const never = bannerFor({ ...base, state: 'failed', lastError });
  assert.equal(never?.title, 'Could not open plc-1 on line 3');
  assert.match(never!.detail, /check the engine on the host \(DOCKER_UNAVAILABLE\)$/);
  const ran = bannerFor({ ...base, state: 'failed', lastError, sessionOpened: true });
  assert.equal(ran?.title, 'The session in plc-1 on line 3 ended');
  assert.doesNotMatch(ran!.title, /DOCKER_UNAVAILABLE/);
});
