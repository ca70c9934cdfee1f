/**
 * One terminal tab (renderer/src/tabs/terminal-tab.ts) driven by an in-memory session and
 * connection, in Node: what it shows when its path is lost and while it reconnects, when the shell
 * comes back or is gone, when the shell exits or the agent stops, what it asks before closing, and
 * what it says of keys typed meanwhile. The same tab runs against a real agent in Chromium in
 * test/e2e/console-*.test.ts; these need neither.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { TerminalTab } from '../../../renderer/src/tabs/terminal-tab.js';
import { FakeConnection, FakeTabPanel } from './support/fake-tab-panel.js';
import { fakeSessions } from './support/fake-terminal-session.js';

const START = Date.UTC(2030, 0, 2, 3, 4, 5);

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START }));
afterEach(() => mock.timers.reset());

/** A tab on plc-1 @ line 3, following no connection yet. */
function newTab() {
  const panel = new FakeTabPanel();
  const sessions = fakeSessions();
  const tab = new TerminalTab(panel, { agentId: 'a1', agentName: 'line 3', target: 'plc-1' }, sessions.factory);
  return { panel, sessions, tab };
}

/** A tab on plc-1 @ line 3 whose connection is ready and whose shell is open. */
function openTab() {
  const { panel, sessions, tab } = newTab();
  const connection = new FakeConnection();
  tab.follow(connection);
  connection.set({ kind: 'signaling' });
  assert.equal(tab.state, 'opening');
  connection.set({ kind: 'ready' });
  const session = sessions.last();
  assert.equal(session.carrier, connection, 'the session is carried by the connection the tab follows');
  assert.equal(panel.bound, session, 'the terminal shows the session');
  session.opened('s-1', 300_000);
  assert.equal(tab.state, 'open');
  return { tab, panel, sessions, session, connection };
}

/** The same tab after its path died: the session detached, the connection failed. */
function lostTab() {
  const parts = openTab();
  parts.connection.set({ kind: 'failed', reason: 'ICE failed' });
  return parts;
}

test('a lost path: the tab says it reconnects, pauses input, and resumes on the next ready connection', () => {
  const { tab, panel, session, sessions } = lostTab();
  assert.equal(tab.state, 'reconnecting');
  assert.equal(session.state, 'detached', 'the shell is left on the agent, not closed');
  assert.deepEqual(panel.notices, ['[tether: connection lost (ICE failed); reconnecting — input is paused]']);
  mock.timers.tick(6_000);
  tab.tick();
  const banner = panel.banner();
  assert.equal(banner?.kind, 'info');
  assert.equal(banner?.title, 'Connection lost — reconnecting (attempt 1)… 6 s');
  assert.match(
    banner?.detail ?? '',
    /^ICE failed\. line 3 unreachable since \d\d:\d\d:\d\d; the agent keeps the shell for up to 4 min 54 s more if it is still running\. Input is paused/,
  );

  const next = new FakeConnection();
  tab.resumeOn(next);
  assert.equal(session.resumedOn.length, 0, 'nothing before the connection is ready');
  next.set({ kind: 'ready' });
  mock.timers.tick(0);
  assert.deepEqual(session.resumedOn, [next], 'the same session is resumed on the new connection');
  assert.equal(tab.reconnection.resumeAttempts, 1);
  assert.equal(sessions.made.length, 1, 'no new shell');
});

test('resumed: the banner goes, and the tab says after how long and what was lost', () => {
  const { tab, panel, session } = lostTab();
  const next = new FakeConnection();
  tab.resumeOn(next);
  next.set({ kind: 'ready' });
  mock.timers.tick(12_000);
  session.resumed({ lost: 12_345 });
  assert.equal(tab.state, 'open');
  assert.equal(panel.banner(), undefined);
  assert.deepEqual(panel.notices.slice(1), [
    '[tether: 12 345 bytes of output were lost while disconnected]',
    '[tether: reconnected after 12 s; the same shell goes on]',
  ]);
  assert.equal(tab.resumeInfo?.count, 1);
  assert.equal(tab.reconnection.reconnecting, false);
});

test('gone: a refused resume ends the tab with Open a new session, which asks the app for a new shell', () => {
  const { tab, panel, session } = lostTab();
  const next = new FakeConnection();
  tab.resumeOn(next);
  next.set({ kind: 'ready' });
  mock.timers.tick(0);
  session.error({ code: 'SESSION_NOT_FOUND', message: 'the agent has no session s-1', fatal: true });
  assert.equal(tab.state, 'gone');
  assert.equal(tab.reconnection.reconnecting, false);
  const banner = panel.banner();
  assert.equal(banner?.title, 'The shell on plc-1 is gone: the agent restarted or the session expired');
  assert.equal(banner?.action, 'Open a new session');
  let asked = 0;
  tab.onReconnect(() => (asked += 1));
  panel.pressAction();
  assert.equal(asked, 1);
  assert.equal(tab.closeQuestion, undefined, 'nothing runs any more: closing asks nothing');
});

