/**
 * The agent's rules end to end on the built agent, real Docker and a werift console over the LAN
 * endpoint: session limit, expose-name globs, recording, audit of a session's end, targets pushed
 * on container changes, revocation of a connected console, idle timeout, maximum duration, and the
 * state-folder lock.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PairedAgent } from '@tether/protocol';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { AgentProcess, cli, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { until, type TestConsole } from '../../harness/werift-console.js';

type AuditLine = { event: string; [k: string]: unknown };
const auditOf = (stateDir: string): AuditLine[] =>
  readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditLine);

describe('agent rules (built agent, real Docker, werift console)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-rules-state-'));
  const recordDir = join(mkdtempSync(join(tmpdir(), 'tether-rules-casts-')), 'casts');
  const containers: TestContainer[] = [];
  let w: Werift;
  let agent: AgentProcess;
  let paired: { console: TestConsole; agentInfo: PairedAgent };
  let plc: TestContainer;

  const container = async (options: Parameters<typeof startContainer>[0]) => {
    const c = await startContainer(options);
    containers.push(c);
    return c;
  };

  /** Ends a terminal and waits until the agent has released its session (slot, processes, audit). */
  const closed = async (t: { close(): Promise<void>; first: { type: string; sessionId?: unknown } }) => {
    await t.close();
    if (t.first.type !== 'opened') return;
    await until(() => auditOf(stateDir).some((l) => l.event === 'session.end' && l.sessionId === t.first.sessionId), 'session released');
  };

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    plc = await container({ namePrefix: 'tether-rules' });
    agent = await AgentProcess.start(stateDir, [
      '--max-sessions-per-container',
      '1',
      '--expose-name',
      'tether-named-*',
      '--record-dir',
      recordDir,
    ]);
    paired = await pairedConsole(agent);
  });

  after(async () => {
    paired?.console.close();
    await agent?.stop();
    await Promise.all(containers.map((c) => c.remove()));
  });

  test('a second session in a container is refused with SESSION_LIMIT; the first goes on', async () => {
    const first = await openTerminal(w, paired.console, paired.agentInfo, plc.name);
    assert.equal(first.first.type, 'opened', JSON.stringify(first.first));
    const second = await openTerminal(w, paired.console, paired.agentInfo, plc.name);
    assert.equal(second.first.type, 'error');
    assert.equal(second.first.code, 'SESSION_LIMIT');
    assert.match(second.first.message as string, /already has 1 session\(s\), the most this agent allows; close one first/);
    await first.run('echo still-$((40+2))', 'still-42');
    await closed(second);
    await closed(first);
  });

  test('--expose-name exposes an unlabelled container by name; others stay unexposed', async () => {
    const named = await container({ namePrefix: 'tether-named', labels: {} });
    const hidden = await container({ namePrefix: 'tether-hidden', labels: {} });
    const s = await openTerminal(w, paired.console, paired.agentInfo, named.name);
    assert.equal(s.first.type, 'opened', JSON.stringify(s.first));
    s.control.send(JSON.stringify({ type: 'list-targets' }));
    const listed = await until(() => s.controlMessages.find((m) => m.type === 'targets'), 'targets');
    const names = (listed.targets as { name: string }[]).map((t) => t.name);
    assert.ok(names.includes(named.name) && names.includes(plc.name), names.join());
    assert.ok(!names.includes(hidden.name), names.join());
    await closed(s);
    const refused = await openTerminal(w, paired.console, paired.agentInfo, hidden.name);
    assert.equal(refused.first.code, 'UNKNOWN_TARGET', JSON.stringify(refused.first));
    await closed(refused);
  });

  test('a session is recorded as asciicast v2; its output events are what the console received', async () => {
    const s = await openTerminal(w, paired.console, paired.agentInfo, plc.name, { cols: 100, rows: 30 });
    assert.equal(s.first.type, 'opened');
    const sessionId = s.first.sessionId as string;
    await s.run(
      "printf 'caf\\303\\251 \\342\\202\\254 %s\\n' $((6*7)); seq 1 2000 | tr '\\n' ' ' | head -c 9000; echo; echo end-$((7*7))",
      'end-49',
    );
    s.tty.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    // The resize is a Docker API call that may land after the next command runs: ask until it shows.
    let asked = 0;
    await until(() => {
      if (s.term.output().includes('size-40x120')) return true;
      if (asked++ % 20 === 0) s.tty.send(Buffer.from('echo size-$(stty size | tr " " x)\n'));
      return undefined;
    }, 'output size-40x120');
    await closed(s);
    const file = readdirSync(recordDir).find((name) => name.endsWith(`-${sessionId}.cast`));
    assert.ok(file, readdirSync(recordDir).join());
    assert.equal(statSync(join(recordDir, file)).mode & 0o777, 0o600);
    const [header, ...events] = readFileSync(join(recordDir, file), 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    const h = header as { version: number; width: number; height: number; timestamp: number; env: Record<string, string>; title: string };
    assert.deepEqual(
      [h.version, h.width, h.height, h.env.TERM, h.env.SHELL, h.title],
      [2, 100, 30, 'xterm-256color', '/bin/bash', `${plc.name} via tether`],
    );
    assert.ok(Math.abs(h.timestamp - Date.now() / 1000) < 120);
    const typed = events as [number, string, string][];
    const output = typed
      .filter((e) => e[1] === 'o')
      .map((e) => e[2])
      .join('');
    await until(() => s.term.output().length >= output.length || undefined, 'every frame at the console');
    assert.equal(output, s.term.output());
    assert.match(output, /café € 42/);
    assert.ok(
      typed.some((e) => e[1] === 'r' && e[2] === '120x40'),
      'the resize is recorded',
    );
    assert.ok(
      typed.every((e, i) => i === 0 || e[0] >= typed[i - 1]![0]),
      'times never go back',
    );
  });

  test('session.end in the audit log has the bytes each way and the exit code', async () => {
    const s = await openTerminal(w, paired.console, paired.agentInfo, plc.name);
    const sessionId = s.first.sessionId as string;
    s.tty.send(Buffer.from('exit 3\n'));
    const exit = await until(() => s.term.find((m) => m.type === 'exit'), 'exit');
    assert.equal(exit.code, 3);
    const end = await until(() => auditOf(stateDir).find((l) => l.event === 'session.end' && l.sessionId === sessionId), 'session.end');
    assert.equal(end.exitCode, 3);
    assert.equal(end.bytesIn, 'exit 3\n'.length);
    assert.ok((end.bytesOut as number) > 0);
    assert.equal(end.container, plc.name);
    assert.equal(end.consoleId, paired.console.consoleId);
    await closed(s);
  });

  test('targets are pushed on the control channel when a container starts and stops', async () => {
    const s = await openTerminal(w, paired.console, paired.agentInfo, plc.name);
    const pushed = () =>
      s.controlMessages.filter((m) => m.type === 'targets') as unknown as { targets: { name: string; state: string }[] }[];
    const late = await container({ namePrefix: 'tether-late' });
    const stateOf = (name: string) =>
      pushed()
        .at(-1)
        ?.targets.find((t) => t.name === name)?.state;
    await until(() => stateOf(late.name) === 'running', 'pushed: running');
    await late.stop();
    await until(() => stateOf(late.name) === 'stopped', 'pushed: stopped');
    await closed(s);
  });

  test('revoking a connected console closes its peer connection and kills its processes', async (t) => {
    const other = await pairedConsole(agent);
    t.after(() => other.console.close());
    const s = await openTerminal(w, other.console, other.agentInfo, plc.name);
    t.after(() => s.pc.close());
    await s.run('sleep 7331 & echo bg-$((2*3))', 'bg-6');
    const before = await plc.processes();
    assert.ok(
      before.some((p) => p.includes('sleep 7331')),
      before.join('\n'),
    );
    execFileSync(process.execPath, [cli, 'consoles', 'revoke', other.console.consoleId!, '--state-dir', stateDir]);
    await until(() => s.events.disconnect, 'disconnect after revoke');
    assert.equal(s.events.disconnect?.code, 'NOT_PAIRED');
    // The channel closes once the session's processes are killed (protocol/README.md, "State rules").
    await until(() => s.tty.readyState === 'closed' || undefined, 'tty closed');
    await gone(plc, 'sleep 7331');
    const audit = auditOf(stateDir);
    assert.ok(
      audit.some((l) => l.event === 'console.revoked' && l.consoleId === other.console.consoleId),
      JSON.stringify(audit.slice(-4)),
    );
    const end = await until(
      () => auditOf(stateDir).find((l) => l.event === 'session.end' && l.sessionId === s.first.sessionId),
      'session.end',
    );
    assert.match(end.reason as string, /revoked/);
    await closed(s);
  });

  describe('idle timeout, maximum duration and the state lock (a second agent on the same folder)', () => {
    let limited: AgentProcess;

    before(async () => {
      const second = spawnSync(process.execPath, [cli, '--lan-listen', '127.0.0.1:0', '--state-dir', stateDir], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(second.status, 2, second.stderr);
      assert.match(second.stderr, new RegExp(`another tether-agent \\(pid ${agent.child.pid}\\) is using the state folder`));
      await agent.stop();
      assert.equal(existsSync(join(stateDir, 'agent.lock')), false, 'the lock is released on stop');
      // a lock left by a process that died is taken over
      const dead = spawn(process.execPath, ['-e', '']);
      await once(dead, 'exit');
      writeFileSync(join(stateDir, 'agent.lock'), `${dead.pid}\n`);
      limited = await AgentProcess.start(stateDir, ['--idle-timeout', '2s', '--max-session-duration', '5s']);
      assert.match(limited.logs, /"msg":"stale state lock taken over"/);
      // `<pid> <boot id> <start time>`: the pid is the new agent's
      assert.equal(readFileSync(join(stateDir, 'agent.lock'), 'utf8').trim().split(' ')[0], String(limited.child.pid));
      await paired.console.open(limited.url);
      assert.ok((await paired.console.auth()).ok);
    });

    after(() => limited?.stop());

    test('a session without input ends with IDLE_TIMEOUT and its processes are killed', async () => {
      const s = await openTerminal(w, paired.console, paired.agentInfo, plc.name);
      await s.run('sleep 4242 & echo idle-$((3*3))', 'idle-9');
      const started = Date.now();
      const error = await until(() => s.term.find((m) => m.type === 'error'), 'idle timeout');
      assert.equal(error.code, 'IDLE_TIMEOUT');
      assert.match(error.message as string, /No input for 2 s/);
      assert.ok(Date.now() - started >= 1500);
      await gone(plc, 'sleep 4242');
      await closed(s);
    });

    test('a session that keeps typing ends at the maximum duration with SESSION_EXPIRED', async () => {
      const s = await openTerminal(w, paired.console, paired.agentInfo, plc.name);
      const typing = setInterval(() => s.tty.readyState === 'open' && s.tty.send(Buffer.from(':\n')), 500);
      try {
        const error = await until(() => s.term.find((m) => m.type === 'error'), 'maximum duration');
        assert.equal(error.code, 'SESSION_EXPIRED', JSON.stringify(error));
        assert.match(error.message as string, /maximum of 5 s/);
      } finally {
        clearInterval(typing);
      }
      await closed(s);
    });
  });
});

/** Waits until no process in the container's `docker top` matches `command`. */
async function gone(container: TestContainer, command: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await container.processes()).some((p) => p.includes(command))) {
    if (Date.now() > deadline) throw new Error(`${command} still runs`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
