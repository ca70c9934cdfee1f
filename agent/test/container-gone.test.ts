/**
 * A shell that ends because its container did (stopped, killed, restarted, removed: a PLC program
 * update, an orchestrator, a crash under a restart policy), with the real engine and the agent's
 * session code: the console's `exit` says what became of the container, where it used to say only
 * that the shell exited with 137. A shell that exits on its own, with any code, says nothing more.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerTargets } from '../src/docker-targets.js';
import { setLogLevel } from '../src/log.js';
import { SessionRegistry } from '../src/session-registry.js';
import { AgentTtyChannel } from '../src/tty-channel.js';
import { docker, ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { FakeChannel } from './support/fake-channel.js';

setLogLevel('error');

describe('a shell that ends with its container', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  const registry = new SessionRegistry();
  const containers: TestContainer[] = [];

  after(async () => {
    try {
      await registry.endAll('test over');
    } finally {
      await Promise.all(containers.map((c) => c.remove()));
    }
  });
  before(() => ensureDocker());

  async function vplc(runArgs: string[] = []): Promise<TestContainer> {
    const container = await startContainer({ namePrefix: 'tether-gone', runArgs });
    containers.push(container);
    return container;
  }

  /** A terminal in `container` that has run a command, so its shell is up. */
  async function terminal(container: TestContainer): Promise<FakeChannel> {
    const channel = new FakeChannel();
    new AgentTtyChannel(channel, { targets, shells: ['/bin/bash'], peerId: 'test', owner: 'console:test', registry });
    channel.deliver({ type: 'open', target: container.name, cols: 80, rows: 24 });
    await channel.until(() => channel.messages().some((m) => m.type === 'opened' || m.type === 'error'), 'an answer to open');
    assert.equal(channel.messages()[0]?.type, 'opened', JSON.stringify(channel.messages()));
    channel.deliver(Buffer.from('echo up-$((3*3))\n'));
    await channel.until(() => channel.output().includes('up-9'), 'the shell answering');
    return channel;
  }

  async function exitOf(channel: FakeChannel): Promise<Record<string, unknown>> {
    await channel.until(() => channel.messages().some((m) => m.type === 'exit' || m.type === 'error'), 'the end of the session', 30_000);
    const end = channel.messages().find((m) => m.type === 'exit' || m.type === 'error')!;
    assert.equal(end.type, 'exit', JSON.stringify(channel.messages()));
    return end;
  }

  test('docker stop: exit says the container stopped', async () => {
    const container = await vplc();
    const channel = await terminal(container);
    await docker('stop', '-t', '1', container.id);
    assert.deepEqual(await exitOf(channel), { type: 'exit', code: 137, container: 'stopped' });
  });

  test('docker kill: the same', async () => {
    const container = await vplc();
    const channel = await terminal(container);
    await docker('kill', container.id);
    const exit = await exitOf(channel);
    assert.equal(exit.container, 'stopped', JSON.stringify(exit));
  });

  test('a container restarted by its restart policy: exit says it restarted', async () => {
    const container = await vplc(['--restart', 'always']);
    const channel = await terminal(container);
    // The runtime crashes: its main process (pid 1's child under --init) dies, the policy restarts it.
    await docker('exec', container.id, 'sh', '-c', 'kill -9 $(pidof sleep)');
    assert.equal((await exitOf(channel)).container, 'restarted');
  });

  test('docker restart: exit says the container restarted', async () => {
    const container = await vplc();
    const channel = await terminal(container);
    await docker('restart', '-t', '1', container.id);
    assert.equal((await exitOf(channel)).container, 'restarted');
  });

  test('docker rm -f: exit says the container was removed (or stopped, when asked before it was gone)', async () => {
    const container = await vplc();
    const channel = await terminal(container);
    await docker('rm', '-f', container.id);
    assert.match(String((await exitOf(channel)).container), /^(removed|stopped)$/);
  });

  test('a shell that exits on its own, even with 137, while its container runs: exit carries its code and nothing more', async () => {
    const container = await vplc();
    const channel = await terminal(container);
    channel.deliver(Buffer.from('exit 137\n'));
    assert.deepEqual(await exitOf(channel), { type: 'exit', code: 137 });
    const again = await terminal(container);
    again.deliver(Buffer.from('exit 4\n'));
    assert.deepEqual(await exitOf(again), { type: 'exit', code: 4 });
  });
});
