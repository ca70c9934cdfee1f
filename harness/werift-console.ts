/**
 * A console in Node for the agent's trust tests: werift with its own persistent certificate, an
 * ECDSA key, and the console side of pairing, LAN authentication and the data-channel binding,
 * step by step as protocol/README.md describes them.
 */
import { createHash, createHmac, sign, verify, createPublicKey } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import {
  bindingInput,
  fromBase64Url,
  lanAuthInput,
  pairingProofInput,
  sdpFingerprint,
  toBase64Url,
  type LanAuthAck,
  type LanHello,
  type PairingToken,
} from '@tether/protocol';
import { loadIdentity, type AgentKeys } from '../agent/src/trust/identity.js';
import type { Werift } from './patched-werift.js';

const ICE = { iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceUseIpv6: false };
type Pc = InstanceType<Werift['RTCPeerConnection']>;
type Channel = ReturnType<Pc['createDataChannel']>;
type Msg = { type: string; [k: string]: unknown };

/**
 * Polls `check` until it gives a value. The default bound is far above what any condition takes on
 * a quiet machine: it only ends a wait that will never be met, and a loaded machine (two busy loops,
 * test files side by side) must not reach it.
 */
export async function until<T>(check: () => T | undefined | false, what: string, ms = 180_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Connects `socket` and resolves with the first `event` it gets. A server that says "later" (a busy
 * node's 503 before the upgrade, which the client sees as a transport error; RATE_LIMITED) is tried
 * again, as the console does; a refusal that is final, or no `event` within `ms`, throws saying
 * what the server last said, where waiting for the event alone hung until the test's own timeout.
 */
export function connectFor<T = unknown>(socket: Socket, event: string, what: string, ms = 60_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let last = 'nothing';
    let retry: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      clearTimeout(retry);
      socket.off('connect_error', refused);
      socket.off(event, arrived);
    };
    const timer = setTimeout(() => {
      done();
      socket.disconnect();
      reject(new Error(`no ${event} from ${what} within ${ms / 1000} s; it last said: ${last}`));
    }, ms);
    const refused = (error: Error & { data?: { code?: string; message?: string; retryAfterMs?: number } }) => {
      const data = error.data;
      last = data?.message
        ? `${data.code ?? ''} ${data.message}`
        : `${error.message} (${String((error as { description?: unknown }).description ?? '')})`;
      if (data?.code !== undefined && data.code !== 'RATE_LIMITED') {
        done();
        reject(new Error(`${what} refused the connection: ${last}`));
        return;
      }
      retry = setTimeout(() => socket.connect(), data?.retryAfterMs ?? 500);
    };
    const arrived = (value: T) => {
      done();
      resolve(value);
    };
    socket.once(event, arrived);
    socket.on('connect_error', refused);
    socket.connect();
  });
}

export class TestConsole {
  keys!: AgentKeys;
  consoleId: string | undefined;
  socket: Socket | undefined;
  hello: LanHello | undefined;

  static async create(): Promise<TestConsole> {
    const c = new TestConsole();
    const keys = await loadIdentity(mkdtempSync(join(tmpdir(), 'tether-console-')));
    if (!keys.ok) throw new Error(keys.error);
    c.keys = keys.value;
    return c;
  }

