/**
 * Resume on the agent (protocol/README.md, "Resume"), with a real Docker engine and container:
 * a session outlives its channel for the grace period, keeps producing output into its log, and a
 * new channel that opens with `resume` gets exactly the bytes it lacks, in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { RESUME_BUFFER_BYTES } from '@tether/protocol';
import { DockerTargets } from '../src/docker-targets.js';
import { setLogLevel } from '../src/log.js';
import { SessionRegistry } from '../src/session-registry.js';
import { DEFAULT_EXEC_USER, SessionRules } from '../src/session-rules.js';
import { AgentTtyChannel } from '../src/tty-channel.js';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { FakeChannel } from './support/fake-channel.js';

setLogLevel(process.env['TEST_LOG'] === 'debug' ? 'debug' : 'warn');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rules(resumeGraceMs: number, maxSessionsPerContainer = 0): SessionRules {
  return new SessionRules({
    shells: ['/bin/bash', '/bin/sh'],
    user: DEFAULT_EXEC_USER,
    users: {},
    maxSessionsPerContainer,
    idleTimeoutMs: 0,
    maxSessionMs: 0,
    resumeGraceMs,
  });
}

describe('resume', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  const registry = new SessionRegistry();
  let bash: TestContainer;

  before(async () => {
    await ensureDocker();
    bash = await startContainer({ namePrefix: 'tether-resume' });
  });

  after(async () => {
    await registry.endAll('test over');
    await bash?.remove();
  });

  function front(owner = 'console:a', grace = 60_000): { channel: FakeChannel; tty: AgentTtyChannel } {
    const channel = new FakeChannel();
    const tty = new AgentTtyChannel(channel, { targets, shells: ['/bin/bash'], peerId: 'test', owner, registry, rules: rules(grace) });
    return { channel, tty };
  }

  async function open(owner = 'console:a', grace = 60_000) {
    const pair = front(owner, grace);
    pair.channel.deliver({ type: 'open', target: bash.name, cols: 80, rows: 24 });
    await pair.channel.until(() => pair.channel.messages().some((m) => m.type === 'opened' || m.type === 'error'), 'opened');
    const opened = pair.channel.messages()[0]!;
    assert.equal(opened.type, 'opened', JSON.stringify(opened));
    assert.equal(opened.resumeGraceMs, grace);
    return { ...pair, sessionId: String(opened.sessionId) };
  }

  async function resume(sessionId: string, received: number, owner = 'console:a') {
    const pair = front(owner);
    pair.channel.deliver({ type: 'open', target: bash.name, cols: 100, rows: 30, resume: { sessionId, received } });
    await pair.channel.until(() => pair.channel.messages().some((m) => m.type === 'opened' || m.type === 'error'), 'resume answered');
    return { ...pair, reply: pair.channel.messages()[0]! };
  }

  /** Acknowledges output as it comes, like a console that renders it. */
  function ackAll(channel: FakeChannel): () => void {
    let acked = 0;
    const timer = setInterval(() => {
      const total = channel.outputBytes();
      if (total > acked && channel.isOpen) channel.deliver({ type: 'ack', bytes: total - acked });
      acked = total;
    }, 20);
    return () => clearInterval(timer);
  }

  test('a lost channel detaches the session; a resume gets the output made meanwhile, once and in order, in the same shell', async () => {
    const first = await open();
    const stopAcks = ackAll(first.channel);
    const loop = Buffer.from('echo shell-$$; i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo n-$i; sleep 0.02; done; echo loop-done\n');
    first.channel.deliver(loop);
    await first.channel.until(() => /n-5\r\n/.test(first.channel.output()), 'the loop under way');
    stopAcks();
    first.channel.close(); // no `close`: the network path died
    const session = registry.get(first.sessionId);
    assert.ok(session, 'the session is still held');
    assert.equal(session.isAttached, false);
    const received = first.channel.outputBytes();
    const shell = /shell-(\d+)/.exec(first.channel.output())?.[1];
    assert.ok(shell);
    // The loop goes on while nobody is attached.
    const deadline = Date.now() + 15_000;
    while (!session.output.read(session.output.start, RESUME_BUFFER_BYTES).toString().includes('loop-done') && Date.now() < deadline)
      await sleep(50);

    const second = await resume(first.sessionId, received);
    assert.equal(second.reply.type, 'opened', JSON.stringify(second.reply));
    assert.equal(second.reply.sessionId, first.sessionId);
    // inputReceived: every input byte that reached the session, for the console to compare with what it sent.
    assert.deepEqual(second.reply.resumed, { from: received, lost: 0, inputReceived: loop.length });
    const stop = ackAll(second.channel);
    await second.channel.until(() => second.channel.output().includes('loop-done'), 'the rest of the loop');
    const all = first.channel.output() + second.channel.output();
    const numbers = [...all.matchAll(/^n-(\d+)\r$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(
      numbers,
      Array.from({ length: 60 }, (_, i) => i + 1),
      'every line once, in order',
    );
    assert.equal(first.channel.outputBytes() + second.channel.outputBytes(), session.output.end, 'the byte counts match');
    second.channel.deliver(Buffer.from('echo again-$$\n'));
    await second.channel.until(() => second.channel.output().includes(`again-${shell}`), 'the same shell');
    stop();
    await session.dispose('test');
  });

  test('a resume from an earlier offset gets the bytes from there again', async () => {
    const first = await open();
    first.channel.deliver(Buffer.from('echo mark-$((1+1))\n'));
    await first.channel.until(() => first.channel.output().includes('mark-2'), 'output');
    first.channel.close();
    const second = await resume(first.sessionId, 0);
    assert.deepEqual(second.reply.resumed, { from: 0, lost: 0, inputReceived: 'echo mark-$((1+1))\n'.length });
    await second.channel.until(() => second.channel.output() === first.channel.output(), 'the same bytes from 0');
    await registry.get(first.sessionId)?.dispose('test');
  });

  test('output beyond the buffer while detached is reported as lost, and the newest bytes arrive', async () => {
    const first = await open();
    first.channel.deliver(Buffer.from('echo ready\n'));
    await first.channel.until(() => first.channel.output().includes('ready'), 'prompt');
    const received = first.channel.outputBytes();
    first.channel.close();
    const session = registry.get(first.sessionId)!;
    // 3 MiB of output with nobody attached, then a marker.
    session.input(Buffer.from('head -c 3145728 /dev/zero | tr "\\0" x; echo; echo flood-$((10+1))\n'));
    const deadline = Date.now() + 20_000;
    while (
      !session.output
        .read(session.output.end - Math.min(session.output.size, 200), 200)
        .toString()
        .includes('flood-11') &&
      Date.now() < deadline
    )
      await sleep(50);
    assert.ok(session.output.end > received + 3 * 1024 * 1024, `produced ${session.output.end}`);
    assert.equal(session.output.size, RESUME_BUFFER_BYTES);
    const second = await resume(first.sessionId, received);
    const resumed = second.reply.resumed as { from: number; lost: number };
    assert.equal(resumed.from, session.output.start);
    assert.equal(resumed.lost, session.output.start - received);
    const stop = ackAll(second.channel);
    await second.channel.until(() => second.channel.output().includes('flood-11'), 'the newest output', 30_000);
    assert.equal(resumed.from + second.channel.outputBytes() >= session.output.end - 200, true);
    stop();
    await session.dispose('test');
  });

  test('another console, an unknown id, or an offset past the output are refused, and the session goes on', async () => {
    const first = await open('console:a');
    first.channel.deliver(Buffer.from('echo hello\n'));
    await first.channel.until(() => first.channel.output().includes('hello'), 'output');
    const other = await resume(first.sessionId, 0, 'console:b');
    assert.equal(other.reply.code, 'SESSION_FORBIDDEN');
    const unknown = await resume('nope', 0);
    assert.equal(unknown.reply.code, 'SESSION_NOT_FOUND');
    const beyond = await resume(first.sessionId, 10_000_000);
    assert.equal(beyond.reply.code, 'BAD_MESSAGE');
    for (const refused of [other, unknown, beyond]) {
      assert.equal(refused.reply.fatal, true);
      await refused.tty.done;
    }
    assert.ok(first.channel.isOpen, 'the owner is still attached');
    first.channel.deliver(Buffer.from('echo still-$((2*3))\n'));
    await first.channel.until(() => first.channel.output().includes('still-6'), 'the session goes on');
    await registry.get(first.sessionId)?.dispose('test');
  });

  test('a resume while the old channel still looks open takes the session over and closes the old one', async () => {
    const first = await open();
    first.channel.deliver(Buffer.from('echo one\n'));
    await first.channel.until(() => first.channel.output().includes('one'), 'output');
    const second = await resume(first.sessionId, first.channel.outputBytes());
    assert.equal(second.reply.type, 'opened');
    await first.channel.until(() => !first.channel.isOpen, 'the old channel closed');
    second.channel.deliver(Buffer.from('echo two-$((1+1))\n'));
    await second.channel.until(() => second.channel.output().includes('two-2'), 'input and output on the new channel');
    assert.ok(!first.channel.output().includes('two-2'));
    await registry.get(first.sessionId)?.dispose('test');
  });

  test("a takeover does not detach the session on the old channel's close, so even with no grace period the session goes on", async () => {
    const first = await open('console:a', 0);
    first.channel.deliver(Buffer.from('echo one\n'));
    await first.channel.until(() => first.channel.output().includes('one'), 'output');
    // The fake reports its close at once: the old channel's AgentTtyChannel sees it during the takeover.
    const second = await resume(first.sessionId, first.channel.outputBytes());
    assert.equal(second.reply.type, 'opened');
    assert.ok(!first.channel.isOpen, 'the old channel was closed');
    second.channel.deliver(Buffer.from('echo two-$((1+1))\n'));
    await second.channel.until(() => second.channel.output().includes('two-2'), 'the session goes on on the new channel');
    const session = registry.get(first.sessionId);
    assert.ok(session && !session.isEnded && session.isAttached);
    await session.dispose('test');
  });

  test('frames that still arrive on a channel taken over reach neither the shell nor the input count, and its close ends nothing', async () => {
    const first = await open();
    first.channel.holdClose = true;
    first.channel.deliver(Buffer.from('echo one\n'));
    await first.channel.until(() => first.channel.output().includes('one'), 'output');
    const second = await resume(first.sessionId, first.channel.outputBytes());
    assert.equal(second.reply.type, 'opened');
    const counted = (second.reply.resumed as { inputReceived: number }).inputReceived;
    assert.ok(!first.channel.isOpen, 'the agent is closing the old channel');
    // werift delivers what was in flight on the old channel until its close completes.
    first.channel.deliver(Buffer.from('echo late""-keys\n'));
    first.channel.deliver({ type: 'close' });
    first.channel.finishClose();
    second.channel.deliver(Buffer.from('echo two-$((1+1))\n'));
    await second.channel.until(() => second.channel.output().includes('two-2'), 'input and output on the new channel');
    assert.ok(!second.channel.output().includes('late-keys'), 'the late keys were not written');
    const session = registry.get(first.sessionId);
    assert.ok(session && !session.isEnded, "the old channel's close did not end the session");
    assert.equal(session.inputReceived, counted + 'echo two-$((1+1))\n'.length, "only the new channel's input is counted");
    await session.dispose('test');
  });

  test('a process that exits while detached: the resume gets the rest of the output, then exit', async () => {
    const first = await open();
    first.channel.deliver(Buffer.from('echo up\n'));
    await first.channel.until(() => first.channel.output().includes('up'), 'output');
    const received = first.channel.outputBytes();
    first.channel.close();
    const session = registry.get(first.sessionId)!;
    session.input(Buffer.from('echo last-words; exit 3\n'));
    await sleep(1500);
    const second = await resume(first.sessionId, received);
    assert.equal(second.reply.type, 'opened');
    await second.tty.done;
    await session.ended;
    assert.match(second.channel.output(), /last-words/);
    assert.deepEqual(second.channel.messages().at(-1), { type: 'exit', code: 3 });
  });

  test('the grace period ends a detached session and kills its processes', async () => {
    const first = await open('console:a', 800);
    first.channel.deliver(Buffer.from('sleep 1017\n'));
    const deadline = Date.now() + 15_000;
    while (!(await bash.processes()).some((p) => p.includes('sleep 1017')) && Date.now() < deadline) await sleep(100);
    const session = registry.get(first.sessionId)!;
    first.channel.close();
    assert.ok(!session.isEnded, 'held during the grace period');
    await session.ended;
    // SIGKILL is sent; the process leaves the table a moment later.
    const gone = Date.now() + 5000;
    while ((await bash.processes()).some((p) => p.includes('sleep 1017')) && Date.now() < gone) await sleep(100);
    assert.ok(!(await bash.processes()).some((p) => p.includes('sleep 1017')));
    const late = await resume(first.sessionId, 0);
    assert.equal(late.reply.code, 'SESSION_NOT_FOUND');
  });

  test("at the session limit, a detached session of the same console yields to its new one; another console's does not", async () => {
    const limited = rules(60_000, 1);
    const openWith = async (owner: string) => {
      const channel = new FakeChannel();
      const tty = new AgentTtyChannel(channel, { targets, shells: ['/bin/bash'], peerId: 'test', owner, registry, rules: limited });
      channel.deliver({ type: 'open', target: bash.name, cols: 80, rows: 24 });
      await channel.until(() => channel.messages().some((m) => m.type === 'opened' || m.type === 'error'), 'answer');
      return { channel, tty, reply: channel.messages()[0]! };
    };
    const first = await openWith('console:a');
    assert.equal(first.reply.type, 'opened');
    first.channel.close();
    const old = registry.get(String(first.reply.sessionId))!;
    const second = await openWith('console:a');
    assert.equal(second.reply.type, 'opened', JSON.stringify(second.reply));
    assert.ok(old.isEnded, 'the detached session was ended for the new one');
    second.channel.close();
    const third = await openWith('console:b');
    assert.equal(third.reply.code, 'SESSION_LIMIT');
    await registry.get(String(second.reply.sessionId))?.dispose('test');
  });
});
