import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ACK_BATCH_BYTES,
  ACK_IDLE_MS,
  CHANNEL_BUFFER_HIGH_BYTES,
  CHANNEL_BUFFER_LOW_BYTES,
  HIGH_WATERMARK_BYTES,
  LOW_WATERMARK_BYTES,
  MAX_FRAME_BYTES,
  OUTPUT_BATCH_BYTES,
  RESUME_BUFFER_BYTES,
} from '@tether/protocol';

test('an ack batch fits under the low watermark, so a console holding back less than a batch lets the agent resume', () => {
  assert.ok(ACK_BATCH_BYTES <= LOW_WATERMARK_BYTES);
});

test('the low watermark is below the high one, so pause and resume do not thrash', () => {
  assert.ok(LOW_WATERMARK_BYTES < HIGH_WATERMARK_BYTES);
  assert.ok(CHANNEL_BUFFER_LOW_BYTES < CHANNEL_BUFFER_HIGH_BYTES);
});

test('an output batch fits in one frame, and the high watermark is a few dozen batches at most', () => {
  assert.ok(OUTPUT_BATCH_BYTES <= MAX_FRAME_BYTES);
  assert.ok(HIGH_WATERMARK_BYTES / OUTPUT_BATCH_BYTES <= 48);
  assert.ok(HIGH_WATERMARK_BYTES >= OUTPUT_BATCH_BYTES);
});

test('the constants are positive integers', () => {
  for (const value of [
    ACK_BATCH_BYTES,
    ACK_IDLE_MS,
    CHANNEL_BUFFER_HIGH_BYTES,
    CHANNEL_BUFFER_LOW_BYTES,
    HIGH_WATERMARK_BYTES,
    LOW_WATERMARK_BYTES,
    MAX_FRAME_BYTES,
    OUTPUT_BATCH_BYTES,
  ]) {
    assert.ok(Number.isInteger(value) && value > 0, String(value));
  }
});

test('the resume buffer holds everything that may be unacknowledged, so a resume never loses sent bytes', () => {
  assert.ok(RESUME_BUFFER_BYTES >= HIGH_WATERMARK_BYTES + OUTPUT_BATCH_BYTES);
});
