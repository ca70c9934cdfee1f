/**
 * One figure of `npm run bench` on its own, quickly: the agent's CPU per MB and the channel's
 * throughput (`cat` of a file in a tab, counted on arrival in the console, as the bench's
 * `count` runs), with the agent's idle RSS. For before/after comparisons of the agent's output path
 * without the whole 14-minute bench.
 *
 *   node --conditions=source --import tsx bench/agent-channel.ts [runs] [MiB of random bytes]
 *     TETHER_BENCH_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   node flags of the agent
 *     (default: the shipped unit's, as npm run bench)
 *     TETHER_BENCH_PERF=/tmp/agent.perf   `perf record -g` of the agent during the runs
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { startStack } from '../harness/stack.js';
import { docker } from '../harness/docker.js';
import { RendererBench } from './renderer-bench.js';
import { cpuSeconds } from './proc-cpu.js';
import { percentile, round } from './stats.js';
import { unitNodeArgs } from './soak/unit-env.js';

const runs = Number(process.argv[2] ?? 3);
const randomMiB = Number(process.argv[3] ?? 24);
const nodeArgs = process.env.TETHER_BENCH_AGENT_NODE_ARGS?.split(' ').filter(Boolean) ?? unitNodeArgs();
const FILE = '/tmp/bench.txt';

const stack = await startStack({ name: 'bench', agentArgs: ['--max-sessions-per-container', '0'], agentNodeArgs: nodeArgs });
try {
  const container = await stack.startContainer();
  const ui = await stack.openConsole({ bench: true });
  const out = await docker(
    'exec',
    container.id,
    'sh',
    '-c',
    `head -c ${randomMiB * 1024 * 1024} /dev/urandom | base64 > ${FILE} && chmod 644 ${FILE} && wc -c < ${FILE} && sha256sum ${FILE}`,
  );
  const [size, hashLine] = out.split('\n').map((l) => l.trim());
  const file = { path: FILE, bytes: Number(size), sha256: hashLine!.split(/\s+/)[0]! };
  const idleRssMB = stack.agent.rssBytes() / 1e6;
  await ui.connectAgent(stack.agent.agentId, 60_000);
  const bench = new RendererBench(ui, stack.agent.agentId, container.name);
  // TETHER_BENCH_PERF=<file>: `perf record` of the agent over the runs (with --perf-basic-prof in
  // its node flags, JavaScript frames get names).
  const perf = process.env.TETHER_BENCH_PERF
    ? spawn('perf', ['record', '-F', '999', '-g', '-p', String(stack.agent.pid), '-o', process.env.TETHER_BENCH_PERF], { stdio: 'ignore' })
    : undefined;
  const msPerMB: number[] = [];
  const mbps: number[] = [];
  for (let run = 0; run < runs; run++) {
    const cpu0 = cpuSeconds(stack.agent.pid);
    mbps.push(await bench.throughput(file, 'count'));
    msPerMB.push((1000 * (cpuSeconds(stack.agent.pid) - cpu0)) / (file.bytes / 1e6));
  }
  if (perf) {
    perf.kill('SIGINT');
    await new Promise((resolve) => perf.once('exit', resolve));
  }
  const med = (v: number[]) => round(percentile(v, 50), 1);
  console.log(
    JSON.stringify({
      nodeArgs,
      fileMB: round(file.bytes / 1e6, 1),
      agentIdleRssMB: round(idleRssMB, 1),
      agentRssAfterMB: round(stack.agent.rssBytes() / 1e6, 1),
      channelMBps: med(mbps),
      agentCpuMsPerMB: med(msPerMB),
      samples: { mbps: mbps.map((v) => round(v, 2)), msPerMB: msPerMB.map((v) => round(v, 1)) },
    }),
  );
  // TETHER_BENCH_AGENT_LOG=<file>: the agent's output (e.g. with --trace-deopt in its flags).
  if (process.env.TETHER_BENCH_AGENT_LOG) writeFileSync(process.env.TETHER_BENCH_AGENT_LOG, stack.agent.logs().join('\n'));
} finally {
  await stack.close();
}
