/**
 * The console's end of an upload (renderer/src/transfer/upload.ts) on an in-memory data channel:
 * it never has more than TRANSFER_WINDOW_BYTES unacknowledged, whatever wakes it. Regression: a
 * `bufferedamountlow` event woke the sender without the credit being checked again, and it sent
 * beyond the window (the agent ended the transfer with BAD_MESSAGE, "bytes beyond the window").
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { TRANSFER_WINDOW_BYTES } from '@tether/protocol';
import { Upload } from '../../../renderer/src/transfer/upload.js';
import { MemoryTransferChannel } from './support/memory-transfer-channel.js';

const settle = async () => {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
};

test('an upload woken by a drained send buffer never sends beyond its credit', async () => {
  const bytes = randomBytes(3 * TRANSFER_WINDOW_BYTES + 1234);
  const channel = new MemoryTransferChannel();
  const upload = new Upload(new File([bytes], 'a.bin'), { sessionId: 's1', dir: undefined, name: 'a.bin', overwrite: false });
  upload.start(() => channel as unknown as RTCDataChannel);
  channel.open();
  assert.deepEqual(channel.messages()[0], {
    type: 'offer',
    direction: 'upload',
    sessionId: 's1',
    name: 'a.bin',
    size: bytes.length,
    overwrite: false,
  });
  channel.deliver({ type: 'accept', path: '/home/plc/a.bin' });
  await settle();
  assert.ok(channel.bytesSent > 0 && channel.bytesSent <= TRANSFER_WINDOW_BYTES, `${channel.bytesSent} sent with no ack`);
  for (let i = 0; i < 10; i++) {
    channel.dispatchEvent(new Event('bufferedamountlow'));
    await settle();
    assert.ok(channel.bytesSent <= TRANSFER_WINDOW_BYTES, `${channel.bytesSent} sent with no ack, after a drained buffer`);
  }
  // Each ack opens the window by what it acknowledges, no more.
  let acked = 0;
  while (acked < bytes.length) {
    const step = Math.min(128 * 1024, channel.bytesSent - acked);
    assert.ok(step > 0, 'the sender went on once acknowledged');
    acked += step;
    channel.deliver({ type: 'ack', bytes: step });
    await settle();
    assert.ok(channel.bytesSent - acked <= TRANSFER_WINDOW_BYTES, `${channel.bytesSent - acked} unacknowledged`);
  }
  const done = channel.messages().find((m) => m.type === 'done');
  assert.deepEqual(done, { type: 'done', bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  channel.deliver({ type: 'done', bytes: bytes.length, sha256: done.sha256, path: '/home/plc/a.bin' });
  assert.equal(await upload.finished, 'done');
  assert.equal(upload.path, '/home/plc/a.bin');
});
