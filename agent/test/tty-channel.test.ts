/**
 * The terminal channel's own bound (agent/src/tty-channel.ts): input sent after `open` waits for
 * the exec to start, at most MAX_QUEUED_INPUT_BYTES of it. A real AgentTtyChannel on a real container;
 * only the data channel is in memory, with a clock the test moves for the once-a-second answer.
 * And `opened` before the shell runs (protocol/README.md): to a console that takes `running`,
 * `opened` comes as soon as the exec's stream is attached and `running` with the host pid after it;
 * the kill, the journal and the audit log wait for the pid where they need it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { MAX_QUEUED_INPUT_BYTES } from '@tether/protocol';
import { AuditLog } from '../src/audit.js';
import { DockerTargets } from '../src/docker-targets.js';
import { setLogLevel } from '../src/log.js';
import { NOTICE_INTERVAL_MS } from '../src/rate-limit.js';
import { SessionJournal } from '../src/session-journal.js';
import { hostSeesProcess } from '../src/session-killer.js';
import { SessionRegistry } from '../src/session-registry.js';
import { DEFAULT_EXEC_USER, SessionRules } from '../src/session-rules.js';
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

  /** The agent's rules by default: the exec user, the session's standing (its report read off the stream first). */
  const agentRules = () =>
    new SessionRules({
      shells: ['/bin/bash'],
      user: DEFAULT_EXEC_USER,
      users: {},
      maxSessionsPerContainer: 0,
      idleTimeoutMs: 0,
      maxSessionMs: 0,
    });

  /** The audit log's records, parsed. */
  function auditRecords(path: string): { event: string; [key: string]: unknown }[] {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: string; [key: string]: unknown });
  }

  test('a console that takes `running` gets `opened` first, then `running` with the host pid; input between them runs once the shell does', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'tether-running-'));
    const journal = new SessionJournal(stateDir);
    const journaled = new SessionRegistry(journal);
    const auditPath = join(stateDir, 'audit.jsonl');
    const audit = new AuditLog(auditPath);
    const channel = new FakeChannel();
    const tty = new AgentTtyChannel(channel, {
      targets,
      shells: ['/bin/bash'],
      peerId: 'test',
      owner: 'console:test',
      registry: journaled,
      audit,
      rules: agentRules(),
      consoleTakesRunning: () => true,
    });
    try {
      channel.deliver({ type: 'open', target: bash.name, cols: 80, rows: 24 });
      await channel.until(() => channel.messages().some((m) => m.type === 'opened'), 'opened');
      // Typed as soon as the tab opened: held until the shell runs, then written, in order.
      channel.deliver(Buffer.from('echo typed-$((6*7))\n'));
      await channel.until(() => channel.messages().some((m) => m.type === 'running'), 'running');
      const types = channel.messages().map((m) => m.type);
      assert.ok(types.indexOf('opened') < types.indexOf('running'), types.join(' '));
      assert.equal(types.filter((t) => t === 'running').length, 1);
      const running = channel.messages().find((m) => m.type === 'running')!;
      const session = tty.current!;
      assert.ok(typeof running.hostPid === 'number' && running.hostPid > 0, JSON.stringify(running));
      assert.equal(running.hostPid, session.hostPid);
      assert.ok(await hostSeesProcess(running.hostPid, session.sessionId), 'the pid is the session shell on the host');
      await outputIncludes(channel, 'typed-42');
      // The journal has the pid (written first without it), the audit log the start.
      await channel.until(() => {
        const entries = JSON.parse(readFileSync(join(stateDir, 'sessions.json'), 'utf8')) as { sessionId: string; pid: number }[];
        return entries.find((e) => e.sessionId === session.sessionId)?.pid === running.hostPid;
      }, 'the journal entry with the pid');
      assert.deepEqual(
        auditRecords(auditPath).map((r) => r.event),
        ['session.start'],
      );
      channel.deliver({ type: 'close' });
      await session.ended;
      assert.deepEqual(
        auditRecords(auditPath).map((r) => r.event),
        ['session.start', 'session.end'],
      );
      assert.equal(await hostSeesProcess(running.hostPid, session.sessionId), false, 'the shell was killed');
    } finally {
      await journaled.endAll('test over');
    }
  });

  test('the prompt comes before `running` while the host completes the standing; what is typed waits for `running`', async (t) => {
    // The host's part (SCHED_IDLE, which busybox cannot set) held until the test lets it go: `chrt`
    // on the agent's PATH waits for a file.
    const real = spawnSync('sh', ['-c', 'command -v chrt'], { encoding: 'utf8' }).stdout.trim();
    if (!real || process.getuid?.() !== 0) return t.skip('needs chrt on the host and root, for the host to complete the standing');
    const dir = mkdtempSync(join(tmpdir(), 'tether-slow-chrt-'));
    writeFileSync(join(dir, 'chrt'), `#!/bin/sh\nwhile [ ! -e ${dir}/go ]; do sleep 0.05; done\nexec ${real} "$@"\n`, { mode: 0o755 });
    const path = process.env['PATH'];
    process.env['PATH'] = `${dir}:${path}`;
    const channel = new FakeChannel();
    const tty = new AgentTtyChannel(channel, {
      targets,
      shells: ['/bin/bash'],
      peerId: 'test',
      owner: 'console:test',
      registry,
      rules: agentRules(),
      consoleTakesRunning: () => true,
    });
    try {
      channel.deliver({ type: 'open', target: bash.name, cols: 80, rows: 24 });
      await channel.until(() => channel.outputBytes() > 0, "the shell's first output");
      assert.ok(!channel.messages().some((m) => m.type === 'running'), 'no `running` while the host holds the standing');
      channel.deliver(Buffer.from('echo held-$((6*7))\n'));
      // The shell would echo it at once: nothing comes while it is held.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(!channel.output().includes('held-42'), `held: ${JSON.stringify(channel.output())}`);
      writeFileSync(join(dir, 'go'), '');
      await outputIncludes(channel, 'held-42');
      const running = channel.sent.findIndex((frame) => typeof frame === 'string' && frame.includes('"type":"running"'));
      const echoed = channel.sent.findIndex((frame) => Buffer.isBuffer(frame) && frame.toString().includes('held'));
      assert.ok(running >= 0 && running < echoed, 'the command ran after `running`');
    } finally {
      process.env['PATH'] = path;
      writeFileSync(join(dir, 'go'), '');
      channel.deliver({ type: 'close' });
      await tty.current?.ended;
    }
  });

  test('a session closed right after `opened`, before its shell runs, is still killed, audited and struck from the journal', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'tether-running-'));
    const journaled = new SessionRegistry(new SessionJournal(stateDir));
    const auditPath = join(stateDir, 'audit.jsonl');
    const channel = new FakeChannel();
    const tty = new AgentTtyChannel(channel, {
      targets,
      shells: ['/bin/bash'],
      peerId: 'test',
      owner: 'console:test',
      registry: journaled,
      audit: new AuditLog(auditPath),
      rules: agentRules(),
      consoleTakesRunning: () => true,
    });
    try {
      channel.deliver({ type: 'open', target: bash.name, cols: 80, rows: 24 });
      await channel.until(() => channel.messages().some((m) => m.type === 'opened'), 'opened');
      const session = tty.current!;
      // In the same turn as `opened`: the shell has not run yet (its pid is not known).
      assert.equal(session.hostPid, 0);
      channel.deliver({ type: 'close' });
      await session.ended;
      // The kill waited for where the processes are: the pid is known now, and the shell is gone.
      assert.ok(session.hostPid > 0);
      assert.equal(await hostSeesProcess(session.hostPid, session.sessionId), false, 'the shell was killed');
      const events = auditRecords(auditPath).map((r) => r.event);
      assert.deepEqual(events, ['session.start', 'session.end'], 'its start and end are audited all the same');
      const entries = JSON.parse(readFileSync(join(stateDir, 'sessions.json'), 'utf8')) as { sessionId: string }[];
      assert.ok(!entries.some((e) => e.sessionId === session.sessionId), 'no journal entry left');
      assert.ok(!channel.messages().some((m) => m.type === 'running'), 'no running for a closed session');
    } finally {
      await journaled.endAll('test over');
    }
  });

  test('a console without `running` gets `opened` once the shell runs, and never `running`', async () => {
    const channel = new FakeChannel();
    const tty = new AgentTtyChannel(channel, { targets, shells: ['/bin/bash'], peerId: 'test', owner: 'console:test', registry });
    channel.deliver({ type: 'open', target: bash.name, cols: 80, rows: 24 });
    await channel.until(() => channel.messages().some((m) => m.type === 'opened'), 'opened');
    // `opened` was sent once the shell ran: its pid is known by then.
    assert.ok(tty.current!.hostPid > 0);
    channel.deliver(Buffer.from('echo old-$((5*5))\n'));
    await outputIncludes(channel, 'old-25');
    assert.ok(!channel.messages().some((m) => m.type === 'running'));
    channel.deliver({ type: 'close' });
    await tty.current!.ended;
  });
});
