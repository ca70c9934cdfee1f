/**
 * coturn's stale nonce against werift's TURN client (docs/networks.md, "coturn's stale nonce, and
 * werift"): coturn answers the first request after a session's nonce went stale with an unsigned
 * 438 and a new nonce. The agent's patched werift must send the request again with it, as Chromium
 * does; the unpatched werift 0.24.4 drops the 438 and its request times out, which is what stalled
 * relayed terminals 17 minutes in. A real coturn on loopback, its nonces stale after STALE_NONCE_S
 * instead of 600 s.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../harness/wait.js';
import { startLoopbackCoturn, turnRestCredentials, type LoopbackCoturn } from '../../harness/loopback-coturn.js';
import { patchedWerift, weriftWithout, type Werift } from '../../harness/patched-werift.js';

const STALE_NONCE_S = 3;
/** Comfortably past STALE_NONCE_S: coturn counts in whole seconds. */
const STALE_AFTER_MS = (STALE_NONCE_S + 2) * 1000;
const SECRET = `turn-${randomBytes(12).toString('hex')}`;
const REFRESH = 0x0004; // STUN method (RFC 8656)
const REQUEST = 0x0000; // STUN class

/** A UDP port on 127.0.0.1 that was free a moment ago (coturn cannot be given port 0). */
async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function startNonceCoturn(): Promise<LoopbackCoturn> {
  return startLoopbackCoturn(SECRET, await freeUdpPort(), [`--stale-nonce=${STALE_NONCE_S}`, '--no-tcp', '--verbose']);
}

/**
 * coturn's answers to one user, as its verbose log says: `<method> <code>` (0 for success). coturn
 * logs a 438 before it looks at the method, as `message 438`.
 */
function answers(coturn: LoopbackCoturn, who: string): string[] {
  return coturn.lines.flatMap((line) => {
    const match = /user <\d+:([^>]+)>: incoming packet (\w+) processed, (?:success|error (\d+))/.exec(line);
    return match && match[1] === who ? [`${match[2]} ${match[3] ?? 0}`] : [];
  });
}

async function allocate(w: Werift, coturn: LoopbackCoturn, who: string) {
  return w.createTurnClient(
    { address: ['127.0.0.1', coturn.port], ...turnRestCredentials(SECRET, who) },
    { interfaceAddresses: { udp4: '127.0.0.1' } },
  );
}

describe('werift and coturn stale nonces', () => {
  let coturn: LoopbackCoturn;
  let peer: dgram.Socket;
  let peerAddress: [string, number];

  before(async () => {
    coturn = await startNonceCoturn();
    peer = dgram.createSocket('udp4');
    peer.bind(0, '127.0.0.1');
    await once(peer, 'listening');
    peerAddress = ['127.0.0.1', peer.address().port];
  });

  after(async () => {
    peer?.close();
    await coturn?.stop();
  });

  test('the patched werift renews a stale nonce for ChannelBind and Refresh', async () => {
    const w = await patchedWerift();
    const who = `patched-${randomBytes(4).toString('hex')}`;
    const turn = await allocate(w, coturn, who);
    try {
      await sleep(STALE_AFTER_MS);
      const channel = await turn.getChannel(peerAddress);
      assert.ok(channel.number >= 0x4000);

      await sleep(STALE_AFTER_MS);
      const [response] = await turn.requestWithRetry(new w.Message(REFRESH, REQUEST).setAttribute('LIFETIME', 600), turn.server);
      assert.equal(response.getAttributeValue('LIFETIME'), 600);

      // Each request met a stale nonce (so the test saw the 438s it is about), then succeeded once.
      // coturn's log line may come after its answer.
      await waitFor(() => answers(coturn, who).includes('REFRESH 0'), "coturn's log of the Refresh", 5000).catch(() => undefined);
      const seen = answers(coturn, who);
      assert.deepEqual(
        seen.filter((a) => !a.startsWith('ALLOCATE')),
        ['message 438', 'CHANNEL_BIND 0', 'message 438', 'REFRESH 0'],
        seen.join(', '),
      );
    } finally {
      await turn.close();
    }
  });

  // The proof that the test above tests the patches: without them the same ChannelBind times out.
  test('werift without the turn-stale-nonce patch cannot: its ChannelBind after a stale nonce times out', async () => {
    const w = await weriftWithout('turn-stale-nonce');
    const who = `unpatched-${randomBytes(4).toString('hex')}`;
    const turn = await allocate(w, coturn, who);
    try {
      await sleep(STALE_AFTER_MS);
      await assert.rejects(turn.getChannel(peerAddress));
      const seen = answers(coturn, who);
      assert.ok(seen.includes('message 438'), seen.join(', '));
      assert.ok(!seen.includes('CHANNEL_BIND 0'), seen.join(', '));
    } finally {
      await turn.close();
    }
  });
});
