/**
 * The time-to-prompt and time-to-resume figures of `npm run bench` alone (bench/run.ts), for work on
 * the handshake and on resume without the whole bench: the same stack and agent flags as bench/run.ts,
 * PROMPT_SAMPLES fresh connections (default 5) and RESUME_SAMPLES path drops in one tab (default 5),
 * the load average printed beside the figures since the machine may be shared. Run with
 * `npm run build && node --conditions=source --import tsx bench/resume-alone.ts`.
 */
import { loadavg } from 'node:os';
import { startStack } from '../harness/stack.js';
import { RendererBench } from './renderer-bench.js';
import { spread } from './stats.js';

const promptSamples = Number(process.env.PROMPT_SAMPLES ?? '5');
const resumeSamples = Number(process.env.RESUME_SAMPLES ?? '5');
const round = (value: number, digits: number) => Number(value.toFixed(digits));
const summary = (samples: number[]) => {
  if (samples.length === 0) return null;
  const s = spread(samples);
  return { median: round(s.median, 1), min: round(s.min, 1), max: round(s.max, 1), samples: samples.map((v) => round(v, 1)) };
};

const stack = await startStack({
  name: 'bench',
  agentArgs: ['--max-sessions-per-container', '0'],
  agentNodeArgs: ['--max-semi-space-size=1'],
});
try {
  const container = await stack.startContainer();
  const ui = await stack.openConsole({ bench: true });
  await ui.connectAgent(stack.agent.agentId, 60_000);
  const bench = new RendererBench(ui, stack.agent.agentId, container.name);
  const loadBefore = loadavg().map((l) => round(l, 2));
  const prompts: number[] = [];
  const openedAt: number[] = [];
  for (let i = 0; i < promptSamples; i++) {
    const t = await bench.timeToPrompt();
    if (!t.ok) throw new Error(`prompt ${i + 1}: ${t.error}`);
    if (t.stages.firstByte !== undefined) prompts.push(t.stages.firstByte);
    if (t.stages.opened !== undefined) openedAt.push(t.stages.opened);
  }
  const tabId = await bench.openTab();
  const ready: number[] = [];
  const resumed: number[] = [];
  const readyToResumed: number[] = [];
  try {
    for (let i = 0; i < resumeSamples; i++) {
      const t = await bench.timeToResume(tabId);
      if (!t.ok || t.resumedMs === undefined) throw new Error(`drop ${i + 1}: ${t.error}`);
      resumed.push(t.resumedMs);
      if (t.readyMs !== undefined) {
        ready.push(t.readyMs);
        readyToResumed.push(t.resumedMs - t.readyMs);
      }
    }
  } finally {
    await bench.closeTab(tabId);
  }
  if (process.env.RESUME_AGENT_LOG) console.log(stack.agent.logs().slice(-Number(process.env.RESUME_AGENT_LOG)).join('\n'));
  console.log(
    JSON.stringify(
      {
        loadBefore,
        loadAfter: loadavg().map((l) => round(l, 2)),
        timeToPromptMs: summary(prompts),
        promptOpenedMs: summary(openedAt),
        timeToResumeMs: summary(resumed),
        resumeReconnectReadyMs: summary(ready),
        readyToResumedMs: summary(readyToResumed),
      },
      null,
      1,
    ),
  );
} finally {
  await stack.close();
}
