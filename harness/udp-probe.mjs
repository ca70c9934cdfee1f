#!/usr/bin/env node
// A UDP echo server and a probe client for checking a test network's links from inside their
// namespaces (`ip netns exec <ns> node udp-probe.mjs …`); the client prints one JSON line.
//
//   node udp-probe.mjs echo <address> <port>                 echoes every datagram; prints "ready"
//   node udp-probe.mjs probe <address> <port> <count> <gap-ms> [<first-byte>]  sends <count> numbered
//        datagrams <gap-ms> apart, each starting with <first-byte> (0 by default; 23 looks like DTLS
//        application data), waits 1.5 s after the last, prints {sent, received, duplicates, rttMs: [...]}
import dgram from 'node:dgram';

const [mode, address, portText, countText, gapText, firstByteText] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'echo') {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, from) => socket.send(message, from.port, from.address));
  socket.bind(port, address, () => console.log('ready'));
} else if (mode === 'probe') {
  const count = Number(countText);
  const gap = Number(gapText);
  const socket = dgram.createSocket('udp4');
  const sentAt = new Map();
  const seen = new Set();
  const rttMs = [];
  let duplicates = 0;
  socket.on('message', (message) => {
    const id = message.readUInt32BE(4);
    if (seen.has(id)) duplicates += 1;
    else if (sentAt.has(id)) {
      seen.add(id);
      rttMs.push(Number(process.hrtime.bigint() - sentAt.get(id)) / 1e6);
    }
  });
  // A send to an unreachable network fails; that datagram counts as lost.
  socket.on('error', () => undefined);
  let next = 0;
  const send = () => {
    const message = Buffer.alloc(64);
    message.writeUInt8(Number(firstByteText ?? 0), 0);
    message.writeUInt32BE(next, 4);
    sentAt.set(next, process.hrtime.bigint());
    socket.send(message, port, address, () => undefined);
    next += 1;
    if (next < count) setTimeout(send, gap);
    else
      setTimeout(() => {
        console.log(JSON.stringify({ sent: count, received: seen.size, duplicates, rttMs }));
        socket.close();
      }, 1500);
  };
  send();
} else {
  console.error('usage: udp-probe.mjs echo <address> <port> | probe <address> <port> <count> <gap-ms>');
  process.exit(2);
}
