/**
 * The audit log on its own (agent/src/audit.ts): a log that cannot be written holds its records,
 * bounded, and writes them after one gap record once it can; a fragment at the end of a log is cut
 * off before the next record. A full disk on the real agent: agent/test/fail-safe-disk.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditLog, MAX_HELD_AUDIT_BYTES } from '../src/audit.js';
import { setLogLevel } from '../src/log.js';

setLogLevel('silent');

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('records that cannot be written are held, the excess counted, and all written after one gap record once the log can be', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tether-audit-')), 'not-yet');
  const path = join(dir, 'audit.jsonl');
  const audit = new AuditLog(path, { failure: 'closed', retryMs: 20 });
  assert.equal(audit.record('session.start', { sessionId: 's1' }), false, 'the folder does not exist yet');
  assert.equal(audit.acceptsSessions, false, 'closed: no new session while records are held');
  assert.ok(audit.unavailableSince);
  const big = 'x'.repeat(10_000);
  const fit = Math.floor(MAX_HELD_AUDIT_BYTES / 10_100);
  for (let i = 0; i < fit + 5; i++) audit.record('session.end', { sessionId: `s${i + 2}`, note: big });
  mkdirSync(dir);
  for (let waited = 0; audit.unavailableSince && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(audit.unavailableSince, undefined, 'written again by itself');
  assert.equal(audit.acceptsSessions, true);
  const written = lines(path);
  assert.equal(written[0]!.event, 'audit.gap');
  assert.equal(written[0]!.delayed, written.length - 1);
  assert.ok((written[0]!.lost as number) > 0, 'beyond the bound, records are counted as lost');
  assert.deepEqual(written[0]!.lostEvents, { 'session.end': written[0]!.lost });
  assert.equal(written[1]!.sessionId, 's1', 'held records keep their order');
  assert.equal((written[0]!.delayed as number) + (written[0]!.lost as number), fit + 6);
  assert.equal(audit.close(), true);
});

test('open: sessions may start while records are held', () => {
  const audit = new AuditLog(join(mkdtempSync(join(tmpdir(), 'tether-audit-')), 'missing', 'audit.jsonl'), {
    failure: 'open',
    retryMs: 60_000,
  });
  audit.record('session.start', { sessionId: 's1' });
  assert.ok(audit.unavailableSince);
  assert.equal(audit.acceptsSessions, true);
  assert.equal(audit.close(), false, 'what is still held at the end is reported');
});

test('a fragment at the end of the log (a write cut off) is removed before the next record, with a gap record', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tether-audit-')), 'audit.jsonl');
  writeFileSync(path, '{"time":"t","event":"session.start","sessionId":"a"}\n{"time":"t","event":"sess');
  const audit = new AuditLog(path);
  assert.equal(audit.record('session.end', { sessionId: 'a' }), true);
  const written = lines(path);
  assert.deepEqual(
    written.map((r) => r.event),
    ['session.start', 'audit.gap', 'session.end'],
  );
  assert.match(String(written[1]!.reason), /partial record of 25 bytes/);
});
