/**
 * The console's end of a download (renderer/src/transfer/download.ts) on an in-memory data channel:
 * a file that arrives with another byte count than the agent's `accept` announced is not saved,
 * even when the agent's `done` agrees with what arrived (an agent that let a short read through
 * reported it intact: both ends hashed the same short bytes). The agent is told with `cancel`.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Download } from '../../../renderer/src/transfer/download.js';
import { MemoryTransferChannel } from './support/memory-transfer-channel.js';

function download(size: number, arrived: Buffer) {
  const saved: Uint8Array[][] = [];
  const channel = new MemoryTransferChannel();
  const transfer = new Download({ sessionId: 's1', path: '/home/plc/f.bin' }, (parts) => saved.push(parts));
  transfer.start(() => channel as unknown as RTCDataChannel);
  channel.open();
  channel.deliver({ type: 'accept', path: '/home/plc/f.bin', kind: 'file', size, name: 'f.bin' });
  channel.deliver(new Uint8Array(arrived));
  channel.deliver({ type: 'done', bytes: arrived.length, sha256: createHash('sha256').update(arrived).digest('hex') });
  return { channel, transfer, saved };
}

test("a file shorter than the agent's accept announced is not saved, whatever the agent's done says", () => {
  const bytes = randomBytes(10_000);
  const { channel, transfer, saved } = download(bytes.length + 500, bytes);
  assert.equal(transfer.facts.state, 'failed');
  assert.equal(transfer.facts.error?.code, 'TRANSFER_FAILED');
  assert.match(transfer.facts.error?.message ?? '', /10000 bytes arrived of a file of 10500/);
  assert.equal(saved.length, 0);
  assert.equal(channel.messages().at(-1)?.type, 'cancel');
  assert.ok(!channel.messages().some((m) => m.type === 'done'));
});

test('a file of the size announced is saved', () => {
  const bytes = randomBytes(10_000);
  const { transfer, saved } = download(bytes.length, bytes);
  assert.equal(transfer.facts.state, 'done', JSON.stringify(transfer.facts.error));
  assert.equal(saved.length, 1);
});
