/**
 * The console's LAN connection (renderer/src/connection/lan-signaling.ts) against the built agent's LAN
 * endpoint: a connection the agent refuses keeps the agent's code and words (RATE_LIMITED, "too
 * many connections …") instead of reading as AGENT_OFFLINE, and an address nobody answers on is
 * AGENT_OFFLINE. Node's socket.io-client stands in for Chromium's: the code under test is the same.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { MAX_LAN_CONNECTIONS_PER_ADDRESS } from '@tether/protocol';
import { buildAgent } from '../../../harness/patched-werift.js';
import { LanSignaling } from '../../../renderer/src/connection/lan-signaling.js';
import { startAgent, type AgentProcess } from '../../../harness/agent-process.js';

let agent: AgentProcess;
const sockets: Socket[] = [];

before(async () => {
  await buildAgent();
  agent = await startAgent({ lanListen: '127.0.0.1:0', agentId: 'lan-refusal', name: 'LAN refusal' });
});

after(async () => {
  for (const socket of sockets) socket.disconnect();
  await agent?.stop();
});

function hello(url: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('lan:hello', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

test('a connection the LAN endpoint refuses reports the agent\'s code and reason, not "offline"', async () => {
  const endpoint = `127.0.0.1:${agent.lanPort}`;
  while (sockets.length < MAX_LAN_CONNECTIONS_PER_ADDRESS) sockets.push(await hello(`http://${endpoint}`));
  const refused = await LanSignaling.open(endpoint, 5_000);
  assert.equal(refused.ok, false);
  assert.equal(refused.ok ? undefined : refused.error.code, 'RATE_LIMITED');
  assert.match(refused.ok ? '' : refused.error.message, /refused the connection: too many connections from 127\.0\.0\.1/);

  sockets.pop()!.disconnect();
  const opened = await waitForOpen(endpoint);
  opened.dispose();
});

test('an endpoint nobody answers on is AGENT_OFFLINE', async () => {
  const result = await LanSignaling.open('127.0.0.1:1', 5_000);
  assert.equal(result.ok ? undefined : result.error.code, 'AGENT_OFFLINE');
});

/** The slot freed by a close is seen by the agent a moment later. */
async function waitForOpen(endpoint: string): Promise<LanSignaling> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await LanSignaling.open(endpoint, 5_000);
    if (result.ok) return result.value;
    if (Date.now() > deadline) assert.fail(`still refused: ${result.error.message}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
