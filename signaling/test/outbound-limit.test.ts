/**
 * The server's outbound queue (docs/hardening.md): a client that keeps sending but never reads
 * makes the server queue answers for it. Here its TCP socket is paused after a real Socket.IO
 * handshake, so the kernel's buffers fill and the rest waits in the server. The server must end
 * that connection once the queue is over MAX_QUEUED_OUTBOUND_BYTES, keep its memory near that, and
 * go on relaying for everyone else; a client that reads is never ended, even at the rate limit.
 */
import assert from 'node:assert/strict';
import type { Socket as NetSocket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Manager } from 'socket.io-client';
import {
  MAX_QUEUED_OUTBOUND_BYTES,
  MAX_QUEUED_OUTBOUND_BYTES_BEFORE_AUTH,
  SIGNALING_MESSAGE_BURST,
  SIGNALING_MESSAGES_PER_SECOND,
  SignalingAck,
} from '@tether/protocol';
import type { SignalingServerOptions } from '@tether/signaling';
import { createJsonLogger } from '../src/log.js';
import { emitAck, Fixture, SDP_OFFER, sid, wellBehaved } from './support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MB = 1024 * 1024;
/** What the largest answer in these tests can add past the bound: one packet and its overhead. */
const ONE_ANSWER = 1024;
const ENDED = '"msg":"connection ended: it does not read what the server sends"';
/** Longest a flood may take before the test gives up: a bound on the test, not a measured figure. */
const FLOOD_LIMIT_MS = 120_000;

/** The TCP socket under a client's websocket transport (engine.io-client uses `ws` in Node). */
function tcpOf(engine: unknown): NetSocket {
  const tcp = (engine as { transport?: { ws?: { _socket?: NetSocket } } }).transport?.ws?._socket;
  assert.ok(tcp, 'no TCP socket under the websocket transport');
  return tcp;
}

