/**
 * The werift end of bench/werift-chromium.ts, in its own process so that its CPU is its own: a
 * werift peer (the agent's patched werift, or `TETHER_BENCH_WERIFT` = another build's index.mjs)
 * that answers the page's offer and, for each `send` order on IPC, writes `bytes` of data into the
 * page's data channel the way the agent does (64 KiB frames, the buffer kept under 256 KiB,
 * refilled at 64 KiB), or echoes what the page sends (`echo`). Messages on IPC, both ways: { type, ... } as below.
 */
import { pathToFileURL } from 'node:url';
import { CHANNEL_BUFFER_LOW_BYTES } from '@tether/protocol';
import { patchedWerift, type Werift } from '../harness/patched-werift.js';
import { sendFrames } from './frame-loop.js';

type Order =
  | { type: 'offer'; sdp: string }
  | { type: 'ice'; candidate: { candidate: string; sdpMid?: string; sdpMLineIndex?: number } }
  | { type: 'send'; run: number; bytes: number; close?: boolean }
  | { type: 'echo' }
  | { type: 'stats' }
  | { type: 'quit' };

const send = (message: Record<string, unknown>) => process.send!(message);

const werift: Werift = process.env.TETHER_BENCH_WERIFT
  ? ((await import(pathToFileURL(process.env.TETHER_BENCH_WERIFT).href)) as Werift)
  : await patchedWerift();

type Peer = InstanceType<Werift['RTCPeerConnection']>;
let pc: Peer;
let channel: ReturnType<Peer['createDataChannel']> | undefined;
/** ms from the offer's arrival to each step of the current connection */
let stages: Record<string, number> = {};
let offeredAt = 0;
/** every message from the page is sent back (`echo` order), as a shell's TTY echoes a keystroke */
let echo = false;
/** A fresh peer connection for each offer: one process serves several connections in turn. */
function newPeer(): Peer {
  const peer = new werift.RTCPeerConnection({
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceUseIpv6: false,
  });
  peer.onIceCandidate.subscribe((c) => {
    const json = c?.toJSON();
    if (json?.candidate)
      send({ type: 'ice', candidate: { candidate: json.candidate, sdpMid: json.sdpMid, sdpMLineIndex: json.sdpMLineIndex } });
  });
  peer.onDataChannel.subscribe((c) => {
    channel = c;
    c.onMessage.subscribe((message) => {
      if (echo && typeof message !== 'string') c.send(message);
    });
    send({ type: 'channel', stages: { ...stages, channel: performance.now() - offeredAt } });
  });
  peer.iceConnectionStateChange.subscribe((s) => s === 'connected' && (stages.ice = performance.now() - offeredAt));
  peer.connectionStateChange.subscribe((s) => s === 'connected' && (stages.connected = performance.now() - offeredAt));
  return peer;
}

/** 64 KiB frames (MAX_FRAME_BYTES), as the agent's output sender, under the same buffer watermarks. */
async function sendRun(run: number, bytes: number, close: boolean): Promise<void> {
  const c = channel!;
  c.bufferedAmountLowThreshold = CHANNEL_BUFFER_LOW_BYTES;
  const timing = await sendFrames(
    {
      bufferedAmount: () => c.bufferedAmount,
      lowered: () =>
        new Promise<void>((resolve) => {
          const { unSubscribe } = c.bufferedAmountLow.subscribe(() => {
            unSubscribe();
            resolve();
          });
        }),
      send: (frame) => c.send(frame),
      close: () => c.close(),
    },
    bytes,
    close,
  );
  send({ type: 'queued', run, ...timing });
}

process.on('message', (order: Order) => {
  void (async () => {
    switch (order.type) {
      case 'offer': {
        if (pc) await pc.close();
        channel = undefined;
        echo = false;
        offeredAt = performance.now();
        stages = {};
        pc = newPeer();
        await pc.setRemoteDescription({ type: 'offer', sdp: order.sdp });
        if (process.env.TETHER_BENCH_DTLS_SERVER) for (const t of pc.dtlsTransports) t.role = 'server';
        await pc.setLocalDescription(await pc.createAnswer());
        stages.answered = performance.now() - offeredAt;
        for (const t of pc.dtlsTransports)
          t.onStateChange.subscribe((s) => s === 'connected' && (stages.dtls = performance.now() - offeredAt));
        send({ type: 'answer', sdp: pc.localDescription!.sdp });
        break;
      }
      case 'ice':
        await pc.addIceCandidate(order.candidate);
        break;
      case 'send':
        await sendRun(order.run, order.bytes, order.close === true);
        break;
      case 'stats': {
        const sctp = (pc.sctpTransport as unknown as { sctp?: Record<string, unknown> } | undefined)?.sctp;
        const pick = (k: string) => sctp?.[k];
        send({
          type: 'stats',
          buffered: channel?.bufferedAmount,
          sctp: {
            flightSize: pick('flightSize'),
            cwnd: pick('cwnd'),
            outbound: (pick('outboundQueue') as unknown[] | undefined)?.length,
            sent: (pick('sentQueue') as unknown[] | undefined)?.length,
            peerRwnd: pick('peerAdvertisedRwnd'),
            t3: pick('timer3Handle') !== undefined,
          },
          cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
        });
        break;
      }
      case 'echo':
        echo = true;
        send({ type: 'echoing' });
        break;
      case 'quit':
        await pc?.close();
        process.exit(0);
    }
  })().catch((error: unknown) => send({ type: 'error', message: String(error) }));
});
// The bench went away (finished or killed): so does this process.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
