/**
 * The two flow-control rules of protocol/README.md ("Flow control"), each with its own hysteresis,
 * on a real OutputSender and OutputLog over an in-memory channel whose buffer the test sets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CHANNEL_BUFFER_HIGH_BYTES,
  CHANNEL_BUFFER_LOW_BYTES,
  HIGH_WATERMARK_BYTES,
  LOW_WATERMARK_BYTES,
  OUTPUT_BATCH_BYTES,
  RESUME_BUFFER_BYTES,
} from '@tether/protocol';
import type { DataChannelPort } from '../src/data-channel.js';
import { OutputLog } from '../src/output-log.js';
import { OutputSender } from '../src/output-sender.js';

function fakeChannel() {
  let low: (() => void) | undefined;
  const channel = {
    label: 'tty:test',
    bufferedAmount: 0,
    isOpen: true,
    sent: 0,
    send(frame: string | Buffer) {
      channel.sent += frame.length;
      return true;
    },
    answer: () => true,
    close() {},
    onMessage: () => () => undefined,
    onClose: () => () => undefined,
    onBufferedAmountLow(_threshold: number, listener: () => void) {
      low = listener;
      return () => (low = undefined);
    },
    /** The transport took everything: the buffer is empty, as werift reports it. */
    drain() {
      channel.bufferedAmount = 0;
      low?.();
    },
  };
  return channel;
}

function setup() {
  const log = new OutputLog(RESUME_BUFFER_BYTES);
  const source = {
    paused: false,
    pause() {
      source.paused = true;
    },
    resume() {
      source.paused = false;
    },
  };
  const sender = new OutputSender(log, source);
  const channel = fakeChannel();
  sender.attach(channel as unknown as DataChannelPort, 0);
  /** The exec stream delivers one chunk, as it does while reading is not paused. */
  const produce = (bytes: number) => {
    log.append(Buffer.alloc(bytes, 0x61));
    sender.outputAdded();
    sender.pump();
  };
  return { log, source, sender, channel, produce };
}

test('rule 1 alone: with no acks the agent reads until more than HIGH_WATERMARK_BYTES are unacknowledged, whatever the buffer did before', () => {
  const { source, channel, produce, sender } = setup();
  // 320 KiB go out unacknowledged: between the watermarks, so rule 1 does not hold reading.
  for (let i = 0; i < 10; i++) produce(OUTPUT_BATCH_BYTES);
  assert.equal(source.paused, false);
  // The channel's buffer fills (a slow network): rule 2 holds reading ...
  channel.bufferedAmount = CHANNEL_BUFFER_HIGH_BYTES + 1;
  produce(OUTPUT_BATCH_BYTES);
  assert.equal(source.paused, true, 'held by the buffer');
  // ... then drains: rule 2 lets go, and rule 1 (352 KiB unacknowledged, under HIGH) never held.
  // Joined rules waited for the low watermark too: no acks, no more output (314-348 KB; issue 16).
  channel.drain();
  assert.equal(source.paused, false, 'reading again with 352 KiB unacknowledged');
  while (!source.paused) produce(OUTPUT_BATCH_BYTES);
  const unacked = sender.flow.produced - sender.flow.acked;
  assert.ok(unacked > HIGH_WATERMARK_BYTES && unacked <= HIGH_WATERMARK_BYTES + OUTPUT_BATCH_BYTES, `paused at ${unacked}`);
  assert.ok(channel.sent <= HIGH_WATERMARK_BYTES + OUTPUT_BATCH_BYTES, `sent ${channel.sent}`);
});

test('rule 1 hysteresis: held above HIGH_WATERMARK_BYTES until acks bring it under LOW_WATERMARK_BYTES', () => {
  const { source, channel, produce, sender } = setup();
  while (!source.paused) produce(OUTPUT_BATCH_BYTES);
  const produced = sender.flow.produced;
  sender.ack(channel as unknown as DataChannelPort, produced - LOW_WATERMARK_BYTES - 1);
  assert.equal(source.paused, true, `still held with ${LOW_WATERMARK_BYTES + 1} unacknowledged`);
  sender.ack(channel as unknown as DataChannelPort, 2);
  assert.equal(source.paused, false, 'reading under the low watermark');
});

test('rule 2 hysteresis: held while the buffer is above CHANNEL_BUFFER_HIGH_BYTES, until it is at or under CHANNEL_BUFFER_LOW_BYTES', () => {
  const { source, channel, produce, sender } = setup();
  channel.bufferedAmount = CHANNEL_BUFFER_HIGH_BYTES + 1;
  produce(1000);
  assert.equal(source.paused, true);
  sender.ack(channel as unknown as DataChannelPort, 1000); // credit is not what holds it
  channel.bufferedAmount = CHANNEL_BUFFER_LOW_BYTES + 1;
  sender.pump();
  assert.equal(source.paused, true, 'above the low threshold: still held');
  channel.bufferedAmount = CHANNEL_BUFFER_LOW_BYTES;
  sender.pump();
  assert.equal(source.paused, false, 'at the low threshold: reading');
});

test('detached, the agent reads on whatever the rules held', () => {
  const { source, channel, produce, sender } = setup();
  while (!source.paused) produce(OUTPUT_BATCH_BYTES);
  sender.detach(channel as unknown as DataChannelPort);
  sender.updateReading();
  assert.equal(source.paused, false);
});
