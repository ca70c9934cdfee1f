/**
 * The flow-control rules of protocol/README.md on the built agent, a real container and a werift
 * console that never acknowledges (issue 16): the agent sends at most HIGH_WATERMARK_BYTES plus one
 * batch ahead of the console's acks, stops reading the process once more than the window is
 * unacknowledged, and reads again once acks bring it under the low watermark. The figures come
 * from the agent's own debug stats (SIGUSR2), so nothing is judged by a clock.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HIGH_WATERMARK_BYTES, LOW_WATERMARK_BYTES, OUTPUT_BATCH_BYTES } from '@tether/protocol';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { AgentProcess, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { until, type TestConsole } from '../../harness/werift-console.js';

interface Flow {
  produced: number;
  sent: number;
  acked: number;
  paused: boolean;
  /** the channel's bufferedAmount */
  buffered: number;
}

describe('flow control on the real agent', () => {
  let agent: AgentProcess;
  let container: TestContainer;
  let w: Werift;
  let console: TestConsole;
  let agentInfo: Awaited<ReturnType<typeof pairedConsole>>['agentInfo'];

  before(async () => {
    process.env['TETHER_AGENT_DEBUG_STATS'] = '1';
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    container = await startContainer({ namePrefix: 'tether-flow-rules' });
    agent = await AgentProcess.start(mkdtempSync(join(tmpdir(), 'tether-flow-rules-')));
    ({ console, agentInfo } = await pairedConsole(agent));
  });

  after(async () => {
    console?.close();
    await agent?.stop();
    await container?.remove();
  });

  /** Polls an asynchronous condition; the test runner's timeout bounds it. */
  async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The session's output flow as the agent reports it in a debug-stats sample. */
  async function flow(sessionId: string): Promise<Flow | undefined> {
    const isSample = (line: string) => line.includes('"msg":"debug stats"');
    const before = agent.logs.split('\n').filter(isSample).length;
    agent.child.kill('SIGUSR2');
    const sample = await until(
      () => {
        const samples = agent.logs.split('\n').filter(isSample);
        return samples.length > before ? samples.at(-1) : undefined;
      },
      'a debug stats sample',
      10_000,
    );
    const figures = (JSON.parse(sample) as { figures: Record<string, { output?: Flow } & Partial<Flow>> }).figures[`session:${sessionId}`];
    return figures?.output ?? (figures as Flow | undefined);
  }

  test('with no acks: at most the window plus one batch is sent, reading stops past the window, and acks let it read again', async () => {
    const terminal = await openTerminal(w, console, agentInfo, container.name);
    assert.equal(terminal.first.type, 'opened', JSON.stringify(terminal.first));
    const sessionId = terminal.first.sessionId as string;
    const received = () => terminal.term.output().length;
    terminal.tty.send(Buffer.from('yes flood-line-of-output\n'));
    // The agent stops: reading paused with its channel's buffer empty, and all it sent arrived.
    // (Whatever the window: with the rules joined it stopped for good at 314-348 KB, issue 16.)
    const f = await eventually(async () => {
      const sample = await flow(sessionId);
      return sample?.paused && sample.buffered === 0 && sample.sent === sample.acked + received() ? sample : undefined;
    });
    assert.equal(f.acked, 0);
    assert.ok(f.sent > HIGH_WATERMARK_BYTES - OUTPUT_BATCH_BYTES && f.sent <= HIGH_WATERMARK_BYTES + OUTPUT_BATCH_BYTES, `sent ${f.sent}`);
    assert.ok(f.produced > HIGH_WATERMARK_BYTES, `read ${f.produced}: past the window, not stopped early by the channel's buffer`);
    // What the agent read beyond the window is one read of the exec stream at most.
    assert.ok(f.produced - HIGH_WATERMARK_BYTES <= 64 * 1024, `read ${f.produced - HIGH_WATERMARK_BYTES} past the window`);
    // Acks of everything received bring it under the low watermark: reading goes on.
    terminal.tty.send(JSON.stringify({ type: 'ack', bytes: received() }));
    await eventually(async () => {
      const g = await flow(sessionId);
      return g !== undefined && g.produced > f.produced ? g : undefined;
    });
    assert.ok(LOW_WATERMARK_BYTES < HIGH_WATERMARK_BYTES);
    terminal.tty.send(Buffer.from([3]));
    await terminal.close();
  });
});
