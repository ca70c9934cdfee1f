import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerTargets } from '../src/docker-targets.js';
import { startExec, type ExecHandle } from '../src/exec-handle.js';
import { ensureDocker, startContainer, TEST_IMAGE_SH, type TestContainer } from '../../harness/docker.js';

async function readUntil(handle: ExecHandle, pattern: RegExp): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify(text)}`)), 15_000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (pattern.test(text)) {
        clearTimeout(timer);
        handle.stream.off('data', onData);
        resolve(text);
      }
    };
    handle.stream.on('data', onData);
  });
}

/** Asks the shell its size (`stty size`) until it says `rowsxcols` (at most 100 times); its last answer. */
async function askSize(handle: ExecHandle, size: string): Promise<string> {
  let seen = '';
  for (let i = 0; i < 100 && !seen.includes(`SIZE-${size}-END`); i++) {
    const answer = readUntil(handle, /SIZE-[\dx]*-END/);
    handle.stream.write("echo SIZE-$(stty size 2>/dev/null | tr ' ' x)-END\n");
    seen = await answer;
    if (!seen.includes(`SIZE-${size}-END`)) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return seen;
}

describe('exec handle', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  let bash: TestContainer;
  let sh: TestContainer;
  const opened: ExecHandle[] = [];

  before(async () => {
    await ensureDocker();
    [bash, sh] = await Promise.all([
      startContainer({ namePrefix: 'tether-exec-bash' }),
      startContainer({ namePrefix: 'tether-exec-sh', image: TEST_IMAGE_SH }),
    ]);
  });

  after(async () => {
    // The hijacked socket stays half-open after the process ends: the owner destroys it.
    for (const handle of opened) handle.stream.destroy();
    await Promise.all([bash, sh].filter(Boolean).map((c) => c.remove()));
  });

  async function open(container: TestContainer, shells = ['/bin/bash', '/bin/sh'], cols = 80, rows = 24) {
    const target = await targets.resolve(container.name);
    assert.ok(target.ok);
    const handle = await startExec(target.value, { shells, cols, rows, env: ['TETHER_SESSION=test'] });
    if (handle.ok) opened.push(handle.value);
    return handle;
  }

  test('runs a command and returns its output and exit code', async () => {
    const handle = await open(bash);
    assert.ok(handle.ok);
    const ended = new Promise((resolve) => handle.value.stream.once('end', resolve));
    handle.value.stream.on('data', () => undefined);
    const seen = readUntil(handle.value, /hello-tether/);
    handle.value.stream.write('echo hello-$((1+0))tether | tr -d 1; exit 3\n');
    await seen;
    await ended;
    assert.equal(await handle.value.exitCode(), 3);
  });

  test('prefers /bin/bash where it exists', async () => {
    const handle = await open(bash);
    assert.ok(handle.ok);
    assert.equal(handle.value.shell, '/bin/bash');
    handle.value.stream.write('exit\n');
  });

  test('falls back to /bin/sh where bash is missing', async () => {
    const handle = await open(sh);
    assert.ok(handle.ok);
    assert.equal(handle.value.shell, '/bin/sh');
    const seen = readUntil(handle.value, /sh-works/);
    handle.value.stream.write('echo sh-""works; exit\n');
    await seen;
  });

  test('no shell from the list is NO_SHELL', async () => {
    const handle = await open(sh, ['/bin/bash', '/usr/bin/zsh']);
    assert.ok(!handle.ok);
    assert.equal(handle.error.code, 'NO_SHELL');
  });

  test('gets the console size at once, and a resize reaches the PTY', async () => {
    const handle = await open(bash, ['/bin/bash'], 101, 33);
    assert.ok(handle.ok);
    // Engines of API 1.42 and later start the exec at that size (ConsoleSize); older ones (Docker
    // 20.10 here) get a resize right after the start, which startExec does not wait for, and until
    // it lands the terminal is 0x0 (`stty size` fails): ask until the shell sees the size.
    assert.match(await askSize(handle.value, '33x101'), /SIZE-33x101-END/);
    // Once Docker has answered the resize: on Docker 20.10 the shell saw the old size now and then
    // (one clean-clone run of many, three test files at a time), so this asks again too.
    await handle.value.resize(120, 40);
    assert.match(await askSize(handle.value, '40x120'), /SIZE-40x120-END/);
    handle.value.stream.write('exit\n');
  });
});