/** Memory the test process holds in the heap and in buffers, after a collection. */
function memory(collect = false): number {
  if (collect) gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * A server whose log keeps what these tests read: every message of a flood is logged (refused or
 * over the rate), and a test that kept those lines would measure its own log, not the server.
 */
async function start(t: TestContext, options: Partial<SignalingServerOptions> = {}): Promise<Fixture> {
  const kept: string[] = [];
  const fixture = await Fixture.start(t, {
    ...options,
    logger: createJsonLogger({
      level: 'debug',
      write: (line) => !/"msg":"(rate limited|refused unknown event|connection refused)"/.test(line) && kept.push(line),
    }),
  });
  Object.defineProperty(fixture, 'logs', { value: kept });
  return fixture;
}

function lines(fixture: Fixture, text: string): Record<string, unknown>[] {
  return fixture.logs.filter((line) => line.includes(text)).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Sends in batches, yielding to the event loop between them so that the server reads, until the
 * server has ended a connection; `during` runs once, concurrently, after a first part of the flood.
 * Returns the messages sent and the peak of the process's memory over the baseline.
 */
async function flood(
  fixture: Fixture,
  send: () => void,
  during?: () => Promise<void>,
): Promise<{ sent: number; peakGrowth: number; duringDone: Promise<void> }> {
  const baseline = memory(true);
  let sent = 0;
  // Memory is sampled after a collection, every few thousand messages, so that the garbage the
  // flood makes does not count.
  let peakGrowth = 0;
  let duringDone = Promise.resolve();
  const started = Date.now();
  while (lines(fixture, ENDED).length === 0) {
    assert.ok(Date.now() - started < FLOOD_LIMIT_MS, `the server ended no connection after ${sent} messages`);
    for (let i = 0; i < 200; i++) send();
    sent += 200;
    if (sent === 20_000 && during) duringDone = during();
    if (sent % 4000 === 0) peakGrowth = Math.max(peakGrowth, memory(true) - baseline);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { sent, peakGrowth, duringDone };
}

async function disconnected(fixture: Fixture, socketId: string): Promise<void> {
  const started = Date.now();
  while (!fixture.logs.some((line) => line.includes('disconnected"') && line.includes(socketId))) {
    assert.ok(Date.now() - started < 10_000, `the server did not disconnect ${socketId}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a console that sends and never reads is ended near the bound; the others go on', async (t: TestContext) => {
  const fixture = await start(t);
  const { socket: hostile } = await fixture.console();
  const socketId = hostile.id!;
  tcpOf(hostile.io.engine).pause();
  const before = memory(true);

  // An event a console may not send: each one is answered, with the 64-character name in the
  // answer, or with RATE_LIMITED once the socket is over its rate.
  const event = 'x'.repeat(64);
  const { sent, peakGrowth, duringDone } = await flood(
    fixture,
    () => hostile.emit(event as 'webrtc:ice', { sessionId: sid(1), candidate: null }),
    () => wellBehaved(fixture, 'plc-during'),
  );
  await duringDone;

  const [ended] = lines(fixture, ENDED);
  assert.equal(ended!['socketId'], socketId);
  assert.equal(ended!['role'], 'console');
  const queued = ended!['queuedBytes'] as number;
  assert.ok(queued > MAX_QUEUED_OUTBOUND_BYTES && queued <= MAX_QUEUED_OUTBOUND_BYTES + ONE_ANSWER, `queued ${queued} bytes when ended`);
  await disconnected(fixture, socketId);
  hostile.disconnect();

  await wellBehaved(fixture, 'plc-after');
  const after = memory(true) - before;
  t.diagnostic(
    `${sent} messages sent; queued ${(queued / MB).toFixed(2)} MB when ended; process memory peak +${(peakGrowth / MB).toFixed(1)} MB, after +${(after / MB).toFixed(1)} MB`,
  );
  // The server's share of the peak is the queue, under the bound; the rest is this process's
  // own client, which wrote the flood. Without the bound the queue grows for as long as the flood.
  assert.ok(peakGrowth < 3 * MAX_QUEUED_OUTBOUND_BYTES, `memory peaked at +${(peakGrowth / MB).toFixed(1)} MB`);
  assert.ok(after < 4 * MB, `memory after the flood +${(after / MB).toFixed(1)} MB`);
});

test('before authentication the bound is far smaller: a refused handshake repeated without reading', async (t) => {
  const fixture = await start(t);
  const manager = new Manager(fixture.server.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
  t.after(() => manager.engine?.close());
  await new Promise<void>((resolve, reject) => manager.open((error) => (error ? reject(error) : resolve())));
  tcpOf(manager.engine).pause();
  // A Socket.IO CONNECT to "/" with a wrong token, answered each time with connect_error.
  const engine = manager.engine as unknown as { send(data: string): void };
  await flood(
    fixture,
    () => engine.send('0{"role":"console","token":"wrong"}'),
    () => wellBehaved(fixture, 'plc-during'),
  );

  const [ended] = lines(fixture, ENDED);
  assert.equal(ended!['role'], undefined, 'it never authenticated');
  const queued = ended!['queuedBytes'] as number;
  assert.ok(
    queued > MAX_QUEUED_OUTBOUND_BYTES_BEFORE_AUTH && queued <= MAX_QUEUED_OUTBOUND_BYTES_BEFORE_AUTH + ONE_ANSWER,
    `queued ${queued} bytes when ended`,
  );
  await wellBehaved(fixture, 'plc-after');
});

test('a console and an agent that read are not ended, at the rate limit with 10 KB offers', async (t) => {
  const fixture = await start(t);
  const agent = await fixture.agent('plc-1');
  const { socket: console1 } = await fixture.console();
  let offers = 0;
  agent.on('webrtc:offer', () => offers++);
  const sdp = SDP_OFFER + `a=x-padding:${'p'.repeat(10_000)}\r\n`;
  const offer = () => emitAck(console1, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp });

  // The whole burst at once, then the rate for two seconds (a repeated offer is an ICE restart).
  const replies: Promise<unknown>[] = [];
  for (let i = 0; i < SIGNALING_MESSAGE_BURST; i++) replies.push(offer());
  for (let i = 0; i < 2 * SIGNALING_MESSAGES_PER_SECOND; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000 / SIGNALING_MESSAGES_PER_SECOND));
    replies.push(offer());
  }
  const acks = (await Promise.all(replies)).map((reply) => SignalingAck.parse(reply));
  const accepted = acks.filter((ack) => ack.ok).length;
  assert.ok(accepted >= SIGNALING_MESSAGE_BURST, `${accepted} offers accepted`);
  const waited = Date.now();
  while (offers < accepted) {
    assert.ok(Date.now() - waited < 10_000, `${offers} of ${accepted} accepted offers reached the agent`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(offers, accepted);
  assert.ok(console1.connected && agent.connected);
  assert.equal(lines(fixture, ENDED).length, 0);

  console1.disconnect();
  agent.disconnect();
  const started = Date.now();
  while (lines(fixture, '"msg":"connection closed"').length < 2) {
    assert.ok(Date.now() - started < 10_000, 'the server did not log both closes');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const peaks = lines(fixture, '"msg":"connection closed"').map(
    (line) => `${line['role']} ${((line['peakQueuedBytes'] as number) / 1024).toFixed(0)} KB`,
  );
  t.diagnostic(`${accepted} offers of 10 KB accepted and relayed; peak queued: ${peaks.join(', ')}`);
  for (const line of lines(fixture, '"msg":"connection closed"'))
    assert.ok((line['peakQueuedBytes'] as number) < MAX_QUEUED_OUTBOUND_BYTES / 2);
});
