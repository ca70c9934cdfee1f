/**
 * Losing signaling is not losing the terminal (protocol/README.md, "Losing signaling"; issue 16):
 * when the cloud server loses the console's signaling connection (a late heartbeat is enough) it
 * tells the agent `webrtc:disconnect {reason: "console went offline", offline: true}`, and the
 * agent keeps a peer connection that works. A console that says it is done still ends it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { collect, opened, TestConsole, until } from '../../harness/werift-console.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const consoleToken = 'console-signaling-loss-0123456789';
const agentToken = 'agent-signaling-loss-0123456789';

describe('losing signaling with a working peer connection', () => {
  let agent: ChildProcess | undefined;
  let logs = '';
  let fingerprint = '';
  let container: TestContainer;
  let w: Werift;
  let signaling: Awaited<ReturnType<typeof startSignalingServer>>;

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    container = await startContainer({ namePrefix: 'tether-signaling-loss' });
    signaling = await startSignalingServer({
      port: 0,
      host: '127.0.0.1',
      consoleTokens: [consoleToken],
      agentTokens: [agentToken],
      logger: createJsonLogger({ level: 'warn', write: () => undefined }),
    });
    agent = spawn(
      process.execPath,
      [
        cli,
        '--signaling-url',
        signaling.url,
        '--token',
        agentToken,
        '--state-dir',
        mkdtempSync(join(tmpdir(), 'tether-signaling-loss-')),
        '--agent-id',
        'loss-agent',
        '--name',
        'Loss agent',
        '--ice-host',
        '127.0.0.1',
        '--ice-interface',
        '127.0.0.1',
        '--log-level',
        'debug',
        '--require-pairing',
        'never',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    agent.stdout!.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    fingerprint = (
      await until<RegExpExecArray>(() => /"msg":"agent ready".*?"fingerprint":"([^"]+)"/.exec(logs) ?? undefined, 'agent ready')
    )[1]!;
  });

  after(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
    await signaling?.close();
    await container?.remove();
  });

  /** An unpaired console over the cloud server with a terminal open in the container. */
  async function terminal() {
    const c = await TestConsole.create();
    await c.openCloud(signaling.url, consoleToken, 'loss-agent');
    const { pc, control, tty, sessionId } = await c.connect(w, fingerprint);
    const replies = collect(control);
    await opened(control);
    control.send(JSON.stringify({ type: 'hello', protocol: 'tether-tty/1', peer: { kind: 'console', version: '0' }, capabilities: [] }));
    await until(() => replies.find((m) => m.type === 'hello'), 'the agent hello');
    const term = collect(tty);
    await opened(tty);
    tty.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    await until(() => term.find((m) => m.type === 'opened'), 'opened');
    const run = async (marker: string) => {
      tty.send(Buffer.from(`echo ${marker}-$((6*7))\n`));
      await until(() => term.output().includes(`${marker}-42`), `output of ${marker}`);
    };
    return { c, pc, tty, term, run, sessionId };
  }

  test('the server reporting the console offline does not close a working peer connection; the shell goes on', async () => {
    const { c, pc, run } = await terminal();
    await run('before');
    c.socket!.disconnect(); // the server sees the console's signaling connection go
    await until(
      () => logs.includes('"msg":"console offline on the signaling path; its working peer connection goes on"') || undefined,
      'the agent to hear the server',
    );
    assert.ok(!/"msg":"peer closed".*"reason":"console: console went offline"/.test(logs), 'the peer was not closed');
    await run('after');
    assert.equal(pc.connectionState, 'connected');
    await pc.close();
  });

  test('a console that disconnects on purpose still ends the peer connection', async () => {
    const { c, pc, run, sessionId } = await terminal();
    await run('first');
    await c.socket!.timeout(5000).emitWithAck('webrtc:disconnect', { sessionId, reason: 'done' });
    await until(
      () => new RegExp(`"msg":"peer closed","negotiationId":"${sessionId}"`).test(logs) || undefined,
      'the agent to close the peer',
    );
    await pc.close();
    c.close();
  });
});