  /** Connects to a LAN endpoint; `localAddress` picks the source address (127.0.0.2, … on loopback). */
  async open(url: string, localAddress?: string): Promise<LanHello> {
    this.socket?.disconnect();
    const socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
      ...(localAddress ? { localAddress } : {}),
    });
    this.socket = socket;
    this.hello = await connectFor<LanHello>(socket, 'lan:hello', `the LAN endpoint at ${url}`);
    return this.hello;
  }

  /** Connects to a cloud signaling server as a console instead of a LAN endpoint; `connect` then offers through it. */
  async openCloud(url: string, token: string, agentId: string): Promise<void> {
    this.socket?.disconnect();
    const socket = io(url, {
      auth: { role: 'console', token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    this.socket = socket;
    await connectFor(socket, 'presence:snapshot', `the signaling server at ${url}`);
    this.hello = { agentId, name: agentId, version: '', nonce: '' } as LanHello;
  }

  async enroll(token: PairingToken, secret = token.secret, fingerprint = this.keys.fingerprint): Promise<LanAuthAck> {
    const key = createHash('sha256').update(fromBase64Url(secret)!).digest();
    const proof = createHmac('sha256', key)
      .update(pairingProofInput({ pairingId: token.pairingId, agentId: token.agentId, publicKey: this.keys.publicKey, fingerprint }))
      .digest('base64url');
    const ack = (await this.socket!.timeout(10_000).emitWithAck('pair:enroll', {
      pairingId: token.pairingId,
      consoleName: 'test console',
      publicKey: this.keys.publicKey,
      fingerprint,
      proof,
    })) as LanAuthAck;
    if (ack.ok) this.consoleId = ack.consoleId;
    return ack;
  }

  async auth(): Promise<LanAuthAck> {
    const input = lanAuthInput({ agentId: this.hello!.agentId, consoleId: this.consoleId!, nonce: this.hello!.nonce });
    const signature = toBase64Url(sign('sha256', input, { key: this.keys.privateKey, dsaEncoding: 'ieee-p1363' }));
    return (await this.socket!.timeout(10_000).emitWithAck('lan:auth', { consoleId: this.consoleId, signature })) as LanAuthAck;
  }

  /**
   * Offers a peer connection over the LAN socket; `tamper` may rewrite the offer's SDP (a relay).
   * Resolves with the peer and its channels, or with the agent's disconnect.
   */
  async connect(
    w: Werift,
    pinned: string,
    tamper: (sdp: string) => string = (s) => s,
    dtlsKeys: Pick<AgentKeys, 'certPem' | 'keyPem'> = this.keys,
  ) {
    const socket = this.socket!;
    const pc: Pc = new w.RTCPeerConnection({
      ...ICE,
      dtls: { keys: { certPem: dtlsKeys.certPem, keyPem: dtlsKeys.keyPem, signatureHash: { hash: 4, signature: 3 } } },
    });
    const sessionId = `neg-${Math.random().toString(36).slice(2, 12)}`;
    const events: { disconnect?: { reason: string; code?: string }; answerRefused?: string } = {};
    socket.on('webrtc:answer', async (msg: { sessionId: string; sdp: string }) => {
      if (msg.sessionId !== sessionId) return;
      const declared = sdpFingerprint(msg.sdp);
      if (!declared.ok || declared.value !== pinned) {
        events.answerRefused = 'FINGERPRINT_MISMATCH';
        return;
      }
      await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
    });
    socket.on(
      'webrtc:ice',
      (msg: { sessionId: string; candidate: { candidate: string; sdpMid?: string; sdpMLineIndex?: number } | null }) => {
        // A candidate that comes after the test closed the peer connection is refused ("is
        // closed"): nothing to do with it, and not an unhandled rejection that fails the file.
        if (msg.sessionId === sessionId && msg.candidate)
          pc.addIceCandidate({
            candidate: msg.candidate.candidate,
            sdpMid: msg.candidate.sdpMid ?? undefined,
            sdpMLineIndex: msg.candidate.sdpMLineIndex ?? undefined,
          }).catch(() => undefined);
      },
    );
    socket.on('webrtc:disconnect', (msg: { sessionId: string; reason: string; code?: string }) => {
      if (msg.sessionId === sessionId) events.disconnect = msg;
    });
    pc.onIceCandidate.subscribe((c) => {
      const json = c?.toJSON();
      socket.emit('webrtc:ice', {
        sessionId,
        candidate: json ? { candidate: json.candidate, sdpMid: json.sdpMid, sdpMLineIndex: json.sdpMLineIndex } : null,
      });
    });
    const control = pc.createDataChannel('control');
    const tty = pc.createDataChannel('tty:1');
    await pc.setLocalDescription(await pc.createOffer());
    const ack = (await socket
      .timeout(10_000)
      .emitWithAck('webrtc:offer', { sessionId, agentId: this.hello!.agentId, sdp: tamper(pc.localDescription!.sdp) })) as { ok: boolean };
    return { pc, control, tty, sessionId, events, ack };
  }

  /** hello with a nonce, checks the agent's binding signature, sends auth; the control replies. */
  async bind(control: Channel, sessionId: string, agentPublicKey: string, agentFingerprint: string): Promise<Msg[]> {
    const replies = collect(control);
    await opened(control);
    const consoleNonce = toBase64Url(Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))));
    control.send(
      JSON.stringify({
        type: 'hello',
        protocol: 'tether-tty/1',
        peer: { kind: 'console', version: '0' },
        capabilities: [],
        nonce: consoleNonce,
      }),
    );
    const hello = await until(() => replies.find((m) => m.type === 'hello'), 'agent hello');
    const common = {
      negotiationId: sessionId,
      agentFingerprint,
      consoleFingerprint: this.keys.fingerprint,
      agentNonce: hello.nonce as string,
      consoleNonce,
    };
    const key = createPublicKey({ key: Buffer.from(fromBase64Url(agentPublicKey)!), format: 'der', type: 'spki' });
    if (
      !verify(
        'sha256',
        bindingInput({ role: 'agent', ...common }),
        { key, dsaEncoding: 'ieee-p1363' },
        fromBase64Url(hello.signature as string)!,
      )
    ) {
      throw new Error('agent binding signature does not verify');
    }
    const signature = toBase64Url(
      sign('sha256', bindingInput({ role: 'console', ...common }), { key: this.keys.privateKey, dsaEncoding: 'ieee-p1363' }),
    );
    control.send(JSON.stringify({ type: 'auth', consoleId: this.consoleId, signature }));
    await until(() => replies.find((m) => m.type === 'auth-ok' || m.type === 'error'), 'auth reply');
    return replies;
  }

  close(): void {
    this.socket?.disconnect();
  }
}

/** Control messages as they arrive; `output()` decodes every binary frame together, as xterm.js does. */
export function collect(channel: Channel): Msg[] & { output: () => string } {
  const texts = [] as unknown as Msg[] & { output: () => string };
  const frames: Buffer[] = [];
  channel.onMessage.subscribe((data: string | Buffer) => {
    if (typeof data === 'string') texts.push(JSON.parse(data) as Msg);
    else frames.push(Buffer.from(data));
  });
  texts.output = () => Buffer.concat(frames).toString('utf8');
  return texts;
}

/** Resolves once the channel is open; rejects if it closes first (a refused channel, a peer that died), instead of waiting for ever. */
export function opened(channel: Channel): Promise<void> {
  if (channel.readyState === 'open') return Promise.resolve();
  if (channel.readyState === 'closed') return Promise.reject(new Error(`channel ${channel.label} is closed`));
  return new Promise((resolve, reject) =>
    channel.stateChanged.subscribe((s) => {
      if (s === 'open') resolve();
      else if (s === 'closed') reject(new Error(`channel ${channel.label} closed before it opened`));
    }),
  );
}
