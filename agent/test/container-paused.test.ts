/**
 * A vPLC container paused (`docker pause`: its processes frozen by the cgroup freezer) under the
 * agent, with the real engine and the agent's session code: opening a terminal says so in words,
 * a terminal already open waits for the container and loses nothing, and closing a tab of a paused
 * container ends its shell and does not wait on the container.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerTargets } from '../src/docker-targets.js';
import { setLogLevel } from '../src/log.js';
import { SessionRegistry } from '../src/session-registry.js';
import { AgentTtyChannel } from '../src/tty-channel.js';
import { AuditLog } from '../src/audit.js';
import { AgentFileChannel } from '../src/transfer/file-channel.js';
import { TransferRules } from '../src/transfer/transfer-rules.js';
import { docker, ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { FakeChannel } from './support/fake-channel.js';
import { fakeTtySession } from './support/fake-tty-session.js';

setLogLevel(process.env.TETHER_TEST_LOG === 'debug' ? 'debug' : 'error');

describe('a paused container', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  const registry = new SessionRegistry();
  let vplc: TestContainer;

  before(async () => {
    await ensureDocker();
    vplc = await startContainer({ namePrefix: 'tether-paused' });
  });
  after(async () => {
    await docker('unpause', vplc.id).catch(() => undefined);
    try {
      await registry.endAll('test over');
    } finally {
      await vplc?.remove();
    }
  });

  async function open(): Promise<{ channel: FakeChannel; session: AgentTtyChannel }> {
    const channel = new FakeChannel();
    const session = new AgentTtyChannel(channel, { targets, shells: ['/bin/bash'], peerId: 'test', owner: 'console:test', registry });
    channel.deliver({ type: 'open', target: vplc.name, cols: 80, rows: 24 });
    await channel.until(() => channel.messages().some((m) => m.type === 'opened' || m.type === 'error'), 'an answer to open');
    return { channel, session };
  }

  test('opening a terminal on it is refused with TARGET_NOT_RUNNING, in words that say paused and how to resume it', async () => {
    await docker('pause', vplc.id);
    try {
      const { channel } = await open();
      const error = channel.messages().find((m) => m.type === 'error');
      assert.equal(error?.code, 'TARGET_NOT_RUNNING', JSON.stringify(channel.messages()));
      assert.match(String(error?.message), /paused/);
      assert.match(String(error?.message), /unpause/);
    } finally {
      await docker('unpause', vplc.id);
    }
  });

  test('a terminal open while it is paused and unpaused loses nothing: input typed meanwhile runs once it runs again', async () => {
    const { channel, session } = await open();
    channel.deliver(Buffer.from('echo before-$((1+1))\n'));
    await channel.until(() => channel.output().includes('before-2'), 'echo before the pause');
    await docker('pause', vplc.id);
    channel.deliver(Buffer.from('echo during-$((2+2))\n'));
    channel.deliver({ type: 'resize', cols: 100, rows: 30 });
    await docker('unpause', vplc.id);
    await channel.until(() => channel.output().includes('during-4'), 'the input typed during the pause, run after it');
    // Docker refuses the resize while the container is paused; the agent asks again until it runs.
    await channel.until(
      () => {
        if (!channel.output().includes('SIZE 30 100')) channel.deliver(Buffer.from('echo SIZE $(stty size)\n'));
        return channel.output().includes('SIZE 30 100');
      },
      'the resize sent during the pause',
      30_000,
    );
    assert.ok(channel.isOpen, 'the terminal is still open');
    assert.ok(!channel.messages().some((m) => m.type === 'error' || m.type === 'exit'), JSON.stringify(channel.messages()));
    await session.current!.dispose('test');
  });

  test('closing a tab of a paused container ends its shell, without waiting for the container to run again', async () => {
    const { channel, session } = await open();
    channel.deliver(Buffer.from('sleep 1007\n'));
    for (;;) {
      if ((await vplc.processes()).some((p) => p.includes('sleep 1007'))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const running = session.current!;
    const shellPid = running.hostPid;
    assert.ok(shellPid > 0, 'the shell has a host pid');
    await docker('pause', vplc.id);
    channel.deliver({ type: 'close' });
    await running.ended;
    assert.ok(!channel.isOpen);
    // A frozen process takes its signal when it is thawed (cgroup v1's freezer; v2 kills at once).
    await docker('unpause', vplc.id);
    for (;;) {
      const left = (await vplc.processes()).filter((p) => p.includes('sleep 1007') || p.startsWith(`${shellPid} `));
      if (left.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  test('a transfer in it is refused with TARGET_NOT_RUNNING, in words', async () => {
    // A registry of its own: the stand-in session is not one the suite's `after` can end.
    const files = new SessionRegistry();
    files.add(fakeTtySession(new Docker(), vplc, 'session-paused', 'console:test'));
    const audit = new AuditLog(join(mkdtempSync(join(tmpdir(), 'tether-paused-audit-')), 'audit.jsonl'));
    await docker('pause', vplc.id);
    try {
      const port = new FakeChannel('file:test');
      new AgentFileChannel(port, {
        registry: files,
        rules: new TransferRules({ mode: 'both', maxBytes: 0, containers: {} }),
        audit,
        who: { path: 'lan', connection: 'test-connection' },
        owner: 'console:test',
        peerId: 'test',
      });
      port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-paused', path: '/etc/hostname' });
      await port.until(() => port.messages().some((m) => m.type === 'error' && m.fatal === true), 'the refusal');
      const error = port.messages().find((m) => m.type === 'error');
      assert.equal(error?.code, 'TARGET_NOT_RUNNING', JSON.stringify(port.messages()));
      assert.match(String(error?.message), /paused.*unpause/);
    } finally {
      await docker('unpause', vplc.id);
      audit.close();
    }
  });
});
