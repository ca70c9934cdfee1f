/**
 * A native WebRTC peer in place of werift, for bench/werift-chromium.ts: libdatachannel (C++:
 * libjuice for ICE, usrsctp for SCTP, OpenSSL for DTLS) through its npm binding node-datachannel,
 * answering the page's offer in its own process and obeying the same IPC orders as
 * bench/werift-sender.ts: the same frames, the same buffer watermarks, the same echo. Not part of
 * the product: it is the reference that says what a data channel costs and how fast it goes on this
 * machine when the peer is not written in JavaScript (bench/README.md, "The floors").
 */
import nodeDataChannel from 'node-datachannel';
import { CHANNEL_BUFFER_LOW_BYTES } from '@tether/protocol';
import { sendFrames } from './frame-loop.js';

type Order =
  | { type: 'offer'; sdp: string }
  | { type: 'ice'; candidate: { candidate: string; sdpMid?: string; sdpMLineIndex?: number } }
  | { type: 'send'; run: number; bytes: number; close?: boolean }
  | { type: 'echo' }
  | { type: 'stats' }
  | { type: 'quit' };

const send = (message: Record<string, unknown>) => process.send!(message);

let pc: nodeDataChannel.PeerConnection | undefined;
let channel: nodeDataChannel.DataChannel | undefined;
let echo = false;
/** ms from the offer's arrival to each step of the current connection */
let stages: Record<string, number> = {};
let offeredAt = 0;

function newPeer(): nodeDataChannel.PeerConnection {
  const peer = new nodeDataChannel.PeerConnection('bench', { iceServers: [], bindAddress: '127.0.0.1', maxMessageSize: 262_144 });
  peer.onLocalCandidate((candidate, mid) => send({ type: 'ice', candidate: { candidate, sdpMid: mid, sdpMLineIndex: 0 } }));
  peer.onLocalDescription((sdp, type) => {
    if (type !== 'answer') return;
    stages.answered = performance.now() - offeredAt;
    send({ type: 'answer', sdp });
  });
  peer.onStateChange((state) => state === 'connected' && (stages.connected = performance.now() - offeredAt));
  peer.onDataChannel((c) => {
    channel = c;
    c.onMessage((message) => {
      if (echo && typeof message !== 'string') c.sendMessageBinary(Buffer.from(message as ArrayBuffer));
    });
    send({ type: 'channel', stages: { ...stages, channel: performance.now() - offeredAt } });
  });
  return peer;
}

/** As werift-sender.ts: 64 KiB frames under the agent's buffer watermarks. */
async function sendRun(run: number, bytes: number, close: boolean): Promise<void> {
  const c = channel!;
  c.setBufferedAmountLowThreshold(CHANNEL_BUFFER_LOW_BYTES);
  const timing = await sendFrames(
    {
      bufferedAmount: () => c.bufferedAmount(),
      lowered: () =>
        new Promise<void>((resolve) =>
          c.onBufferedAmountLow(() => {
            c.onBufferedAmountLow(() => undefined);
            resolve();
          }),
        ),
      send: (frame) => void c.sendMessageBinary(frame),
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
      case 'offer':
        pc?.close();
        channel = undefined;
        echo = false;
        offeredAt = performance.now();
        stages = {};
        pc = newPeer();
        pc.setRemoteDescription(order.sdp, 'offer');
        break;
      case 'ice':
        pc?.addRemoteCandidate(order.candidate.candidate, order.candidate.sdpMid ?? '0');
        break;
      case 'send':
        await sendRun(order.run, order.bytes, order.close === true);
        break;
      case 'echo':
        echo = true;
        send({ type: 'echoing' });
        break;
      case 'stats': {
        // The process's CPU: libdatachannel's own threads (ICE, SCTP, DTLS) are in it.
        const cpu = process.cpuUsage();
        send({ type: 'stats', buffered: channel?.bufferedAmount(), cpuMs: (cpu.user + cpu.system) / 1000 });
        break;
      }
      case 'quit':
        pc?.close();
        nodeDataChannel.cleanup();
        process.exit(0);
    }
  })().catch((error: unknown) => send({ type: 'error', message: String(error) }));
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
