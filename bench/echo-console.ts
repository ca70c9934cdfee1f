/**
 * Keystroke echo through the real console alone (headless Chromium, the built agent on loopback, as
 * `npm run bench` measures `echoP50Ms`), with the agent's CPU time per keystroke: four rounds of
 * 500 keystrokes in a fresh tab of `cat`. For before/after comparisons of the echo path without
 * the whole bench (bench/echo-alone.ts does the same with a werift console in its own process).
 *
 *   npm run build && node --conditions=source --import tsx bench/echo-console.ts
 */
import { startStack } from '../harness/stack.js';
import { RendererBench } from './renderer-bench.js';
import { cpuSeconds } from './proc-cpu.js';
import { percentile } from './stats.js';
import { unitNodeArgs } from './soak/unit-env.js';
const stack = await startStack({ name: 'bench', agentArgs: ['--max-sessions-per-container', '0'], agentNodeArgs: unitNodeArgs() });
try {
  const container = await stack.startContainer();
  const ui = await stack.openConsole({ bench: true });
  await ui.connectAgent(stack.agent.agentId, 60_000);
  const bench = new RendererBench(ui, stack.agent.agentId, container.name);
  for (let r = 0; r < 4; r++) {
    const cpu0 = cpuSeconds(stack.agent.pid);
    const s = await bench.echo(500);
    const cpu = ((cpuSeconds(stack.agent.pid) - cpu0) * 1000) / s.length;
    console.log(
      `round ${r}${r === 0 ? ' (warm-up)' : ''}: echo p50 ${percentile(s, 50).toFixed(3)} p99 ${percentile(s, 99).toFixed(2)} agent ms/keystroke ${cpu.toFixed(3)}`,
    );
  }
} finally {
  await stack.close();
}