test('exit code: the banner and the status say it, and the output stays', () => {
  const { tab, panel, session } = openTab();
  session.output('bye\r\n');
  session.exit(3);
  assert.equal(tab.state, 'exited');
  assert.equal(tab.exitCode, 3);
  assert.deepEqual(panel.banner(), {
    kind: 'exit',
    title: 'The shell exited (exit code 3)',
    detail: 'The output stays readable here.',
    action: 'Open a new session',
  });
  session.exit(null);
  assert.equal(panel.banner()?.title, 'The shell exited (exit code unknown)');
});

test('keys typed after the shell ended: the tab says once that they go nowhere, and again after the next ending', () => {
  const { tab, panel, session } = openTab();
  panel.type(); // while the shell runs, nothing to say (the view refuses only what no session takes)
  assert.deepEqual(panel.notices, []);
  session.exit(0);
  panel.type();
  panel.type();
  assert.deepEqual(panel.notices, ['[the shell has ended: what is typed here goes nowhere; the button above opens a new shell]']);
  const connection = new FakeConnection();
  tab.follow(connection);
  panel.type(); // opening: the keys wait for the shell, nothing to say
  assert.equal(panel.notices.length, 1);
  tab.dispose();
});

test("a restart the agent reported outweighs the list's older states until the list says it runs, or for 10 s", () => {
  const { tab, panel, session } = openTab();
  tab.setTargetState('running');
  session.exit(137, 'restarted');
  // The list's states come on another channel: one from before the restart may come after the exit.
  tab.setTargetState('stopped');
  assert.equal(panel.banner()?.title, 'Container plc-1 restarted', 'not turned into "is stopped" by a state from before the restart');
  tab.setTargetState('running');
  assert.equal(panel.banner()?.title, 'Container plc-1 restarted');
  // Once it has run again, a stop is news.
  tab.setTargetState('stopped');
  assert.equal(panel.banner()?.title, 'Container plc-1 is stopped');

  // A container that does not come back: after 10 s the list's state is shown.
  const other = openTab();
  other.session.exit(137, 'restarted');
  other.tab.setTargetState('stopped');
  assert.equal(other.panel.banner()?.title, 'Container plc-1 restarted');
  mock.timers.tick(10_000);
  assert.equal(other.panel.banner()?.title, 'Container plc-1 is stopped');
});

test('a connection that fails after the open was sent, before `opened`: the tab follows the next connection and opens a shell there', () => {
  const { sessions, tab } = newTab();
  const first = new FakeConnection();
  tab.follow(first);
  first.set({ kind: 'ready' });
  const asked = sessions.last();
  first.set({ kind: 'failed', reason: 'ICE failed' });
  assert.equal(tab.state, 'failed');
  assert.equal(tab.setupFailed, true, 'nothing was lost: the shell never opened in this tab');

  const second = new FakeConnection();
  tab.follow(second);
  assert.equal(tab.state, 'opening');
  second.set({ kind: 'ready' });
  const session = sessions.last();
  assert.notEqual(session, asked, 'a new shell is asked for');
  assert.equal(session.carrier, second);
  session.opened('s-2', 300_000);
  assert.equal(tab.state, 'open');
});

test('close confirmation: asked while the shell runs or waits to resume, not before it opens or after it ends', () => {
  const { tab: opening } = newTab();
  assert.equal(opening.closeQuestion, undefined, 'no shell yet');

  const { tab, session, connection } = openTab();
  assert.deepEqual(tab.closeQuestion, {
    title: 'Close plc-1 @ line 3?',
    message: 'The shell in plc-1 on line 3 is still running. Closing the tab ends it and every program it started.',
    accept: 'Close tab',
  });
  tab.customTitle = 'boiler';
  assert.equal(tab.closeQuestion?.title, 'Close boiler?');
  connection.set({ kind: 'failed', reason: 'ICE failed' });
  assert.equal(tab.state, 'reconnecting');
  assert.ok(tab.closeQuestion, 'a shell waiting on the agent still runs');

  // Closed while reconnecting: the shell is handed over to be ended on the next connection.
  let abandoned: unknown;
  tab.onAbandon((s) => (abandoned = s));
  tab.dispose();
  assert.equal(abandoned, session);
  assert.equal(session.closeAsked, false, '`close` cannot reach the agent now');
});

