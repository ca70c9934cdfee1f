/**
 * The event-loop delay a node reports (and sheds on) counts every stall (issue 20): Node's
 * monitorEventLoopDelay, reset at each window, lost a stall that ended just before the window
 * closed (`/healthz` reported a 1.4 s stall as 0.55 s, or not at all).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoadShedder, SHED_WINDOW_MS } from '../src/load-shedder.js';

const busy = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // the event loop is blocked
  }
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a stall that ends as the window closes is reported', async (t) => {
  const shedder = new LoadShedder(200);
  t.after(() => shedder.close());
  // Blocked across the end of the first window: the sample taken after it closes that window.
  await sleep(SHED_WINDOW_MS - 100);
  busy(600);
  let maxMs = 0;
  for (let i = 0; i < 3 * (SHED_WINDOW_MS / 50) && maxMs < 590; i++) {
    await sleep(50);
    maxMs = Math.max(maxMs, shedder.figures().eventLoopDelayMaxMs);
  }
  assert.ok(maxMs >= 590, `the 600 ms stall was reported as ${maxMs} ms`);
});
