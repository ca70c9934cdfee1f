/**
 * Parts of the console's terminal session and tab that need no browser: input held while the
 * terminal opens (renderer/src/session-input.ts), the PTY size sent only when it changed
 * (pty-size.ts), and what a session error does to a tab's state (tab-state.ts). The session and
 * the tab themselves run in Chromium against a real agent in test/e2e/console-*.test.ts.
 */
import { MAX_FRAME_BYTES } from '@tether/protocol';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PtySize } from '../../../renderer/src/session/pty-size.js';
import { SessionInput } from '../../../renderer/src/session/session-input.js';
import { stateOnError } from '../../../renderer/src/tabs/tab-state.js';
import type { SessionError } from '../../../renderer/src/session/terminal-session.js';

function input(fail = false) {
  const frames: Uint8Array[] = [];
  const errors: SessionError[] = [];
  const parts = new SessionInput(
    (bytes) => (fail ? { code: 'CHANNEL_CLOSED', message: 'no channel' } : (frames.push(bytes), undefined)),
    (error) => errors.push(error),
  );
  return { parts, frames, errors };
}

test('input held before `opened` is handed back once, and a paste over the bound is refused', () => {
  const { parts, errors } = input();
  parts.hold(new Uint8Array(1024 * 1024 - 1));
  parts.hold(new Uint8Array(2));
  assert.deepEqual(errors.map((e) => e.code), ['NOT_OPEN']);
  parts.hold(new Uint8Array(1));
  assert.deepEqual(parts.takeHeld().map((b) => b.byteLength), [1024 * 1024 - 1, 1]);
  assert.deepEqual(parts.takeHeld(), []);
});

test('input is cut into frames no larger than MAX_FRAME_BYTES, and only frames sent count for a resume', () => {
  const { parts, frames } = input();
  parts.send(new Uint8Array(MAX_FRAME_BYTES * 2 + 5).fill(0x61));
  assert.deepEqual(frames.map((f) => f.byteLength), [MAX_FRAME_BYTES, MAX_FRAME_BYTES, 5]);
  assert.equal(parts.reconcile(MAX_FRAME_BYTES)?.bytes, MAX_FRAME_BYTES + 5);

  const failing = input(true);
  failing.parts.send(new Uint8Array(3));
  assert.deepEqual(failing.errors.map((e) => e.code), ['CHANNEL_CLOSED']);
  assert.equal(failing.parts.reconcile(0), undefined);
});

test('a PTY size is due only when it differs from the one last sent', () => {
  const size = new PtySize();
  assert.equal(size.unsent, true);
  assert.deepEqual(size.markSent(), { cols: 80, rows: 24 });
  size.set(80, 24);
  assert.equal(size.unsent, false);
  size.set(120, 40);
  assert.equal(size.unsent, true);
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
