import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerTargets } from '../src/docker-targets.js';
import { startExec, type ExecBridge } from '../src/exec-bridge.js';
import { ensureDocker, startContainer, TEST_IMAGE_SH, type TestContainer } from '../../test/support/docker.js';

async function readUntil(bridge: ExecBridge, pattern: RegExp): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify(text)}`)), 15_000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (pattern.test(text)) {
        clearTimeout(timer);
        bridge.stream.off('data', onData);
        resolve(text);
      }
    };
    bridge.stream.on('data', onData);
  });
}

describe('exec bridge', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  let bash: TestContainer;
  let sh: TestContainer;
  const opened: ExecBridge[] = [];

  before(async () => {
    await ensureDocker();
    [bash, sh] = await Promise.all([
      startContainer({ namePrefix: 'tether-exec-bash' }),
      startContainer({ namePrefix: 'tether-exec-sh', image: TEST_IMAGE_SH }),
    ]);
  });

  after(async () => {
    // The hijacked socket stays half-open after the process ends: the owner destroys it.
    for (const bridge of opened) bridge.stream.destroy();
    await Promise.all([bash, sh].filter(Boolean).map((c) => c.remove()));
  });

  async function open(container: TestContainer, shells = ['/bin/bash', '/bin/sh'], cols = 80, rows = 24) {
    const target = await targets.resolve(container.name);
    assert.ok(target.ok);
    const bridge = await startExec(target.value, { shells, cols, rows, env: ['TETHER_SESSION=test'] });
    if (bridge.ok) opened.push(bridge.value);
    return bridge;
  }

  test('runs a command and returns its output and exit code', async () => {
    const bridge = await open(bash);
    assert.ok(bridge.ok);
    const ended = new Promise((resolve) => bridge.value.stream.once('end', resolve));
    bridge.value.stream.on('data', () => undefined);
    const seen = readUntil(bridge.value, /hello-tether/);
    bridge.value.stream.write('echo hello-$((1+0))tether | tr -d 1; exit 3\n');
    await seen;
    await ended;
    assert.equal(await bridge.value.exitCode(), 3);
  });

  test('prefers /bin/bash where it exists', async () => {
    const bridge = await open(bash);
    assert.ok(bridge.ok);
    assert.equal(bridge.value.shell, '/bin/bash');
    bridge.value.stream.write('exit\n');
  });

  test('falls back to /bin/sh where bash is missing', async () => {
    const bridge = await open(sh);
    assert.ok(bridge.ok);
    assert.equal(bridge.value.shell, '/bin/sh');
    const seen = readUntil(bridge.value, /sh-works/);
    bridge.value.stream.write('echo sh-""works; exit\n');
    await seen;
  });

  test('no shell from the list is NO_SHELL', async () => {
    const bridge = await open(sh, ['/bin/bash', '/usr/bin/zsh']);
    assert.ok(!bridge.ok);
    assert.equal(bridge.error.code, 'NO_SHELL');
  });

  test('starts at the console size, and a resize reaches the PTY', async () => {
    const bridge = await open(bash, ['/bin/bash'], 101, 33);
    assert.ok(bridge.ok);
    const first = readUntil(bridge.value, /SIZE 33 101/);
    bridge.value.stream.write('echo SIZE $(stty size)\n');
    await first;
    await bridge.value.resize(120, 40);
    const second = readUntil(bridge.value, /SIZE 40 120/);
    bridge.value.stream.write('echo SIZE $(stty size)\n');
    await second;
    bridge.value.stream.write('exit\n');
  });
});
