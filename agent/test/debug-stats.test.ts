/**
 * The debug stats the soak relies on: after Buffers are dropped, one sample reports `external`
 * back down (garbage collected, and the Buffers' memory swept), and the per-space V8 figures add
 * up to the resident heap.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { collectDebugStats } from '../src/debug-stats.js';

const counts = () => ({ peers: 0, channels: 0, sessions: 0, detached: 0 });

test('without gc exposed the stats say so and still report memory', () => {
  const saved = (globalThis as { gc?: unknown }).gc;
  delete (globalThis as { gc?: unknown }).gc;
  try {
    const stats = collectDebugStats(counts);
    assert.equal(stats.gc, false);
    assert.ok(stats.rssBytes > 0 && stats.heapUsedBytes > 0);
  } finally {
    if (saved !== undefined) (globalThis as { gc?: unknown }).gc = saved;
  }
});

test('one sample after dropping 32 MB of Buffers reports external memory back down', () => {
  setFlagsFromString('--expose-gc');
  (globalThis as { gc?: unknown }).gc = runInNewContext('gc') as () => void;
  try {
    const before = collectDebugStats(counts);
    let held: Buffer[] | undefined = Array.from({ length: 512 }, () => Buffer.alloc(64 * 1024, 1));
    const holding = collectDebugStats(counts);
    assert.ok(holding.externalBytes > before.externalBytes + 30e6, `external with the Buffers: ${holding.externalBytes}`);
    assert.equal(held.length, 512);
    held = undefined;
    const after = collectDebugStats(counts);
    assert.equal(after.gc, true);
    assert.ok(
      after.externalBytes < before.externalBytes + 2e6,
      `external after dropping them: ${after.externalBytes}, before ${before.externalBytes}`,
    );
    const spaces = Object.values(after.v8SpacesBytes).reduce((a, b) => a + b, 0);
    assert.equal(spaces, after.heapPhysicalBytes);
  } finally {
    delete (globalThis as { gc?: unknown }).gc;
  }
});
