/**
 * Bytes after Ctrl-C during a flood, for `npm run bench` (issue 16): a console that acknowledges
 * as soon as it receives (the best a console can do) runs `yes`, lets it flood, presses Ctrl-C and
 * counts the output that still arrives before the shell's next output. What arrives is what was
 * already produced and held on the way: the agent's window (HIGH_WATERMARK_BYTES unacknowledged
 * plus one read of the exec stream), the socket buffers between Docker and the agent, Docker's own
 * copy buffer and the PTY's. protocol/README.md ("Flow control") states the bound.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { patchedWerift } from '../harness/patched-werift.js';
import { startAgent } from '../harness/agent-process.js';
import { startContainer } from '../harness/docker.js';
import { HIGH_WATERMARK_BYTES } from '@tether/protocol';
import { enrollConsole, SoakPeer, type SoakTerminal } from './soak/soak-console.js';

const cli = fileURLToPath(new URL('../agent/dist/cli.js', import.meta.url));
/** How much `yes` output the console takes before the Ctrl-C: the flood is in its steady state. */
const FLOOD_BYTES = 4 * 1024 * 1024;

export interface BytesAfterCtrlC {
  /** bytes received after the Ctrl-C was sent, one per run, by a console that acks every ACK_BATCH_BYTES */
  samples: number[];
  /** the same by a console that lags: it acks only every LAGGING_ACK_BYTES (a slow parser) */
  laggingSamples: number[];
}

/** A lagging console's acks: half the window, so up to the whole window is unacknowledged at any time. */
export const LAGGING_ACK_BYTES = HIGH_WATERMARK_BYTES / 2;

export async function bytesAfterCtrlC(runs = 5): Promise<BytesAfterCtrlC> {
  const runId = randomBytes(3).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), `tether-bench-ctrlc-${runId}-`));
  const container = await startContainer({ namePrefix: `tether-bench-ctrlc-${runId}`, labels: { 'tether.benchctrlc': runId } });
  const agent = await startAgent({
    lanListen: '127.0.0.1:0',
    agentId: `bench-ctrlc-${runId}`,
    name: 'bench Ctrl-C agent',
    stateDir,
    extraArgs: ['--label', `tether.benchctrlc=${runId}`, '--log-level', 'info'],
  });
  try {
    const w = await patchedWerift();
    const enrolled = await enrollConsole(cli, stateDir, `http://127.0.0.1:${agent.lanPort}`);
    const peer = await SoakPeer.connect(w, enrolled.console, enrolled.agent);
    const measure = async (term: SoakTerminal): Promise<number[]> => {
      await term.prompt();
      const samples: number[] = [];
      for (let run = 0; run < runs; run++) {
        await term.run(`echo ready-$((${run}*7))`, `ready-${run * 7}`);
        const start = term.received;
        term.send(Buffer.from('yes\n'));
        while (term.received - start < FLOOD_BYTES) await new Promise((r) => setTimeout(r, 10));
        const atCtrlC = term.received;
        term.send(Uint8Array.of(3));
        term.send(Buffer.from(`echo after-$((${run}*6))\n`));
        samples.push((await term.waitFor(`after-${run * 6}`)) - atCtrlC);
      }
      await term.close();
      return samples;
    };
    const samples = await measure(await peer.terminal(container.name));
    const laggingSamples = await measure(await peer.terminal(container.name, 30_000, LAGGING_ACK_BYTES));
    await peer.close();
    enrolled.console.close();
    return { samples, laggingSamples };
  } finally {
    await agent.stop();
    await container.remove();
  }
}
