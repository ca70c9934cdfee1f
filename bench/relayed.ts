/**
 * The relayed path for `npm run bench`: console and agent behind two NATs in network namespaces,
 * signaling and a real coturn in a "cloud" namespace (the same setup as test/e2e/turn-relay.test.ts),
 * and `cat` of a few MB through the relay, counted on arrival in the console.
 */
import { randomBytes } from 'node:crypto';
import { startAgent, type AgentProcess } from '../harness/agent-process.js';
import { startContainer, type TestContainer } from '../harness/docker.js';
import { launchConsoleIn, startCoturn, startSignaling, type ConsoleBrowser } from '../harness/net-services.js';
import { TestNetwork } from '../harness/netns.js';
import { RendererBench, type BenchFile } from './renderer-bench.js';

export interface RelayedRun {
  /** MB/s of each run, content bytes verified against the file */
  samples: number[];
  /** the agent's selected pair, from its "peer connected" log line */
  agentPath: unknown;
  fileBytes: number;
}

/** `prepare` writes the file into the container and says its size and hash. */
export async function relayedThroughput(runs: number, prepare: (containerId: string) => Promise<BenchFile>): Promise<RelayedRun> {
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const net = await TestNetwork.create([{ name: 'cloud' }, { name: 'console', behindNat: true }, { name: 'agent', behindNat: true }]);
    cleanups.push(() => net.close());
    const secret = randomBytes(16).toString('hex');
    const consoleToken = `console-${randomBytes(12).toString('hex')}`;
    const agentToken = `agent-${randomBytes(12).toString('hex')}`;
    const coturn = await startCoturn(net, 'cloud', secret);
    cleanups.push(() => coturn.stop());
    const signaling = await startSignaling(net, 'cloud', 7300, [
      '--console-token',
      consoleToken,
      '--agent-token',
      agentToken,
      '--turn-url',
      coturn.url,
      '--turn-secret',
      secret,
      '--log-level',
      'info',
    ]);
    cleanups.push(() => signaling.stop());
    const container: TestContainer = await startContainer({ namePrefix: 'bench-relay' });
    cleanups.push(() => container.remove());
    const agent: AgentProcess = await startAgent({
      netns: net.host('agent').ns,
      signalingUrl: signaling.url,
      token: agentToken,
      agentId: `bench-relay-${net.runId}`,
      name: 'bench relayed',
      extraArgs: ['--log-level', 'info'],
    });
    cleanups.push(() => agent.stop());
    const consoleBrowser: ConsoleBrowser = await launchConsoleIn(net, 'console');
    cleanups.push(() => consoleBrowser.browser.close());
    const [file, ui] = await Promise.all([
      prepare(container.id),
      consoleBrowser.open({ signal: signaling.url, token: consoleToken, bench: '1' }),
    ]);
    await ui.connectAgent(agent.agentId, 60_000);
    // TETHER_BENCH_RELAY_DELAY_MS: a delay on the agent's link each way (a long path; not in `npm run bench`).
    const delayMs = Number(process.env['TETHER_BENCH_RELAY_DELAY_MS'] ?? 0);
    if (delayMs > 0) await net.impair('agent', { delayMs });
    const bench = new RendererBench(ui, agent.agentId, container.name);
    const samples: number[] = [];
    for (let run = 0; run < runs; run++) samples.push(await bench.throughput(file, 'count'));
    const connected = agent.logs().find((line) => line.includes('"msg":"peer connected"'));
    const agentPath = connected ? (JSON.parse(connected) as { path?: unknown }).path : undefined;
    if ((agentPath as { kind?: string } | undefined)?.kind !== 'relayed')
      throw new Error(`the path was not relayed: ${JSON.stringify(agentPath)}`);
    return { samples, agentPath, fileBytes: file.bytes };
  } finally {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((error: unknown) => console.error(`[bench] relayed teardown: ${String(error)}`));
  }
}
