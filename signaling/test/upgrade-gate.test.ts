/**
 * Admission before the WebSocket upgrade (issue 20): the gate hands Engine.IO at most a turn's
 * share of upgrades per turn of the event loop and the rest in later turns, in arrival order; past
 * its bound, or while the node lags, it answers 503 with Retry-After on the raw socket. Unit tests
 * with in-memory sockets, then a burst of real transports against a real server.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import WebSocket from 'ws';
import { UPGRADES_PER_TURN, UpgradeGate, type UpgradeRefusal } from '../src/upgrade-gate.js';
import { transportUrl } from '../../harness/pre-auth-attack.js';
import { Fixture } from './support.js';

/** A socket that records what the server wrote. */
class RecordingSocket extends Duplex {
  written = '';
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.written += chunk.toString();
    callback();
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('the gate passes a turn’s share of upgrades per turn, the rest in later turns in order, and refuses past its bound', async () => {
  const passed: number[][] = [[]];
  const refusals: string[] = [];
  const gate = new UpgradeGate(
    (req) => passed.at(-1)!.push(Number(req.url)),
    () => undefined,
    (reason) => refusals.push(reason),
    4,
    10,
  );
  const sockets = Array.from({ length: 16 }, () => new RecordingSocket());
  // All in one turn, as in one poll of the sockets.
  sockets.forEach((socket, i) => gate.upgrade({ url: String(i) } as IncomingMessage, socket, Buffer.alloc(0)));
  assert.deepEqual(passed[0], [0, 1, 2, 3], 'the first turn');
  assert.equal(gate.waiting, 10);
  assert.equal(refusals.length, 2, 'two past the bound of ten waiting');
  for (const socket of sockets.slice(14)) {
    assert.match(socket.written, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(socket.written, /\r\nRetry-After: 1\r\n/);
  }
  sockets[6]!.destroy(); // a client that gave up while it waited is skipped
  for (let i = 0; i < 4; i++) {
    passed.push([]);
    await turn();
  }
  assert.deepEqual(passed.slice(1, 4), [[4, 5, 7, 8], [9, 10, 11, 12], [13]]);
  assert.equal(gate.waiting, 0);
  for (const socket of sockets.slice(0, 14)) assert.equal(socket.written, '', 'nothing written to those let through');
});

test('the gate refuses with the retry-after it is told while the node lags', () => {
  let refusal: UpgradeRefusal = { reason: 'busy', retryAfterMs: 2000 };
  const passed: Duplex[] = [];
  const gate = new UpgradeGate(
    (_req, socket) => passed.push(socket),
    () => refusal,
    () => undefined,
  );
  const refused = new RecordingSocket();
  gate.upgrade({} as IncomingMessage, refused, Buffer.alloc(0));
  assert.match(refused.written, /^HTTP\/1\.1 503 Service Unavailable\r\nRetry-After: 2\r\n/);
  assert.deepEqual(JSON.parse(refused.written.slice(refused.written.indexOf('\r\n\r\n') + 4)), {
    error: 'SERVICE_UNAVAILABLE',
    message: 'busy',
    retryAfterMs: 2000,
  });
  refusal = undefined;
  const admitted = new RecordingSocket();
  gate.upgrade({} as IncomingMessage, admitted, Buffer.alloc(0));
  assert.deepEqual(passed, [admitted]);
});

test(`a burst of ${UPGRADES_PER_TURN * 40} WebSocket transports at once all open on a real server, paced`, async (t) => {
  // All from 127.0.0.1: no limit per address, so that only the gate decides.
  const fixture = await Fixture.start(t, { maxConnectionsPerAddress: 0 });
  const sockets: WebSocket[] = [];
  t.after(() => sockets.forEach((ws) => ws.terminate()));
  const opened = await Promise.all(
    Array.from({ length: UPGRADES_PER_TURN * 40 }, () => {
      const ws = new WebSocket(transportUrl(fixture.server.url));
      sockets.push(ws);
      return new Promise<boolean>((resolve) => {
        ws.once('message', () => resolve(true));
        ws.once('error', () => resolve(false));
      });
    }),
  );
  assert.equal(opened.filter(Boolean).length, opened.length);
  const health = (await (await fetch(`${fixture.server.url}/healthz`)).json()) as { clients: number; upgradesWaiting: number };
  assert.equal(health.clients, opened.length);
  assert.equal(health.upgradesWaiting, 0);
});
