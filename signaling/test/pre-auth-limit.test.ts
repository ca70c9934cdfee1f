/**
 * What a client may make the server hold before it authenticates (docs/hardening.md, issue 11):
 * raw WebSockets that send a Socket.IO binary event's header and nine 64,000-byte attachments and
 * never CONNECT used to keep every attachment until Socket.IO's 45-second handshake limit (100 of
 * them grew the server by ~47 MB, not given back). Now a binary packet ends its transport at once,
 * before or after authentication; a transport is ended past MAX_INBOUND_BYTES_BEFORE_AUTH or
 * HANDSHAKE_TIMEOUT_MS without an admitted connection; and one address may have at most
 * MAX_HANDSHAKES_PER_ADDRESS transports waiting to authenticate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { HANDSHAKE_TIMEOUT_MS, MAX_INBOUND_BYTES_BEFORE_AUTH } from '@tether/protocol';
import { MAX_HANDSHAKES_PER_ADDRESS } from '../src/connection-bounds.js';
import { attack, ATTACHMENT_BYTES, endAttack, SENT_ATTACHMENTS, transportUrl } from '../../harness/pre-auth-attack.js';
import { connect, CONSOLE_TOKEN, Fixture, nextEvent, wellBehaved } from './support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ENDED = '"msg":"transport ended: it sent what the server does not hold"';
const REFUSED = '"msg":"transport refused: too many connections from one address waiting to authenticate"';
const MB = 1024 * 1024;

/** Memory the test process (server and attackers) holds in the heap and in buffers, after a collection. */
function memory(): number {
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

function ended(fixture: Fixture): Record<string, unknown>[] {
  return fixture.logs.filter((line) => line.includes(ENDED)).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Polls until `condition` holds; the test runner's timeout bounds it. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** A raw engine.io transport that got the server's `open` packet, and the promise of its close. */
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

test('100 transports that send a binary event and never CONNECT are ended, and their attachments dropped', async (t) => {
  const fixture = await Fixture.start(t);
  const baseline = memory();
  const transports = await attack(fixture.server.url, 100);
  t.after(() => endAttack(transports));
  await Promise.all(transports.map(({ closed }) => closed));

  const lines = ended(fixture);
  assert.equal(lines.length, 100, 'each transport was ended by the bound, not by Socket.IO 45 s later');
  for (const line of lines) assert.match(String(line['reason']), /binary packet/);
  // The attackers' own sockets and the attachments they could not send go too: what is left is the
  // server's. Under load the collector may keep some of what was freed, so the bound is half the
  // attachments, far below keeping them all.
  endAttack(transports);
  transports.length = 0;
  // A closed connection's cleanup runs in chunks on later turns of the loop (deferred-work.ts):
  // measured again, after a collection each time, until it has had its turns.
  const sent = 100 * SENT_ATTACHMENTS * ATTACHMENT_BYTES;
  let growth = memory() - baseline;
  for (let turn = 0; turn < 100 && growth >= sent / 2; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    growth = memory() - baseline;
  }
  assert.ok(growth < sent / 2, `memory grew by ${(growth / MB).toFixed(1)} MB (the attachments: ${(sent / MB).toFixed(1)} MB)`);
  await wellBehaved(fixture, 'plc-1');
});

test('an authenticated connection that sends a binary packet is ended too, and the others go on', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket } = await fixture.console();
  const gone = nextEvent(socket, 'disconnect');
  socket.emit('webrtc:offer', { sessionId: 'session-binary', agentId: 'plc-1', sdp: Buffer.alloc(1000) });
  assert.equal(await gone, 'transport close');
  await until(() => ended(fixture).length === 1);
  assert.match(String(ended(fixture)[0]!['reason']), /binary packet/);
  await wellBehaved(fixture, 'plc-1');
});

test(`a transport with no connection admitted is ended after HANDSHAKE_TIMEOUT_MS (${HANDSHAKE_TIMEOUT_MS} ms)`, async (t) => {
  const fixture = await Fixture.start(t);
  const { ws, closed } = await rawTransport(fixture.server.url);
  t.after(() => ws.terminate());
  // A console that authenticates meanwhile is not affected.
  const { socket } = await fixture.console();
  await closed;
  const [line] = ended(fixture);
  assert.ok(line, 'the transport was ended by the bound, not by Socket.IO 45 s later');
  assert.equal(line['reason'], `no connection admitted within ${HANDSHAKE_TIMEOUT_MS} ms`);
  assert.ok(socket.connected);
});

test(`more than MAX_INBOUND_BYTES_BEFORE_AUTH (${MAX_INBOUND_BYTES_BEFORE_AUTH}) before authentication ends the transport`, async (t) => {
  const fixture = await Fixture.start(t);
  const { ws, closed } = await rawTransport(fixture.server.url);
  t.after(() => ws.terminate());
  // CONNECT packets with a bad token and padding: each is refused UNAUTHORIZED, until the sum is over the bound.
  const packet = `40${JSON.stringify({ role: 'console', token: 'wrong', padding: 'x'.repeat(30_000) })}`;
  const refused = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
  ws.send(packet);
  assert.match(await refused, /^44.*UNAUTHORIZED/, 'the first CONNECT is answered');
  ws.send(packet);
  ws.send(packet);
  await closed;
  const [line] = ended(fixture);
  assert.ok(line);
  assert.equal(line['reason'], `more than ${MAX_INBOUND_BYTES_BEFORE_AUTH} bytes before a connection was admitted`);
});

test(`one address may have ${MAX_HANDSHAKES_PER_ADDRESS} transports waiting to authenticate; admitted ones do not count`, async (t) => {
  const fixture = await Fixture.start(t);
  const waiting: { ws: WebSocket; closed: Promise<number> }[] = [];
  for (let i = 0; i < MAX_HANDSHAKES_PER_ADDRESS; i++) waiting.push(await rawTransport(fixture.server.url));
  t.after(() => waiting.forEach(({ ws }) => ws.terminate()));
  await assert.rejects(rawTransport(fixture.server.url), /refused/);
  await assert.rejects(connect(fixture.client({ role: 'console', token: CONSOLE_TOKEN })), 'a console from that address waits too');
  assert.equal(fixture.logs.filter((line) => line.includes(REFUSED)).length, 2);

  waiting.pop()!.ws.close();
  await until(() => fixture.logs.some((line) => line.includes('"msg":"connection closed"')));
  const { socket } = await fixture.console(); // took the free slot, and gave it back once admitted
  assert.ok(socket.connected);
  waiting.push(await rawTransport(fixture.server.url));
});
