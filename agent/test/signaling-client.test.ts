/**
 * The agent's signaling client against the real signaling server on port 0 (issue 20): a refused
 * handshake, which Socket.IO does not retry, is tried again with the jittered backoff, and a
 * server that sheds load says after how long; the client waits at least that long.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { io } from 'socket.io-client';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import { AgentSignalingClient } from '../src/signaling-client.js';

const CONSOLE_TOKEN = 'console-token-0123456789abcdef';
const AGENT_TOKEN = 'agent-token-0123456789abcdef';

test('a refused handshake is tried again with backoff until the server takes it', async (t) => {
  // One connection per address: a console holds it, so the agent is refused RATE_LIMITED.
  const logs: string[] = [];
  const server = await startSignalingServer({
    host: '127.0.0.1',
    port: 0,
    consoleTokens: [CONSOLE_TOKEN],
    agentTokens: [AGENT_TOKEN],
    maxConnectionsPerAddress: 1,
    logger: createJsonLogger({ level: 'warn', write: (line) => logs.push(line) }),
  });
  t.after(() => server.close());
  const holder = io(server.url, {
    auth: { role: 'console', token: CONSOLE_TOKEN },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  t.after(() => holder.disconnect());
  await new Promise<void>((resolve, reject) => (holder.once('connect', () => resolve()), holder.once('connect_error', reject)));

  let connected = 0;
  const client = new AgentSignalingClient(
    server.url,
    { role: 'agent', token: AGENT_TOKEN, agentId: 'plc-1', name: 'plc 1', version: '1' },
    {
      onConnected: () => connected++,
      onOffer: () => undefined,
      onIce: () => undefined,
      onDisconnect: () => undefined,
      onTurnCredentials: () => undefined,
    },
  );
  t.after(() => client.close());
  client.connect();
  // Refused twice: the first attempt and a retry (the first delay is 0.5 to 1.5 s).
  while (logs.filter((line) => line.includes('"msg":"connection refused"')).length < 2)
    await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(client.connected, false);
  holder.disconnect();
  while (!client.connected) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(connected, 1);
});
