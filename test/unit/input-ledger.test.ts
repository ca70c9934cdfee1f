/**
 * The console's input accounting across resumes (renderer/src/session/input-ledger.ts): what was sent
 * into a channel that died and never reached the agent, and how the tab names those keys.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INPUT_TAIL_BYTES, InputLedger, describeKeys } from '../../renderer/src/session/input-ledger.js';

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

test('input the agent did not receive is reported with its bytes; what it received is not', () => {
  const ledger = new InputLedger();
  ledger.record(text('echo one'));
  ledger.record(text('\r'));
  ledger.record(text('echo two'));
  ledger.record(text('\r'));
  // The agent had everything up to the second Enter.
  const missing = ledger.reconcile(text('echo one\recho two').byteLength);
  assert.ok(missing);
  assert.equal(missing.bytes, 1);
  assert.equal(decode(missing.tail), '\r');
});

test('nothing missing gives nothing; the agent count becomes the new start, so a loss is reported once', () => {
  const ledger = new InputLedger();
  ledger.record(text('ls\r'));
  assert.equal(ledger.reconcile(3), undefined);
  ledger.record(text('pwd\r'));
  const first = ledger.reconcile(3);
  assert.equal(first?.bytes, 4);
  assert.equal(decode(first.tail), 'pwd\r');
  // Next resume: the agent still says 3; nothing was sent since, so nothing new is missing.
  assert.equal(ledger.reconcile(3), undefined);
  ledger.record(text('id\r'));
  assert.equal(ledger.reconcile(6), undefined);
});

test('a large loss keeps its full count and the last bytes to show', () => {
  const ledger = new InputLedger();
  const paste = new Uint8Array(INPUT_TAIL_BYTES * 3).fill(0x78);
  paste[paste.length - 1] = 0x0d;
  for (let at = 0; at < paste.length; at += 100) ledger.record(paste.subarray(at, Math.min(at + 100, paste.length)));
  const missing = ledger.reconcile(10);
  assert.equal(missing?.bytes, paste.length - 10);
  assert.equal(missing.tail.byteLength, INPUT_TAIL_BYTES);
  assert.equal(missing.tail[INPUT_TAIL_BYTES - 1], 0x0d);
});

test('an agent that counts more than was sent (raw frames sent past the ledger) reports nothing, and counts on from its figure', () => {
  const ledger = new InputLedger();
  ledger.record(text('a'));
  assert.equal(ledger.reconcile(5), undefined);
  ledger.record(text('b'));
  assert.equal(ledger.reconcile(6), undefined);
  ledger.record(text('c'));
  assert.equal(decode(ledger.reconcile(6)?.tail ?? new Uint8Array()), 'c');
});

test('keys are named as a person would read them, the start cut when long', () => {
  assert.equal(describeKeys(text('echo hi\r')), 'echo hi⏎');
  assert.equal(describeKeys(text('\x03')), '^C');
  assert.equal(describeKeys(text('\x1b[A\t\x7f')), '^[[A⇥⌫');
  assert.equal(describeKeys(text('grüß\r')), 'grüß⏎');
  assert.equal(describeKeys(text('x'.repeat(100)), 10), `…${'x'.repeat(9)}`);
});
