/**
 * A man in the middle for the trust tests: a Socket.IO server in front of an agent's LAN endpoint
 * that passes every event both ways (acks included) but rewrites `a=fingerprint` in the offers
 * and/or answers, as a compromised signaling path would to put itself between the peers.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';

export type RelayMode = 'offer-and-answer' | 'answer' | 'none';

export interface FingerprintRelay {
  port: number;
  mode: RelayMode;
  /** how many SDPs it rewrote */
  rewritten: number;
  close(): Promise<void>;
}

const forged = () => [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

function rewrite(payload: unknown, fingerprint: string): unknown {
  if (!payload || typeof payload !== 'object' || typeof (payload as { sdp?: unknown }).sdp !== 'string') return payload;
  const sdp = (payload as { sdp: string }).sdp.replace(/^a=fingerprint:sha-256 \S+/gim, `a=fingerprint:sha-256 ${fingerprint}`);
  return { ...payload, sdp };
}

export async function startFingerprintRelay(upstreamUrl: string, mode: RelayMode): Promise<FingerprintRelay> {
  const http = createServer();
  const server = new Server(http, { cors: { origin: '*' } });
  const relay: FingerprintRelay = { port: 0, mode, rewritten: 0, close: async () => undefined };
  const offerFingerprint = forged();
  const answerFingerprint = forged();
  server.on('connection', (socket) => {
    const upstream = connect(upstreamUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
    upstream.onAny((event: string, payload: unknown) => {
      const tamper = event === 'webrtc:answer' && relay.mode !== 'none';
      if (tamper) relay.rewritten += 1;
      socket.emit(event, tamper ? rewrite(payload, answerFingerprint) : payload);
    });
    socket.onAny((event: string, payload: unknown, ack?: unknown) => {
      const tamper = event === 'webrtc:offer' && relay.mode === 'offer-and-answer';
      if (tamper) relay.rewritten += 1;
      const body = tamper ? rewrite(payload, offerFingerprint) : payload;
      if (typeof ack === 'function') upstream.emit(event, body, (reply: unknown) => (ack as (r: unknown) => void)(reply));
      else upstream.emit(event, body);
    });
    socket.on('disconnect', () => upstream.disconnect());
    upstream.on('disconnect', () => socket.disconnect(true));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  relay.port = (http.address() as AddressInfo).port;
  relay.close = async () => {
    await server.close();
    http.closeAllConnections();
  };
  return relay;
}
