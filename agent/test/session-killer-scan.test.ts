/**
 * The host kill's scan against a /proc of our making, with real processes behind its pids: a
 * process caught in `execve` reads an empty environment, which is what the kill sees when it comes
 * as the session's script `exec`s the shell (a tab closed at once, before the shell runs).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KILL_GRACE_MS, killOnHost, scanSession, SESSION_MARKER } from '../src/session-killer.js';

const NAMESPACE = 'pid:[4026539999]';

describe('the host kill, against a /proc of processes in execve', () => {
  const root = mkdtempSync(join(tmpdir(), 'tether-fake-proc-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  /**
   * A real `sleep` whose entry in the fake /proc says: Linux session `sid` (its own pid when 0),
   * environment `environ` (empty: in execve). The entry goes when the process ends, as in /proc.
   */
  function fakeProcess(
    environ: string,
    sid = 0,
    command = ['sleep', '600'],
  ): { child: ChildProcess; pid: number; exited: Promise<NodeJS.Signals | null> } {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid!;
    const dir = join(root, String(pid));
    mkdirSync(join(dir, 'ns'), { recursive: true });
    symlinkSync(NAMESPACE, join(dir, 'ns', 'pid'));
    writeFileSync(join(dir, 'stat'), `${pid} (sh) S 1 ${pid} ${sid || pid} 34816 ${pid} 4194560 0 0 0 0`);
    writeFileSync(join(dir, 'environ'), environ);
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => {
        rmSync(dir, { recursive: true, force: true });
        resolve(signal);
      }),
    );
    return { child, pid, exited };
  }

  const environOf = (sessionId: string) => `PATH=/bin\0${SESSION_MARKER}=${sessionId}\0`;

  test('the exec in execve is uncertain: neither a member nor passed over', async () => {
    const shell = fakeProcess('');
    const scan = await scanSession({ sid: shell.pid, sessionId: 's-scan', pidNamespace: NAMESPACE }, root);
    assert.deepEqual(scan, { members: [], uncertain: [shell.pid] });
    shell.child.kill('SIGKILL');
    await shell.exited;
  });

  test("a kill that comes while the shell is being exec'd waits for its environment, then kills it", async () => {
    const sessionId = 's-exec';
    const shell = fakeProcess('');
    const killing = killOnHost({ sid: shell.pid, sessionId, pidNamespace: NAMESPACE }, root);
    // The execve completes after the kill's first scan: the environment now carries the marker.
    setTimeout(() => writeFileSync(join(root, String(shell.pid), 'environ'), environOf(sessionId)), 120);
    assert.deepEqual(await killing, [shell.pid]);
    assert.equal(await shell.exited, 'SIGHUP', 'the shell was killed');
  });

  test('an unread process of another Linux session is neither waited for nor signalled', async () => {
    const sessionId = 's-other';
    const shell = fakeProcess(environOf(sessionId));
    const stranger = fakeProcess('', 1);
    assert.deepEqual(await killOnHost({ sid: shell.pid, sessionId, pidNamespace: NAMESPACE }, root), [shell.pid]);
    assert.equal(await shell.exited, 'SIGHUP');
    assert.equal(stranger.child.exitCode, null);
    assert.equal(stranger.child.signalCode, null, 'the stranger still runs');
    stranger.child.kill('SIGKILL');
    await stranger.exited;
  });

  test('an environment that never becomes readable is given up after the grace, its process not signalled', async () => {
    const sessionId = 's-never';
    const shell = fakeProcess('');
    const started = Date.now();
    assert.deepEqual(await killOnHost({ sid: shell.pid, sessionId, pidNamespace: NAMESPACE }, root), []);
    assert.ok(Date.now() - started >= KILL_GRACE_MS, 'it looked again until past the grace');
    assert.equal(shell.child.signalCode, null, 'a process the kill could not tell as ours is never signalled');
    shell.child.kill('SIGKILL');
    await shell.exited;
  });

  test('a wall clock stepped back an hour during the kill does not hold off the SIGKILL', async () => {
    const sessionId = 's-clock';
    // A shell that ignores SIGHUP: only the SIGKILL after the grace ends it.
    const shell = fakeProcess(environOf(sessionId), 0, ['sh', '-c', "trap '' HUP; exec sleep 600"]);
    for (;;) {
      const status = readFileSync(`/proc/${shell.pid}/status`, 'utf8');
      const ignored = BigInt(`0x${/^SigIgn:\s+([0-9a-f]+)/m.exec(status)![1]}`);
      if (/^Name:\s+sleep$/m.test(status) && (ignored & 1n) === 1n) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // NTP corrects a clock that ran ahead, just after the kill took its first reading.
    const wallClock = Date.now;
    let readings = 0;
    Date.now = () => wallClock() - (readings++ > 0 ? 3_600_000 : 0);
    try {
      assert.deepEqual(await killOnHost({ sid: shell.pid, sessionId, pidNamespace: NAMESPACE }, root), [shell.pid]);
    } finally {
      Date.now = wallClock;
    }
    assert.equal(await shell.exited, 'SIGKILL', 'the shell that ignored SIGHUP was killed once the grace was over');
  });
});
