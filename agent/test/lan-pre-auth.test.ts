/**
 * What a LAN client may make the agent hold before it authenticates (docs/hardening.md, issue 11),
 * on the built agent: the signaling server's attack (a Socket.IO binary event's header and nine
 * 64,000-byte attachments, never completed) ends the transport at once, without a CONNECT and
 * after one (the LAN endpoint admits a console before `lan:auth`); and one address may have at
 * most MAX_LAN_CONNECTIONS_PER_ADDRESS transports waiting for admission.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { MAX_LAN_CONNECTIONS_PER_ADDRESS } from '@tether/protocol';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import { attack, ATTACHMENT_BYTES, binaryEventHeader, endAttack, SENT_ATTACHMENTS, transportUrl } from '../../harness/pre-auth-attack.js';
import { buildAgent } from '../../harness/patched-werift.js';
import { until } from '../../harness/werift-console.js';

const ENDED = '"msg":"lan transport ended: it sent what the agent does not hold"';
const REFUSED = '"msg":"lan transport refused: too many handshakes from one address"';

function logLines(agent: AgentProcess, text: string): Record<string, unknown>[] {
  return agent
    .logs()
    .filter((line) => line.includes(text))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A raw engine.io transport that got the agent's `open` packet, and the promise of its close. */
async function rawTransport(url: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(transportUrl(url));
  const closed = new Promise<number>((resolve) => {
    ws.once('close', (code) => resolve(code));
    ws.once('error', () => resolve(1006));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    void closed.then(() => reject(new Error('the transport was refused')));
  });
  return { ws, closed };
}

/** A LAN socket still gets `lan:hello`. */
async function stillServes(url: string): Promise<void> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('lan:hello', () => resolve());
      socket.once('connect_error', reject);
    });
  } finally {
    socket.disconnect();
  }
}

describe('LAN endpoint: what a client may make the agent hold before it authenticates (built CLI)', () => {
  let agent: AgentProcess;
  let url: string;

  before(async () => {
    await buildAgent();
    agent = await startAgent({ lanListen: '127.0.0.1:0', agentId: 'lan-pre-auth', name: 'LAN pre-auth' });
    url = `http://127.0.0.1:${agent.lanPort}`;
  });

  after(async () => {
    await agent?.stop();
  });

  test(`${MAX_LAN_CONNECTIONS_PER_ADDRESS} transports that send a binary event and never CONNECT are ended at once`, async (t) => {
    const before = logLines(agent, ENDED).length;
    const transports = await attack(url, MAX_LAN_CONNECTIONS_PER_ADDRESS);
    t.after(() => endAttack(transports));
    await Promise.all(transports.map(({ closed }) => closed));
    // The agent's log comes through a pipe: its lines may arrive after the closes were seen.
    await until(
      () => logLines(agent, ENDED).length - before >= MAX_LAN_CONNECTIONS_PER_ADDRESS || undefined,
      'an ended line per transport',
    );
    const lines = logLines(agent, ENDED).slice(before);
    assert.equal(lines.length, MAX_LAN_CONNECTIONS_PER_ADDRESS, 'each transport was ended by the bound, not by Socket.IO 45 s later');
    for (const line of lines) assert.match(String(line['reason']), /binary packet/);
    await stillServes(url);
  });

  test('after CONNECT, before lan:auth, the same attack ends the transport', async (t) => {
    const before = logLines(agent, ENDED).length;
    const { ws, closed } = await rawTransport(url);
    t.after(() => ws.terminate());
    const connected = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send('40');
    assert.match(await connected, /^40/, 'the endpoint admitted the connection');
    ws.send(binaryEventHeader());
    const attachment = Buffer.alloc(ATTACHMENT_BYTES, 0x61);
    for (let i = 0; i < SENT_ATTACHMENTS; i++) ws.send(attachment);
    await closed;
    await until(() => logLines(agent, ENDED).length > before || undefined, 'the ended line');
    assert.match(String(logLines(agent, ENDED).at(-1)!['reason']), /binary packet/);
    await stillServes(url);
  });

  test(`one address may have ${MAX_LAN_CONNECTIONS_PER_ADDRESS} transports waiting for admission`, async (t) => {
    const waiting: { ws: WebSocket; closed: Promise<number> }[] = [];
    t.after(() => waiting.forEach(({ ws }) => ws.terminate()));
    for (let i = 0; i < MAX_LAN_CONNECTIONS_PER_ADDRESS; i++) waiting.push(await rawTransport(url));
    await assert.rejects(rawTransport(url), /refused/);
    await until(() => logLines(agent, REFUSED).length > 0 || undefined, 'the refusal in the log');
    const closedBefore = logLines(agent, '"msg":"lan transport closed"').length;
    waiting.pop()!.ws.close();
    await until(() => logLines(agent, '"msg":"lan transport closed"').length > closedBefore || undefined, 'the agent to see the close');
    await stillServes(url);
  });
});
