/**
 * What a built signaling node loads into its process: an ES module `import … from 'node:http'`
 * made Node.js 22 and later read that module's lazy `WebSocket` export, which loaded undici and
 * node:http2 (4 MB of an idle node's RSS; agent/README.md, "Memory", has the same in the agent).
 * The node here runs its built CLI and serves a console, so its HTTP server and Socket.IO are in use.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { startSignalingNode } from '../../harness/signaling-node.js';
import { waitFor } from '../../harness/wait.js';
import { connect, CONSOLE_TOKEN, nextEvent } from './support.js';

const report = fileURLToPath(new URL('../../harness/builtins-report.mjs', import.meta.url));

test('a running node loads neither undici nor node:http2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-footprint-'));
  const out = join(dir, 'builtins.txt');
  const node = await startSignalingNode('footprint', {
    NODE_OPTIONS: `--import ${report}`,
    TETHER_TEST_BUILTINS_OUT: out,
    TETHER_SIGNALING_CONSOLE_TOKENS: CONSOLE_TOKEN,
    TETHER_SIGNALING_AGENT_TOKENS: 'agent-token-0123456789',
  });
  // The node rewrites its report every 100 ms (a file renamed into place): the folder goes only
  // once the node is gone, or a report written meanwhile makes the removal fail (ENOTEMPTY).
  t.after(async () => {
    await node.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const socket = io(node.url, {
    auth: { role: 'console', token: CONSOLE_TOKEN },
    transports: ['websocket'],
    reconnection: false,
    autoConnect: false,
  });
  t.after(() => socket.disconnect());
  const snapshot = nextEvent(socket, 'presence:snapshot');
  await connect(socket);
  await snapshot;
  // The report is rewritten every 100 ms: wait for one written after the console was served.
  const served = Date.now();
  await waitFor(() => existsSync(out) && statSync(out).mtimeMs > served, 'a report written after the console was served');
  const loaded = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  assert.ok(loaded.includes('http') && loaded.includes('net'), `the report lists what the node uses: ${loaded.length} modules`);
  const unwanted = loaded.filter((name) => name === 'internal/deps/undici/undici' || name === 'http2');
  assert.deepEqual(unwanted, [], 'modules the node never uses, loaded anyway');
});
