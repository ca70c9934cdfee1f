/**
 * The Docker engine going away under a running agent, and coming back (a restart of dockerd, its
 * socket gone for a while): the agent reaches it through a socket of the test's own that forwards to
 * the real engine, and the test cuts that socket (every connection closed, nothing listening) and
 * opens it again. Other tests share the engine, so it is never stopped itself.
 *
 * A terminal open when the engine goes is told so (`DOCKER_UNAVAILABLE`, in words), not that its
 * shell exited, and its shell, which nobody can reach any more, is ended on the host. While the
 * engine is gone a console is told so when it opens a terminal or lists containers, and the agent
 * stays up; once it is back, terminals open again and the agent follows container events again,
 * with nothing restarted by hand. An upload or a download the engine's going cut off ends saying
 * so, and an upload's temporary file, which cannot be removed while the engine is gone, is removed
 * once it is back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { TRANSFER_CHUNK_BYTES, TRANSFER_WINDOW_BYTES } from '@tether/protocol';
import { docker, ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { EngineSocket } from '../../harness/engine-socket.js';
import { AgentProcess, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { until } from '../../harness/werift-console.js';
import { AuditLog } from '../src/audit.js';
import { SessionRegistry } from '../src/session-registry.js';
import { AgentFileChannel } from '../src/transfer/file-channel.js';
import { TransferRules } from '../src/transfer/transfer-rules.js';
import { FakeChannel } from './support/fake-channel.js';
import { fakeTtySession } from './support/fake-tty-session.js';

let w: Werift;
let container: TestContainer;
let agent: AgentProcess | undefined;
const dir = mkdtempSync(join(tmpdir(), 'tether-engine-loss-'));
const engine = new EngineSocket(dir);

before(async () => {
  await Promise.all([ensureDocker(), buildAgent()]);
  w = await patchedWerift();
  container = await startContainer({ namePrefix: 'tether-engine-loss' });
  await engine.listen();
});

after(async () => {
  await agent?.stop();
  await engine.cut();
  await container?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('the Docker engine gone and back: consoles are told, the agent stays up and serves again once it returns', async () => {
  agent = await AgentProcess.start(join(dir, 'state'), ['--docker-socket', engine.path]);
  const { console: c, agentInfo } = await pairedConsole(agent);
  const before = await openTerminal(w, c, agentInfo, container.name);
  await before.run('echo before-$((40+2))', 'before-42');
  await before.close();
  const held = await openTerminal(w, c, agentInfo, container.name);
  await held.run('sleep 4712 & echo bg-$((1+1))', 'bg-2');
  const leftover = async () => (await container.processes()).filter((p) => /sleep 4712|bash/.test(p));
  assert.ok((await leftover()).length >= 2, (await container.processes()).join('\n'));

  await engine.cut();
  // The open terminal's stream went with the engine: the console is told, in words, and the shell,
  // which nobody can reach any more, is ended (the agent kills it on the host, by its process id).
  const cutOff = await until(
    () => held.term.find((m) => m.type === 'error' || m.type === 'exit'),
    'the open terminal to hear of the engine',
    30_000,
  );
  assert.equal(cutOff.type, 'error', `told of the engine, not an exit: ${JSON.stringify(held.term)}`);
  assert.equal(cutOff.code, 'DOCKER_UNAVAILABLE', JSON.stringify(cutOff));
  assert.equal(cutOff.fatal, true, JSON.stringify(cutOff));
  assert.match(String(cutOff.message), /Docker engine does not answer/, JSON.stringify(cutOff));
  for (const deadline = Date.now() + 15_000; (await leftover()).length > 0 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(await leftover(), [], 'the shell and its job are ended');
  assert.match(
    readFileSync(join(dir, 'state', 'audit.jsonl'), 'utf8'),
    /"event":"session.end".*"reason":"the terminal stream ended and the Docker engine did not answer; the shell was ended"/,
  );

  const during = await openTerminal(w, c, agentInfo, container.name);
  assert.equal(during.first.type, 'error', JSON.stringify(during.first));
  assert.equal(during.first.code, 'DOCKER_UNAVAILABLE', JSON.stringify(during.first));
  assert.match(String(during.first.message), /Docker engine/, JSON.stringify(during.first));
  during.control.send(JSON.stringify({ type: 'list-targets' }));
  const listed = await until(
    () => during.controlMessages.find((m) => m.type === 'targets' || (m.type === 'error' && m.code === 'DOCKER_UNAVAILABLE')),
    'an answer to list-targets',
    30_000,
  );
  assert.equal(listed.type, 'error', `no list while the engine is gone: ${JSON.stringify(listed)}`);
  await during.close();
  assert.equal(agent.child.exitCode, null, `the agent stays up: ${agent.logs.slice(-2000)}`);

  await engine.listen();
  // The container events are followed again (the watcher retries every 2 s), and a terminal opens.
  await until(
    () => /"msg":"following container events"/.test(agent!.logs.split('container events unavailable').at(-1)!),
    'events followed again',
    30_000,
  );
  const again = await openTerminal(w, c, agentInfo, container.name);
  await again.run('echo after-$((40+3))', 'after-43');
  again.control.send(JSON.stringify({ type: 'list-targets' }));
  const back = await until(() => again.controlMessages.find((m) => m.type === 'targets'), 'the container list', 30_000);
  assert.ok(
    (back.targets as { name: string }[]).some((t) => t.name === container.name),
    JSON.stringify(back),
  );
  await again.close();
});

/** A file channel of a session on the test's container whose commands reach the engine through its cut-able socket. */
function fileChannel(sessionId: string): { port: FakeChannel; close: () => void } {
  const registry = new SessionRegistry();
  registry.add(fakeTtySession(new Docker({ socketPath: engine.path }), container, sessionId, 'console:test'));
  const audit = new AuditLog(join(dir, `${sessionId}-audit.jsonl`));
  const port = new FakeChannel(`file:${sessionId}`);
  new AgentFileChannel(port, {
    registry,
    rules: new TransferRules({ mode: 'both', maxBytes: 0, containers: {} }),
    audit,
    who: { path: 'lan', connection: 'test-connection' },
    owner: 'console:test',
    peerId: 'test',
  });
  return { port, close: () => audit.close() };
}

