/**
 * The file-transfer figures of `npm run bench` alone (bench/transfer-bench.ts), for tuning the
 * transfer's flow control without the whole bench: the same stack and agent flags as bench/run.ts,
 * TRANSFER_RUNS runs (default 1), the load average printed beside the figures since the machine may
 * be shared. Run with `npm run build && node --conditions=source --import tsx bench/transfer-alone.ts`.
 */
import { loadavg } from 'node:os';
import { startStack } from '../harness/stack.js';
import { percentile, spread } from './stats.js';
import { measureTransfers } from './transfer-bench.js';

const runs = Number(process.env.TRANSFER_RUNS ?? '1');
const round = (value: number, digits: number) => Number(value.toFixed(digits));

const stack = await startStack({
  name: 'bench',
  agentArgs: ['--max-sessions-per-container', '0'],
  agentNodeArgs: ['--max-semi-space-size=1'],
});
try {
  const container = await stack.startContainer();
  const ui = await stack.openConsole({ bench: true });
  await ui.connectAgent(stack.agent.agentId, 60_000);
  const load = loadavg().map((l) => round(l, 2));
  const figures = await measureTransfers(ui, stack.agent.agentId, container, runs);
  const mbps = (samples: number[]) => round(spread(samples).median, 2);
  const ms = (samples: number[], p: number) => round(percentile(samples, p), 1);
  console.log(
    JSON.stringify({
      loadBefore: load,
      loadAfter: loadavg().map((l) => round(l, 2)),
      uploadMBps: figures.upload.map((v) => round(v, 2)),
      downloadMBps: figures.download.map((v) => round(v, 2)),
      uploadMBpsMedian: mbps(figures.upload),
      downloadMBpsMedian: mbps(figures.download),
      echoDuringUploadP50Ms: ms(figures.echoDuringUpload, 50),
      echoDuringUploadP99Ms: ms(figures.echoDuringUpload, 99),
      echoDuringDownloadP50Ms: ms(figures.echoDuringDownload, 50),
      echoDuringDownloadP99Ms: ms(figures.echoDuringDownload, 99),
    }),
  );
} finally {
  await stack.close();
}
