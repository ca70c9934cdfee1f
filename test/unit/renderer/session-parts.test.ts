/**
 * The console's terminal session in Node, over an in-memory data channel
 * (renderer/src/session/webrtc-terminal-session.ts): input held while the terminal opens, cut into
 * frames and counted for a resume; the PTY size sent only when it changed; and what a session
 * error does to a tab's state (tabs/tab-state.ts). The session and the tab run in Chromium against
 * a real agent in test/e2e/console-*.test.ts.
 */
import { MAX_FRAME_BYTES } from '@tether/protocol';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResumeInfo, SessionError } from '../../../renderer/src/session/terminal-session.js';
import { WebRtcTerminalSession } from '../../../renderer/src/session/webrtc-terminal-session.js';
import { stateOnError } from '../../../renderer/src/tabs/tab-state.js';
import { FakeCarrier } from './support/fake-data-channel.js';

const opened = { type: 'opened', sessionId: 's-1', target: { id: 'c1', name: 'plc' }, shell: '/bin/sh', resumeGraceMs: 60_000 } as const;

function session() {
  const carrier = new FakeCarrier();
  const s = new WebRtcTerminalSession({ target: 'plc', carrier });
  const errors: SessionError[] = [];
  const resumes: ResumeInfo[] = [];
  s.onError((error) => errors.push(error));
  s.onResumed((info) => resumes.push(info));
  return { s, carrier, errors, resumes };
}

/** Opens `s` on its carrier's channel: the channel opens, the agent answers `opened`. */
function open({ s, carrier }: ReturnType<typeof session>) {
  s.start();
  carrier.last.open();
  carrier.last.receive(opened);
  return carrier.last;
}

const sizes = (frames: Uint8Array[]) => frames.map((f) => f.byteLength);

test('input held before `opened` is handed back once, and a paste over the bound is refused', () => {
  const parts = session();
  parts.s.start();
  parts.s.write(new Uint8Array(1024 * 1024 - 1));
  parts.s.write(new Uint8Array(2));
  assert.deepEqual(
    parts.errors.map((e) => e.code),
    ['NOT_OPEN'],
  );
  parts.s.write(new Uint8Array(1));
  const channel = parts.carrier.last;
  channel.open();
  channel.receive(opened);
  const held = sizes(channel.inputFrames()).reduce((a, b) => a + b, 0);
  assert.equal(held, 1024 * 1024 - 1 + 1);
  assert.equal(sizes(channel.inputFrames()).at(-1), 1, 'in the order typed');
  channel.receive(opened);
  assert.equal(
    sizes(channel.inputFrames()).reduce((a, b) => a + b, 0),
    held,
    'handed over once',
  );
  parts.s.dispose();
});

test('input is cut into frames no larger than MAX_FRAME_BYTES, and only frames sent count for a resume', () => {
  const parts = session();
  const channel = open(parts);
  parts.s.write(new Uint8Array(MAX_FRAME_BYTES * 2 + 5).fill(0x61));
  assert.deepEqual(sizes(channel.inputFrames()), [MAX_FRAME_BYTES, MAX_FRAME_BYTES, 5]);
  channel.close(); // the path died: the agent keeps the shell, the session detaches
  assert.equal(parts.s.detached, true);
  parts.s.resume(parts.carrier);
  parts.carrier.last.open();
  parts.carrier.last.receive({ ...opened, resumed: { from: 0, lost: 0, inputReceived: MAX_FRAME_BYTES } });
  assert.equal(parts.resumes[0]?.undelivered?.bytes, MAX_FRAME_BYTES + 5);
  parts.s.dispose();

  const failing = session();
  const dead = open(failing);
  dead.readyState = 'closing'; // going, its close not yet seen
  failing.s.write(new Uint8Array(3));
  assert.deepEqual(
    failing.errors.map((e) => e.code),
    ['CHANNEL_CLOSED'],
  );
  dead.close();
  failing.s.resume(failing.carrier);
  failing.carrier.last.open();
  failing.carrier.last.receive({ ...opened, resumed: { from: 0, lost: 0, inputReceived: 0 } });
  assert.equal(failing.resumes[0]?.undelivered, undefined, 'a frame never sent is not counted as lost');
  failing.s.dispose();
});

test('a PTY size is due only when it differs from the one last sent', () => {
  const parts = session();
  const resizes = () => parts.carrier.last.messages().filter((m) => m.type === 'resize');
  const channel = open(parts);
  const first = channel.messages()[0];
  assert.ok(first?.type === 'open');
  assert.deepEqual({ cols: first.cols, rows: first.rows }, { cols: 80, rows: 24 });
  parts.s.resize(80, 24);
  assert.equal(resizes().length, 0);
  parts.s.resize(120, 40);
  assert.deepEqual(
    resizes().map((m) => m.type === 'resize' && [m.cols, m.rows]),
    [[120, 40]],
  );
  parts.s.dispose();
});

test('a refused resume leaves the tab gone; a refused open fails it; other errors change nothing', () => {
  const error = (code: SessionError['code'], fatal = false): SessionError => ({ code, message: code, ...(fatal ? { fatal } : {}) });
  assert.equal(stateOnError('reconnecting', error('SESSION_NOT_FOUND')), 'gone');
  assert.equal(stateOnError('reconnecting', error('SESSION_FORBIDDEN')), 'gone');
  assert.equal(stateOnError('reconnecting', error('RATE_LIMITED')), 'reconnecting');
  assert.equal(stateOnError('opening', error('NO_SHELL')), 'failed');
  assert.equal(stateOnError('open', error('NO_SHELL')), 'open');
  assert.equal(stateOnError('open', error('CHANNEL_CLOSED', true)), 'failed');
  assert.equal(stateOnError('exited', error('CHANNEL_CLOSED', true)), 'exited');
});

test('`running` after `opened` is told once, with the host pid and notices; a second one (a resume) is not', () => {
  const parts = session();
  const runs: { hostPid: number; notices?: string[] }[] = [];
  parts.s.onRunning((running) => runs.push(running));
  const channel = open(parts);
  channel.receive({ type: 'running', hostPid: 4242, notices: ['could not lower the priority'] });
  channel.receive({ type: 'running', hostPid: 4242 });
  assert.deepEqual(runs, [{ hostPid: 4242, notices: ['could not lower the priority'] }]);
  assert.deepEqual(parts.errors, [], 'an agent message like any other: no error');
  parts.s.dispose();
});
