import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { recordingFileName, SessionRecorder } from '../src/session-recorder.js';

const info = { sessionId: 'sess-1', container: 'plc/1', shell: '/bin/sh', cols: 80, rows: 24 };

test('a character split across two frames is recorded whole; resizes and the header are asciicast v2', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tether-cast-')), 'nested');
  const recorder = SessionRecorder.start(dir, info);
  assert.ok(recorder);
  const euro = Buffer.from('a€b', 'utf8'); // € is 3 bytes: split it 1 + 2
  recorder.output(euro.subarray(0, 2));
  recorder.output(euro.subarray(2));
  recorder.resize(100, 30);
  recorder.output(Buffer.from([0xc3])); // half of é, completed by nothing: flushed as U+FFFD at close
  await recorder.close();
  const file = readdirSync(dir)[0] ?? '';
  assert.ok(file.endsWith('-plc_1-sess-1.cast'), file);
  assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600);
  const lines = readFileSync(join(dir, file), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(
    { ...(lines[0] as object), timestamp: 0 },
    { version: 2, width: 80, height: 24, timestamp: 0, env: { TERM: 'xterm-256color', SHELL: '/bin/sh' }, title: 'plc/1 via tether' },
  );
  const events = lines.slice(1) as [number, string, string][];
  assert.deepEqual(
    events.map((e) => [e[1], e[2]]),
    [
      ['o', 'a'],
      ['o', '€b'],
      ['r', '100x30'],
      ['o', '\uFFFD'],
    ],
  );
  await recorder.close();
});

test('input is recorded as "i" events only when asked; a character split across frames stays whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cast-'));
  const withInput = SessionRecorder.start(dir, { ...info, sessionId: 'typed', input: true });
  const without = SessionRecorder.start(dir, { ...info, sessionId: 'untyped' });
  assert.ok(withInput && without);
  assert.deepEqual([withInput.recordsInput, without.recordsInput], [true, false]);
  const typed = Buffer.from('ls ü\r', 'utf8'); // ü is 2 bytes: split it 4 + 2
  for (const recorder of [withInput, without]) {
    recorder.input(typed.subarray(0, 4));
    recorder.output(Buffer.from('ls '));
    recorder.input(typed.subarray(4));
  }
  await Promise.all([withInput.close(), without.close()]);
  const events = (recorder: SessionRecorder) =>
    readFileSync(recorder.path, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => (JSON.parse(l) as [number, string, string]).slice(1));
  assert.deepEqual(events(withInput), [
    ['i', 'ls '],
    ['o', 'ls '],
    ['i', 'ü\r'],
  ]);
  assert.deepEqual(events(without), [['o', 'ls ']]);
});

test('a recording that cannot start is logged and the session goes on without it', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tether-cast-')), 'a-file');
  writeFileSync(file, '');
  assert.equal(SessionRecorder.start(join(file, 'sub'), info), undefined);
});

test('file names sort by time and keep only safe characters', () => {
  assert.equal(
    recordingFileName({ ...info, container: 'a b:c' }, new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678))),
    '2030-01-02T03-04-05Z-a_b_c-sess-1.cast',
  );
});
