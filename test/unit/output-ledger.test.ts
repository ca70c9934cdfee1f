/**
 * The console's output accounting across resumes (renderer/src/session/output-ledger.ts): the offset it
 * resumes from, lost bytes, and acknowledgements that must not count a byte twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputLedger } from '../../renderer/src/session/output-ledger.js';
import { RESUME_BACKOFF_MAX_MS, resumeBackoffMs } from '../../renderer/src/connection/reconnect-policy.js';

const bytes = (n: number) => new Uint8Array(n).fill(0x61);

test('received is the bytes taken, and a resume with nothing lost continues from it', () => {
  const ledger = new OutputLedger();
  ledger.take(bytes(100));
  ledger.take(bytes(28));
  assert.equal(ledger.received, 128);
  assert.deepEqual(ledger.resumedAt(128), { lost: 0 });
  assert.equal(ledger.take(bytes(10)).byteLength, 10);
  assert.equal(ledger.received, 138);
});

test('bytes that fell out of the agent buffer count as lost and move received past them', () => {
  const ledger = new OutputLedger();
  ledger.take(bytes(50));
  assert.deepEqual(ledger.resumedAt(1_050), { lost: 1_000 });
  assert.equal(ledger.lost, 1_000);
  ledger.take(bytes(5));
  assert.equal(ledger.received, 1_055);
});

test('bytes the agent sends again are dropped, not shown twice', () => {
  const ledger = new OutputLedger();
  ledger.take(bytes(100));
  assert.deepEqual(ledger.resumedAt(90), { lost: 0 });
  assert.equal(ledger.take(bytes(4)).byteLength, 0);
  assert.equal(ledger.take(bytes(10)).byteLength, 4);
  assert.equal(ledger.received, 104);
});

test('acks of bytes taken before a resume are not sent on the new channel', () => {
  const ledger = new OutputLedger();
  ledger.take(bytes(100));
  assert.equal(ledger.parsedBytes(40), 40, 'before the resume, every parsed byte is acknowledged');
  ledger.resumedAt(100); // the agent counts all 100 as acknowledged now
  ledger.take(bytes(30));
  assert.equal(ledger.parsedBytes(50), 0, 'the rest of the first 100, parsed late');
  assert.equal(ledger.parsedBytes(20), 10, 'straddles the floor: only the new bytes');
  assert.equal(ledger.parsedBytes(20), 20);
});

test('the reconnect backoff doubles from half a second and stays at its cap', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 20].map(resumeBackoffMs), [500, 1_000, 2_000, 4_000, 5_000, 5_000, RESUME_BACKOFF_MAX_MS]);
});
