/**
 * A diagnostic for a signaling node under `bench/signaling-load.ts` (not part of `npm run bench`):
 * injected into each node with `TETHER_BENCH_NODE_FLAGS="--import $PWD/bench/loop-gaps.mjs"`, it
 * appends to `LOOP_GAPS_OUT` (default /tmp/loop-gaps.log) a line for every gap of over 8 ms in a
 * 1 ms timer: its length, the time collections took inside it (`PerformanceObserver` `gc` entries),
 * the process's CPU time over it (little CPU: the node was not running), the wall-clock time it
 * began, and the monotonic microseconds of both ends (the clock of a `--cpu-prof` profile).
 */
import { appendFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const out = process.env.LOOP_GAPS_OUT ?? '/tmp/loop-gaps.log';
const collections = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push([entry.startTime, entry.duration, entry.detail?.kind]);
}).observe({ entryTypes: ['gc'] });

let last = performance.now();
let lastHr = process.hrtime.bigint();
let lastCpu = process.cpuUsage();
const gaps = [];
setInterval(() => {
  const now = performance.now();
  const hr = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  if (now - last > 8) gaps.push([last, now, (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000, lastHr / 1000n, hr / 1000n]);
  last = now;
  lastHr = hr;
  lastCpu = cpu;
}, 1).unref();

setInterval(() => {
  const lines = [];
  for (const [from, to, cpuMs, hrFrom, hrTo] of gaps.splice(0)) {
    const inside = collections.filter(([start, duration]) => start + duration > from && start < to);
    const gcMs = inside.reduce((sum, [start, duration]) => sum + Math.min(to, start + duration) - Math.max(from, start), 0);
    const at = Math.round(performance.timeOrigin + from);
    lines.push(
      `gap ${(to - from).toFixed(1)} gc ${gcMs.toFixed(1)} cpu ${cpuMs.toFixed(1)} at ${at} hr ${hrFrom}-${hrTo} kinds ${inside.map((c) => c[2]).join(',')}`,
    );
  }
  while (collections.length && collections[0][0] + collections[0][1] < performance.now() - 2000) collections.shift();
  if (lines.length) appendFileSync(out, `${lines.join('\n')}\n`);
}, 200).unref();
