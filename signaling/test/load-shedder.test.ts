import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoadShedder } from '../src/load-shedder.js';

const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const turn = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a stall longer than a window, over its end, is in the figures', async (t) => {
  const shedder = new LoadShedder(200, 100, 5);
  t.after(() => shedder.close());
  let worst = 0;
  // Several stalls of 300 ms: each is longer than a window of 100 ms, so each spans a window's end.
  for (let i = 0; i < 3; i++) {
    await turn(20);
    block(300);
    // The windows that follow: the stall's sample is reported in one of them.
    for (let j = 0; j < 30; j++) {
      await turn(10);
      worst = Math.max(worst, shedder.figures().eventLoopDelayMaxMs);
    }
    assert.ok(worst >= 300, `stall ${i + 1} of 300 ms: the figures said at most ${worst} ms`);
  }
});

test('a node whose loop stalls most of the window is overloaded; a quiet one is not', async (t) => {
  const shedder = new LoadShedder(200, 1000, 10);
  t.after(() => shedder.close());
  assert.equal(shedder.overloaded, false);
  // Stalls of 250 ms back to back: nearly every sample is one.
  const started = performance.now();
  while (!shedder.overloaded) {
    block(250);
    await turn(0);
    assert.ok(performance.now() - started < 60_000, 'never overloaded');
  }
  assert.ok(shedder.figures().eventLoopDelayP90Ms > 200);
});
