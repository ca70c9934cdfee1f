/**
 * A site that blocks UDP (werift patch 022, agent/WERIFT.md): werift asks its TURN server over UDP
 * first and over TCP once that fails, after 6.35 s of retransmissions. The patched werift remembers
 * the failure for that server and gathers over TCP at once the next time, where werift 0.24.4
 * waited the 6.35 s again for every peer connection (and the agent answers an offer only once it
 * has gathered). A real coturn on loopback listens over TCP only; a UDP socket on its port counts
 * what werift sends there and never answers, as a firewall that drops UDP.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startLoopbackCoturn, turnRestCredentials } from '../../harness/loopback-coturn.js';
import { patchedWerift, weriftWithout, type Werift } from '../../harness/patched-werift.js';

const SECRET = `turn-${randomBytes(12).toString('hex')}`;

/** A port on 127.0.0.1 free for both TCP and UDP a moment ago. */
async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const udp = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (bound) return port;
  }
}

interface TcpOnlyTurn {
  port: number;
  /** STUN requests that arrived over UDP, unanswered */
  udpRequests: () => number;
  close(): Promise<void>;
}

async function startTcpOnlyTurn(): Promise<TcpOnlyTurn> {
  const port = await freePort();
  const coturn = await startLoopbackCoturn(SECRET, port, ['--no-udp']);
  let udpRequests = 0;
  const blackHole = dgram.createSocket('udp4');
  blackHole.on('message', () => udpRequests++);
  blackHole.bind(port, '127.0.0.1');
  await once(blackHole, 'listening');
  return {
    port,
    udpRequests: () => udpRequests,
    async close() {
      blackHole.close();
      await coturn.stop();
    },
  };
}

interface IceConnection {
  gatherCandidates(): Promise<void>;
  localCandidates: { type: string }[];
  close(): Promise<void>;
}

/** One ICE agent's gathering against `turn`: whether it got a relay candidate, and the UDP requests it sent there. */
async function gather(w: Werift, turn: TcpOnlyTurn): Promise<{ relayed: boolean; udpRequests: number }> {
  const before = turn.udpRequests();
  const Connection = (w as unknown as { Connection: new (controlling: boolean, options: object) => IceConnection }).Connection;
  const ice = new Connection(true, {
    turnServer: ['127.0.0.1', turn.port],
    ...turnCredentials(`gather-${randomBytes(4).toString('hex')}`),
    interfaceAddresses: { udp4: '127.0.0.1' },
  });
  try {
    await ice.gatherCandidates();
    return { relayed: ice.localCandidates.some((c) => c.type === 'relay'), udpRequests: turn.udpRequests() - before };
  } finally {
    await ice.close();
  }
}

/** The REST API credentials as werift's ICE options name them. */
function turnCredentials(who: string): { turnUsername: string; turnPassword: string } {
  const { username, password } = turnRestCredentials(SECRET, who);
  return { turnUsername: username, turnPassword: password };
}

describe('werift and a TURN server that UDP does not reach', () => {
  let turn: TcpOnlyTurn;
  before(async () => {
    turn = await startTcpOnlyTurn();
  });
  after(async () => {
    await turn?.close();
  });

  test('the first gathering falls back to TCP; the next goes to TCP at once', async () => {
    const w = await patchedWerift();
    const first = await gather(w, turn);
    assert.ok(first.relayed, 'a relay candidate over TCP');
    assert.ok(first.udpRequests >= 1, `UDP was tried first (${first.udpRequests} requests)`);
    const second = await gather(w, turn);
    assert.deepEqual(second, { relayed: true, udpRequests: 0 });
  });

  test('werift without the turn-udp-failure-remembered patch tries UDP again every time', async () => {
    const w = await weriftWithout('turn-udp-failure-remembered');
    await gather(w, turn);
    const second = await gather(w, turn);
    assert.ok(second.relayed, 'a relay candidate over TCP');
    assert.ok(second.udpRequests >= 1, `UDP tried again (${second.udpRequests} requests)`);
  });
});
