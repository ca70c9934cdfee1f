/**
 * What the built agent loads into its process (agent/README.md, "Memory"): on Node.js 22 and later
 * two imports pulled undici and node:http2 into an agent that uses neither, some 2 MB of its idle
 * RSS (13 MB in an empty process): an ES module `import … from 'node:http'`, which makes Node read
 * the module's lazy `WebSocket` export, and engine.io-client reading `globalThis.WebSocket` when it
 * loads (patches/engine.io-client+6.6.8.patch). The agent here runs as shipped: the bundle, with a
 * LAN endpoint and connected to a real signaling server, so both the Socket.IO client and the
 * LAN's HTTP server are loaded and in use.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import { startAgent } from '../../harness/agent-process.js';

const report = fileURLToPath(new URL('../../harness/builtins-report.mjs', import.meta.url));

test('the running agent loads neither undici nor node:http2', async (t) => {
  const agentToken = `agent-${randomBytes(12).toString('hex')}`;
  const signaling = await startSignalingServer({
    port: 0,
    host: '127.0.0.1',
    consoleTokens: [`console-${randomBytes(12).toString('hex')}`],
    agentTokens: [agentToken],
    logger: createJsonLogger({ level: 'warn', write: () => undefined }),
  });
  t.after(() => signaling.close());
  const dir = mkdtempSync(join(tmpdir(), 'tether-footprint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'builtins.txt');
  // `agent ready` with a signaling URL means connected to it; the LAN endpoint listens as well.
  const agent = await startAgent({
    signalingUrl: signaling.url,
    token: agentToken,
    lanListen: '127.0.0.1:0',
    agentId: `footprint-${randomBytes(4).toString('hex')}`,
    name: 'footprint',
    nodeArgs: ['--import', report],
    env: { ...process.env, TETHER_TEST_BUILTINS_OUT: out },
  });
  assert.ok(agent.lanPort, 'the LAN endpoint listens');
  await agent.stop();
  const loaded = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  assert.ok(loaded.includes('http') && loaded.includes('dgram'), `the report lists what the agent uses: ${loaded.length} modules`);
  const unwanted = loaded.filter((name) => name === 'internal/deps/undici/undici' || name === 'http2');
  assert.deepEqual(unwanted, [], 'modules the agent never uses, loaded anyway');
});
