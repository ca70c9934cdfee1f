/**
 * The terminal channel's own bound (agent/src/tty-channel.ts): input sent after `open` waits for
 * the exec to start, at most MAX_QUEUED_INPUT_BYTES of it. A real AgentTtyChannel on a real container;
 * only the data channel is in memory, with a clock the test moves for the once-a-second answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { MAX_QUEUED_INPUT_BYTES } from '@tether/protocol';
import { DockerTargets } from '../src/docker-targets.js';
import { setLogLevel } from '../src/log.js';
import { NOTICE_INTERVAL_MS } from '../src/rate-limit.js';
import { SessionRegistry } from '../src/session-registry.js';
import { AgentTtyChannel } from '../src/tty-channel.js';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { FakeChannel } from './support/fake-channel.js';

setLogLevel('error');

/** No-op command lines of 1 KiB each, `bytes` in all: input the shell reads and forgets. */
function noOpLines(bytes: number): Buffer {
  return Buffer.from(`:${' '.repeat(1022)}\n`.repeat(bytes / 1024));
}

describe('tty channel', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  const registry = new SessionRegistry();
  let bash: TestContainer;

  before(async () => {
    await ensureDocker();
    bash = await startContainer({ namePrefix: 'tether-tty-channel' });
  });

  after(async () => {
    await registry.endAll('test over');
    await bash?.remove();
  });

  /** Waits for `marker` in the output, acknowledging output as it comes, like a console that renders it. */
  async function outputIncludes(channel: FakeChannel, marker: string): Promise<void> {
    let acked = 0;
    await channel.until(
      () => {
        const total = channel.outputBytes();
        if (total > acked) {
          channel.deliver({ type: 'ack', bytes: total - acked });
          acked = total;
        }
        return channel.output().includes(marker);
      },
      `output ${marker}`,
      30_000,
    );
  }

  test('input over the bound before opened is refused once a second and not written; input after opened is not bounded', async () => {
    let now = 0;
    const channel = new FakeChannel();
    new AgentTtyChannel(channel, { targets, shells: ['/bin/bash'], peerId: 'test', owner: 'console:test', registry, now: () => now });
    const rateLimited = () => channel.messages().filter((m) => m.code === 'RATE_LIMITED');

    // Everything up to `opened` below is delivered in one turn of the event loop, so the exec is
    // still starting: the channel is between `open` and `opened` throughout.
    channel.deliver({ type: 'open', target: bash.name, cols: 80, rows: 24 });
    const first = Buffer.from('echo queued-$((1+1))\n');
    channel.deliver(first);
    channel.deliver(noOpLines(32 * 1024));
    channel.deliver({ type: 'input', data: noOpLines(31 * 1024).toString() });
    const queued = first.length + 63 * 1024;
    const over = Buffer.from(`echo dropped-$((2+2)) ${'b'.repeat(MAX_QUEUED_INPUT_BYTES - queued)}\n`);
    channel.deliver(over);
    channel.deliver({ type: 'input', data: over.toString().replace('2+2', '3+3') });
    channel.deliver(over);
    assert.ok(!channel.messages().some((m) => m.type === 'opened'), 'still opening');
    assert.equal(rateLimited().length, 1, 'three frames over the bound, one answer');
    assert.match(String(rateLimited()[0]?.message), /wait for the terminal to open; this input was not written/);
    now += NOTICE_INTERVAL_MS;
    channel.deliver(over);
    assert.equal(rateLimited().length, 2, 'a second later, another answer');
    channel.deliver({ type: 'resize', cols: 100, rows: 30 });
    channel.deliver({ type: 'ping', id: 7 });
    assert.deepEqual(
      channel.messages().map((m) => m.code ?? m.type),
      ['RATE_LIMITED', 'RATE_LIMITED', 'pong'],
      'other messages still handled',
    );

    await channel.until(
      () => channel.messages().some((m) => m.type === 'opened' || (m.type === 'error' && m.code !== 'RATE_LIMITED')),
      'opened',
    );
    assert.equal(channel.messages().find((m) => m.type !== 'error' && m.type !== 'pong')?.type, 'opened');
    // Once opened, twice the bound of input goes in, and the command after it runs.
    for (let i = 0; i < 8; i++) channel.deliver(noOpLines(16 * 1024));
    channel.deliver(Buffer.from('echo after-$((3*2))\n'));
    await outputIncludes(channel, 'after-6');
    // The shell reads its input in order: the refused commands would have run before this one.
    assert.ok(channel.output().includes('queued-2'), 'input within the bound was written');
    assert.ok(!/dropped-(4|6)/.test(channel.output()), 'input over the bound was not written');
    assert.equal(rateLimited().length, 2, 'no refusal after opened');
  });
});
