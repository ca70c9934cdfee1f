import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { patchWerift, WERIFT_PATCHES } from '../build.mjs';
import { patchedWerift, type Werift } from './support/patched-werift.js';

const weriftBundle = createRequire(import.meta.url).resolve('werift').replace(/webrtc[\\/]src[\\/]index\.js$/, 'index.mjs');

interface InboundStream {
  addChunk(chunk: { tsn: number; flags: number; streamSeqNum: number; streamId: number; protocol: number; userData: Buffer }): void;
  popMessages(): Iterable<[number, number, Buffer]>;
}

async function until(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function connectedPair(w: Werift) {
  const config = { iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceUseIpv6: false };
  const a = new w.RTCPeerConnection(config);
  const b = new w.RTCPeerConnection(config);
  a.onIceCandidate.subscribe((c) => void (c && b.addIceCandidate(c.toJSON())));
  b.onIceCandidate.subscribe((c) => void (c && a.addIceCandidate(c.toJSON())));
  return { a, b };
}

describe('werift bundle-time patches', () => {
  test('every patch applies once to the installed werift', () => {
    const patched = patchWerift(readFileSync(weriftBundle, 'utf8'));
    for (const patch of WERIFT_PATCHES) assert.ok(patched.includes(patch.replace));
    assert.ok(!patched.includes('stun.l.google.com'));
  });

  test('a patch that does not apply fails the build', () => {
    assert.throws(() => patchWerift('export const nothing = 1;'), /werift patch not applicable/);
  });

  test('no default STUN server in a peer connection', async () => {
    const w = await patchedWerift();
    const pc = new w.RTCPeerConnection({});
    assert.deepEqual(pc.config.iceServers, []);
    await pc.close();
  });

  // werift #706: after yielding a message, popMessages kept `startPos`, so the next complete
  // message of the same stream (not TSN-adjacent: other streams' chunks came between) stayed
  // stranded until more data arrived on that stream: a keystroke that never reaches the shell.
  test('a second complete message of a stream is not stranded (werift #706)', async () => {
    const w = await patchedWerift();
    const transport = new w.RTCSctpTransport();
    const onStateChange = { subscribe: () => ({ unSubscribe: () => undefined }) };
    transport.setDtlsTransport({ id: 'fake-dtls', sendData: async () => undefined, onStateChange } as never);
    const sctp = (transport as unknown as { sctp: { getInboundStream(id: number): InboundStream } }).sctp;
    const stream = sctp.getInboundStream(1);
    const whole = 1 | 2; // SCTP_DATA_FIRST_FRAG | SCTP_DATA_LAST_FRAG
    // TSN 11 went to another stream; both messages of stream 1 wait in its reassembly queue.
    stream.addChunk({ tsn: 10, flags: whole, streamSeqNum: 0, streamId: 1, protocol: 53, userData: Buffer.from('a') });
    stream.addChunk({ tsn: 12, flags: whole, streamSeqNum: 1, streamId: 1, protocol: 53, userData: Buffer.from('b') });
    const delivered = [...stream.popMessages()].map(([, , data]) => data.toString());
    assert.deepEqual(delivered, ['a', 'b']);
  });

  // Under loss the association can come up before connect() waits for it: unpatched, werift then
  // waited for an event already past and the peer never became "connected".
  test('a peer whose SCTP association is already established is connected, not left waiting', async () => {
    const w = await patchedWerift();
    const pc = new w.RTCPeerConnection({});
    const manager = (pc as unknown as { sctpManager: { connectSctp(this: unknown): Promise<void> } }).sctpManager;
    const never = { asPromise: () => new Promise<never>(() => undefined) };
    const established = {
      sctpRemotePort: 5000,
      sctpTransport: { start: async () => undefined, sctp: { associationState: 4, stateChanged: { connected: never } } },
    };
    const settled = await Promise.race([
      manager.connectSctp.call(established).then(() => 'connected'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000)),
    ]);
    assert.equal(settled, 'connected');
    const cookieWait = { ...established, sctpTransport: { ...established.sctpTransport, sctp: { associationState: 2, stateChanged: { connected: never } } } };
    const waiting = await Promise.race([
      manager.connectSctp.call(cookieWait).then(() => 'connected'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 200)),
    ]);
    assert.equal(waiting, 'still waiting', 'an association not yet up is still waited for');
    await pc.close();
  });

  // A retransmitted ClientHello (slow server) is answered by a second HelloVerifyRequest with the
  // same cookie; unpatched, werift's client threw on it and failed the connection.
  test('a DTLS client ignores a repeated HelloVerifyRequest and goes on with its handshake', async () => {
    const w = await patchedWerift();
    const sent: Buffer[] = [];
    const socket = { onData: undefined as ((data: Buffer) => void) | undefined, send: async (buf: Buffer) => void sent.push(buf), close: () => undefined };
    const DtlsClient = (w as unknown as { DtlsClient: new (options: unknown) => { connect(): Promise<void>; close(): void; onError: { subscribe(f: (e: unknown) => void): void } } }).DtlsClient;
    const client = new DtlsClient({ transport: socket });
    const errors: unknown[] = [];
    client.onError.subscribe((error) => errors.push(error));
    // The flight retransmits until the next one starts: not awaited.
    client.connect().catch((error: unknown) => errors.push(error));
    await until(() => sent.length >= 1, 'the first ClientHello');
    const cookie = Buffer.alloc(20, 7);
    const body = Buffer.concat([Buffer.from([0xfe, 0xff, cookie.length]), cookie]);
    const handshake = Buffer.concat([Buffer.from([3, 0, 0, body.length, 0, 0, 0, 0, 0, 0, 0, body.length]), body]);
    const record = Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, handshake.length]), handshake]);
    socket.onData!(record);
    await until(() => sent.some((datagram) => datagram.includes(cookie)), 'the ClientHello with the cookie');
    const afterCookie = sent.length;
    socket.onData!(record); // the same HelloVerifyRequest again
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(errors, [], 'no handshake error');
    assert.equal(sent.length, afterCookie, 'nothing sent for the repeat');
    client.close();
  });

  test('messages on several channels at once are all delivered', async () => {
    const w = await patchedWerift();
    const { a, b } = await connectedPair(w);
    const CHANNELS = 6;
    const MESSAGES = 50;
    const received = new Map<string, number>();
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stranded: ${JSON.stringify([...received])}`)), 30_000);
      b.onDataChannel.subscribe((channel) => {
        channel.onMessage.subscribe(() => {
          received.set(channel.label, (received.get(channel.label) ?? 0) + 1);
          const total = [...received.values()].reduce((x, y) => x + y, 0);
          if (total === CHANNELS * MESSAGES) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    });
    const channels = Array.from({ length: CHANNELS }, (_, i) => a.createDataChannel(`tty:${i}`));
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription!);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription!);
    await Promise.all(channels.map((c) => new Promise<void>((resolve) => c.stateChanged.subscribe((s) => s === 'open' && resolve()))));
    for (let m = 0; m < MESSAGES; m++) {
      for (const channel of channels) channel.send(Buffer.from(`k${m}`)); // keystroke-sized, interleaved
    }
    await done;
    for (const channel of channels) assert.equal(received.get(channel.label), MESSAGES);
    await Promise.all([a.close(), b.close()]);
  });
});