test('dropped input: keys typed while reconnecting are counted, shown in the banner, and never sent', () => {
  const { tab, panel, session } = lostTab();
  session.write('ls -l\r');
  session.write('x');
  assert.deepEqual(session.typed, []);
  assert.equal(tab.reconnection.droppedInput, 7);
  assert.match(
    panel.banner()?.detail ?? '',
    /Input is paused: keys typed now are dropped, not sent later \(7 bytes of input dropped so far\)\.$/,
  );
  session.resumed({ undelivered: { bytes: 3, tail: new TextEncoder().encode('pwd') } });
  // Once the banner is gone, the terminal keeps what was dropped.
  assert.ok(panel.notices.includes('[tether: 7 bytes typed while reconnecting were not sent: type it again]'), panel.notices.join('\n'));
  assert.equal(panel.notices.at(-1), '[tether: 3 bytes typed just before the drop never reached the shell and were not sent again: pwd]');
  assert.deepEqual(tab.reconnection.undeliveredInput, ['pwd']);
});

test('the agent stopped: the tab ends at once and says the shell was ended', () => {
  const { tab, panel, session, connection } = openTab();
  connection.set({ kind: 'failed', reason: 'the agent is shutting down', code: 'AGENT_STOPPED' });
  assert.equal(tab.state, 'failed');
  assert.equal(session.state, 'closed');
  assert.equal(panel.banner()?.title, 'The agent line 3 stopped; the shell was ended');
});

test('a second resume waits for the backoff, and giving up ends the tab as a lost connection', () => {
  const { tab, panel, session } = lostTab();
  const next = new FakeConnection();
  tab.resumeOn(next);
  next.set({ kind: 'ready' });
  mock.timers.tick(0);
  session.detach('the channel closed during the resume');
  assert.equal(tab.state, 'reconnecting');
  assert.equal(panel.notices.length, 1, 'the same loss: no second notice');
  tab.resumeOn(next);
  mock.timers.tick(499);
  assert.equal(session.resumedOn.length, 1, 'not before 0.5 s');
  mock.timers.tick(1);
  assert.equal(session.resumedOn.length, 2);
  tab.giveUp('line 3 could not be reached again before it dropped the shell');
  assert.equal(tab.state, 'failed');
  assert.equal(panel.banner()?.title, 'Connection to line 3 lost');
});

test('SESSION_LIMIT: the banner says to close another session and offers no Reconnect, which would be refused the same way', () => {
  const { panel, sessions, tab } = newTab();
  const connection = new FakeConnection();
  tab.follow(connection);
  connection.set({ kind: 'ready' });
  sessions.last().error({
    code: 'SESSION_LIMIT',
    message: 'Container "plc-1" already has 4 session(s), the most this agent allows; close one first.',
    fatal: true,
  });
  assert.ok(tab.state === 'failed' || tab.state === 'closed', tab.state);
  const banner = panel.banner();
  assert.equal(banner?.kind, 'error');
  assert.equal(banner?.action, undefined, 'no Reconnect');
  assert.equal(banner?.title, 'plc-1 has as many sessions as its agent allows');
  assert.match(banner?.detail ?? '', /Close another session on plc-1/);
});

test('an agent that leaves a ping unanswered: the open tab shows for how long, and stops the moment it answers', () => {
  const { tab, panel, connection } = openTab();
  let changes = 0;
  tab.onChange(() => changes++);
  assert.equal(panel.facts?.unansweredMs, undefined);
  connection.unanswered(3_000);
  assert.equal(tab.unansweredMs, 3_000);
  assert.equal(panel.facts?.unansweredMs, 3_000, 'drawn at once');
  connection.unanswered(4_000);
  assert.equal(panel.facts?.unansweredMs, 4_000, 'counted up');
  assert.equal(changes, 2, 'the tab strip hears of each step');
  assert.equal(panel.banner(), undefined, 'a quiet sign, not a banner: the connection is not lost');
  connection.unanswered(undefined);
  assert.equal(panel.facts?.unansweredMs, undefined);
  assert.equal(tab.state, 'open');
});

test('a tab that is not open shows no unanswered ping: the reconnecting banner says what there is to say', () => {
  const { tab, panel, connection } = openTab();
  connection.unanswered(14_000);
  connection.set({ kind: 'failed', reason: 'no answer from the agent on the data channels for 15 s' });
  assert.equal(tab.state, 'reconnecting');
  assert.equal(tab.unansweredMs, undefined);
  assert.equal(panel.facts?.unansweredMs, undefined);
  assert.equal(panel.banner()?.kind, 'info');
});

test('running: the tab shows what the agent could not apply to the shell, and keeps its host pid', () => {
  const { tab, panel, session } = openTab();
  assert.equal(tab.hostPid, undefined, 'not before `running`');
  session.running(4242, ['[tether: this shell runs at normal CPU priority: the agent could not lower it]']);
  assert.equal(tab.hostPid, 4242);
  assert.deepEqual(panel.notices, ['[tether: this shell runs at normal CPU priority: the agent could not lower it]']);
});