/** Offers a transfer on `port` and waits for the agent to accept it. */
async function offerAccepted(port: FakeChannel, offer: Record<string, unknown>): Promise<void> {
  port.deliver({ type: 'offer', ...offer });
  await port.until(() => port.messages().some((m) => m.type === 'accept' || m.type === 'error'), 'accept');
  assert.ok(
    port.messages().some((m) => m.type === 'accept'),
    JSON.stringify(port.messages()),
  );
}

const fatalError = (port: FakeChannel) => port.messages().find((m) => m.type === 'error' && m.fatal === true);

test("an upload the engine's going cut off is ended in words, and its temporary file is removed once the engine is back", async () => {
  const temporaries = async () => Number(await docker('exec', container.id, 'sh', '-c', 'ls -a /tmp | grep -c tether-upload || true'));
  const { port, close } = fileChannel('session-upload');
  try {
    const bytes = randomBytes(8 * 1024 * 1024);
    await offerAccepted(port, {
      direction: 'upload',
      sessionId: 'session-upload',
      dir: '/tmp',
      name: 'cut.bin',
      size: bytes.length,
      overwrite: false,
    });
    for (let at = 0; at < TRANSFER_WINDOW_BYTES; at += TRANSFER_CHUNK_BYTES) port.deliver(bytes.subarray(at, at + TRANSFER_CHUNK_BYTES));
    await port.until(() => port.messages().some((m) => m.type === 'ack'), 'the first bytes written');
    assert.equal(await temporaries(), 1, 'the upload is being written to its temporary file');

    await engine.cut();
    await port.until(() => fatalError(port) !== undefined, 'the upload to end');
    const error = fatalError(port)!;
    assert.equal(error.code, 'TRANSFER_FAILED', JSON.stringify(error));
    assert.match(String(error.message), /Docker engine stopped answering .* nothing was kept under that name/, JSON.stringify(error));
    assert.equal(await temporaries(), 1, 'the temporary file cannot be removed while the engine is gone');

    await engine.listen();
    for (const deadline = Date.now() + 30_000; (await temporaries()) > 0; ) {
      assert.ok(Date.now() < deadline, 'the temporary file is removed once the engine answers again');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(
      await docker('exec', container.id, 'sh', '-c', 'ls /tmp/cut.bin 2>/dev/null | wc -l'),
      '0',
      'nothing under the final name',
    );
  } finally {
    close();
  }
});

test("a download the engine's going cut off is ended in words", async () => {
  await docker('exec', container.id, 'sh', '-c', 'head -c 4194304 /dev/urandom > /tmp/big.bin && chmod 644 /tmp/big.bin');
  const { port, close } = fileChannel('session-download');
  try {
    await offerAccepted(port, { direction: 'download', sessionId: 'session-download', path: '/tmp/big.bin' });
    // Not acknowledged yet: the agent stops at the window, its command waiting.
    await port.until(() => port.outputBytes() >= TRANSFER_WINDOW_BYTES - TRANSFER_CHUNK_BYTES, 'a window of bytes');
    await engine.cut();
    // The console goes on acknowledging what it got, as a console does.
    await port.until(() => {
      port.ackReceived();
      return fatalError(port) !== undefined;
    }, 'the download to end');
    const error = fatalError(port)!;
    assert.equal(error.code, 'TRANSFER_FAILED', JSON.stringify(error));
    assert.match(String(error.message), /Docker engine stopped answering .* \/tmp\/big.bin was read/, JSON.stringify(error));
    assert.ok(!port.messages().some((m) => m.type === 'done'), 'no done for a download cut off');
  } finally {
    close();
    await engine.listen();
  }
});
