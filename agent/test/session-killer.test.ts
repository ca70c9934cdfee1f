import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerTargets } from '../src/docker-targets.js';
import { startExec } from '../src/exec-handle.js';
import { hostSeesProcess, killSession } from '../src/session-killer.js';
import { ensureDocker, startContainer, TEST_IMAGE_SH, type TestContainer } from '../../harness/docker.js';

async function waitForPid(currentPid: () => Promise<number>): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const pid = await currentPid();
    if (pid > 0 || Date.now() > deadline) return pid;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('session killer', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  let container: TestContainer;

  before(async () => {
    await ensureDocker();
    container = await startContainer({ namePrefix: 'tether-killer', image: TEST_IMAGE_SH });
  });

  after(async () => {
    await container?.remove();
  });

  // 1000:1000 is the agent's default exec user: root in the container cannot read its environ.
  const cases = [
    { hostVisible: true, user: undefined },
    { hostVisible: false, user: undefined },
    { hostVisible: false, user: '1000:1000' },
  ];
  for (const { hostVisible, user } of cases) {
    test(`kills the shell, its jobs and what escaped its session (${hostVisible ? 'host /proc' : 'in-container fallback'}, user ${user ?? "the container's"})`, async () => {
      const sessionId = `kill-${hostVisible}-${user ? 'plc' : 'default'}`;
      const target = await targets.resolve(container.name);
      assert.ok(target.ok, JSON.stringify(target));
      const handle = await startExec(target.value, { shells: ['/bin/sh'], cols: 80, rows: 24, env: [`TETHER_SESSION=${sessionId}`], user });
      assert.ok(handle.ok);
      handle.value.stream.on('data', () => undefined);
      // A busy engine may report the pid only after start (as the agent does, ask again).
      const pid = hostVisible ? await waitForPid(() => handle.value.currentPid()) : await handle.value.currentPid();
      if (hostVisible) assert.ok(await hostSeesProcess(pid, sessionId), `the host sees pid ${pid}`);
      // A job, a new Linux session (setsid), one that ignores SIGHUP (nohup), a double fork
      // (reparented to the container's init), and the foreground command.
      handle.value.stream.write('sleep 1031 &\nsetsid sleep 1034 &\nnohup sleep 1035 &\n(sleep 1036 &)\nsleep 1032\n');
      const sleeps = async () => (await container.processes()).filter((p) => /sleep 103[12456]/.test(p));
      const deadline = Date.now() + 15_000;
      while ((await sleeps()).length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal((await sleeps()).length, 5, (await sleeps()).join('\n'));
      handle.value.stream.destroy();
      const killed = await killSession(target.value.container, pid, sessionId, hostVisible, { user });
      assert.equal(killed.method, hostVisible ? 'host-proc' : 'container-exec');
      assert.ok(killed.found >= 5, `found ${killed.found}`);
      assert.deepEqual(await sleeps(), []);
    });
  }

  test('a session whose pid Docker reported late is still killed from the host', async () => {
    const sessionId = 'kill-late-pid';
    const target = await targets.resolve(container.name);
    assert.ok(target.ok, JSON.stringify(target));
    const handle = await startExec(target.value, {
      shells: ['/bin/sh'],
      cols: 80,
      rows: 24,
      env: [`TETHER_SESSION=${sessionId}`],
      user: '1000:1000',
    });
    assert.ok(handle.ok);
    handle.value.stream.on('data', () => undefined);
    handle.value.stream.write('sleep 1033\n');
    const sleeps = async () => (await container.processes()).filter((p) => /sleep 1033/.test(p));
    const deadline = Date.now() + 15_000;
    while ((await sleeps()).length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    handle.value.stream.destroy();
    // As at start under load: pid 0, not visible; the kill asks Docker again.
    const killed = await killSession(target.value.container, 0, sessionId, false, {
      user: '1000:1000',
      resolvePid: () => handle.value.currentPid(),
    });
    assert.equal(killed.method, 'host-proc');
    assert.deepEqual(await sleeps(), []);
  });
});
