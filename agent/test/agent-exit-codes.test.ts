/**
 * The agent's exit codes as a supervisor sees them (agent/src/cli.ts), on the built agent: a signal
 * that comes while the agent is still starting is no clean stop (128 + the signal's number, as a
 * shell reports it), so that systemd does not take an agent that never served for one that
 * stopped cleanly. A clean stop after `agent ready` exits 0 (agent/test/stray-processes.test.ts),
 * a start that fails exits 1 (agent/test/fail-safe-disk.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { cli } from '../../harness/lan-agent.js';
import { buildAgent } from '../../harness/patched-werift.js';
import { until } from '../../harness/werift-console.js';

before(() => buildAgent());

test('SIGTERM while the agent waits on a Docker engine that does not answer: it stops, and exits 143, not 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-exit-'));
  // A Docker socket that takes connections and never answers, as a hung engine does.
  const held: Socket[] = [];
  const silent = createServer((socket) => void held.push(socket));
  const dockerSocket = join(dir, 'docker.sock');
  await new Promise<void>((resolve) => silent.listen(dockerSocket, resolve));
  try {
    const child = spawn(
      process.execPath,
      [
        cli,
        '--lan-listen',
        '127.0.0.1:0',
        '--state-dir',
        join(dir, 'state'),
        '--agent-id',
        'exit-codes',
        '--docker-socket',
        dockerSocket,
        '--ice-host',
        '127.0.0.1',
        '--ice-interface',
        '127.0.0.1',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let logs = '';
    child.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    await until(() => held.length > 0 || undefined, 'the agent to ask the engine for its containers (start cleanup)');
    assert.doesNotMatch(logs, /"msg":"agent ready"/, 'still starting');
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 143, logs.slice(-2000));
    assert.match(logs, /"msg":"agent stopped"/);
  } finally {
    for (const socket of held) socket.destroy();
    silent.close();
  }
});
