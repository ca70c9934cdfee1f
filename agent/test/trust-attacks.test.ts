/**
 * Attacks on the agent's trust, on the built agent with its LAN endpoint and a cloud signaling
 * server, from consoles written in Node with werift (issue 11): SDP fingerprint tricks, a DTLS
 * certificate that is not the pinned one, lockout of the LAN endpoint from other addresses, one
 * console (or one token) taking every negotiation slot, enrollment that displaces another console,
 * and the state rules of `control` (hello first, another protocol).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  MAX_NEGOTIATIONS_PER_CONNECTION,
  MAX_NEGOTIATIONS_PER_CONSOLE,
  parsePairingToken,
  type PairedAgent,
  type PairingToken,
} from '@tether/protocol';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import { io } from 'socket.io-client';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { FAILURES_PER_ADDRESS } from '../src/trust/attempt-limiter.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { collect, connectFor, opened, TestConsole, until } from '../../harness/werift-console.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const consoleToken = 'console-trust-attacks-0123456789';
const agentToken = 'agent-trust-attacks-0123456789';

describe('attacks on the agent trust (issue 11)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-trust-attacks-'));
  let agent: ChildProcess | undefined;
  let logs = '';
  let url = '';
  let fingerprint = '';
  let container: TestContainer;
  let w: Werift;
  let victim: TestConsole;
  let agentInfo: PairedAgent;
  let signaling: Awaited<ReturnType<typeof startSignalingServer>>;

  const audit = () =>
    readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  function pair(): PairingToken {
    const out = execFileSync(
      process.execPath,
      [cli, 'pair', '--state-dir', stateDir, '--no-qr', '--lan-endpoint', url.replace('http://', '')],
      { encoding: 'utf8' },
    );
    const token = parsePairingToken(/tether\d+:[A-Za-z0-9_-]+/.exec(out)?.[0] ?? '');
    assert.ok(token.ok, out);
    return token.value;
  }

  /** A console with its own key and certificate, enrolled with the agent. */
  async function enrolled(): Promise<TestConsole> {
    const c = await TestConsole.create();
    await c.open(url);
    const ack = await c.enroll(pair());
    assert.ok(ack.ok, JSON.stringify(ack));
    agentInfo = ack.agent;
    return c;
  }

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    container = await startContainer({ namePrefix: 'tether-trust-attacks' });
    signaling = await startSignalingServer({
      port: 0,
      host: '127.0.0.1',
      consoleTokens: [consoleToken],
      agentTokens: [agentToken],
      logger: createJsonLogger({ level: 'warn', write: () => undefined }),
    });
    agent = spawn(
      process.execPath,
      [
        cli,
        '--lan-listen',
        '127.0.0.1:0',
        '--signaling-url',
        signaling.url,
        '--token',
        agentToken,
        '--state-dir',
        stateDir,
        '--agent-id',
        'trust-agent',
        '--name',
        'Trust agent',
        '--ice-host',
        '127.0.0.1',
        '--ice-interface',
        '127.0.0.1',
        '--log-level',
        'debug',
        '--require-pairing',
        'never',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    agent.stdout!.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const ready = await until<RegExpExecArray>(
      () => /"msg":"agent ready".*?"fingerprint":"([^"]+)".*?"lanPort":(\d+)/.exec(logs) ?? undefined,
      'agent ready',
    );
    fingerprint = ready[1]!;
    url = `http://127.0.0.1:${ready[2]}`;
    victim = await enrolled();
  });

  after(async () => {
    victim?.close();
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
    await signaling?.close();
    await container?.remove();
  });

  test('an offer with the enrolled sha-256 line and a sha-512 line of another certificate is refused and audited', async () => {
    await victim.open(url);
    assert.ok((await victim.auth()).ok);
    const sha512 = Array.from({ length: 64 }, () => 'AB').join(':');
    const { pc, control, events } = await victim.connect(w, fingerprint, (sdp) =>
      sdp.replace(/(a=fingerprint:sha-256 \S+\r?\n)/, `$1a=fingerprint:sha-512 ${sha512}\r\n`),
    );
    await until(() => events.disconnect, 'the agent refuses');
    assert.equal(events.disconnect?.code, 'FINGERPRINT_MISMATCH');
    assert.match(events.disconnect!.reason, /exactly one a=fingerprint line/);
    assert.notEqual(control.readyState, 'open');
    await pc.close();
    assert.ok(audit().some((e) => e.event === 'offer.refused' && e.code === 'FINGERPRINT_MISMATCH' && e.negotiationId !== undefined));
  });

  test('an offer that names the enrolled certificate while DTLS presents another: FINGERPRINT_MISMATCH, audited, no channel', async () => {
    await victim.open(url);
    assert.ok((await victim.auth()).ok);
    const relay = await TestConsole.create(); // the relay's own certificate
    const before = audit().length;
    const { pc, control, tty, events } = await victim.connect(
      w,
      fingerprint,
      (sdp) => sdp.replace(/a=fingerprint:sha-256 \S+/, `a=fingerprint:sha-256 ${victim.keys.fingerprint}`),
      relay.keys,
    );
    const refused = await until(
      () =>
        audit()
          .slice(before)
          .find((e) => e.event === 'console.refused' && e.code === 'FINGERPRINT_MISMATCH'),
      'the agent audits the mismatch',
    );
    assert.equal(refused.dtlsFingerprint, relay.keys.fingerprint, JSON.stringify(refused));
    assert.equal(refused.fingerprint, victim.keys.fingerprint);
    await until(() => events.disconnect, 'the agent tells the console why');
    assert.equal(events.disconnect?.code, 'FINGERPRINT_MISMATCH');
    assert.notEqual(control.readyState, 'open');
    assert.notEqual(tty.readyState, 'open');
    assert.ok(
      !audit()
        .slice(before)
        .some((e) => e.event === 'session.start'),
    );
    await pc.close();
  });

  test("the agent's binding signature covers the console certificate DTLS presented: checked over any other fingerprint it fails", async () => {
    await victim.open(url);
    assert.ok((await victim.auth()).ok);
    const { pc, control, sessionId } = await victim.connect(w, fingerprint);
    const other = await TestConsole.create();
    const original = victim.keys.fingerprint;
    const replies = collect(control);
    await opened(control);
    try {
      Object.assign(victim.keys, { fingerprint: other.keys.fingerprint });
      await assert.rejects(victim.bind(control, sessionId, agentInfo.publicKey, fingerprint), /binding signature does not verify/);
    } finally {
      Object.assign(victim.keys, { fingerprint: original });
    }
    await pc.close();
    void replies;
  });

  test('30 failures from 6 other addresses lock out neither the enrolled console nor a valid pairing token', async () => {
    const token = pair();
    for (let a = 2; a <= 7; a++) {
      const guesser = await TestConsole.create();
      for (let i = 0; i < FAILURES_PER_ADDRESS; i++) {
        // One connection per attempt: a connection keeps the identity it first claims.
        await guesser.open(url, `127.0.0.${a}`);
        guesser.consoleId = victim.consoleId;
        const refused = i % 2 === 0 ? await guesser.auth() : await guesser.enroll(token, `AAAAAAAAAAAAAAAAAAAAA${i}`);
        assert.ok(!refused.ok, JSON.stringify(refused));
      }
      const now = await (async () => (await guesser.open(url, `127.0.0.${a}`), guesser.auth()))();
      assert.ok(!now.ok && now.error.code === 'RATE_LIMITED', `the guessing address ${a} itself is limited: ${JSON.stringify(now)}`);
      guesser.close();
    }
    await victim.open(url);
    const auth = await victim.auth();
    assert.ok(auth.ok, `the enrolled console still authenticates: ${JSON.stringify(auth)}`);
    const holder = await TestConsole.create();
    await holder.open(url, '127.0.0.8');
    const paired = await holder.enroll(token);
    assert.ok(paired.ok, `the token's holder still pairs: ${JSON.stringify(paired)}`);
    holder.close();
  });

  test('a connection keeps the identity it authenticated as', async () => {
    const other = await enrolled();
    await other.open(url);
    assert.ok((await other.auth()).ok);
    const second = await other.auth();
    assert.ok(!second.ok && second.error.code === 'BAD_MESSAGE', JSON.stringify(second));
    other.close();
  });

  test("enrolling another key with an enrolled console's (public) fingerprint is refused; that console stays enrolled", async () => {
    const intruder = await TestConsole.create();
    await intruder.open(url);
    const refused = await intruder.enroll(pair(), undefined, victim.keys.fingerprint);
    assert.ok(!refused.ok && refused.error.code === 'PAIRING_INVALID', JSON.stringify(refused));
    assert.match(refused.error.message, /already enrolled for another console/);
    await victim.open(url);
    assert.ok((await victim.auth()).ok, 'the victim is still enrolled');
    intruder.close();
  });

  test(`one console holds at most ${MAX_NEGOTIATIONS_PER_CONNECTION} negotiations per connection and ${MAX_NEGOTIATIONS_PER_CONSOLE} in all; another still gets one`, async () => {
    // The case: two cloud connections with one token filled all 128 slots.
    const attacker = await TestConsole.create();
    const offer = await (async () => {
      const pc = new w.RTCPeerConnection({
        dtls: { keys: { certPem: attacker.keys.certPem, keyPem: attacker.keys.keyPem, signatureHash: { hash: 4, signature: 3 } } },
      });
      pc.createDataChannel('control');
      await pc.setLocalDescription(await pc.createOffer());
      const sdp = pc.localDescription!.sdp;
      await pc.close();
      return sdp;
    })();
    const sockets = Array.from({ length: 3 }, () =>
      io(signaling.url, {
        auth: { role: 'console', token: consoleToken },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        autoConnect: false,
      }),
    );
    const refusals: { reason: string; code?: string }[] = [];
    for (const socket of sockets) socket.on('webrtc:disconnect', (m: { reason: string; code?: string }) => refusals.push(m));
    await Promise.all(sockets.map((s) => connectFor(s, 'presence:snapshot', 'the signaling server')));
    for (const [n, socket] of sockets.entries()) {
      for (let i = 0; i < MAX_NEGOTIATIONS_PER_CONNECTION + 2; i++) {
        await socket
          .timeout(10_000)
          .emitWithAck('webrtc:offer', { sessionId: `flood-${n}-${i}-${Date.now()}`, agentId: 'trust-agent', sdp: offer });
      }
    }
    // 3 × 18 offers: the first two connections get 16 each and 2 refused per connection; the
    // third finds the console's 32 taken and every one of its 18 is refused per console.
    const offered = 3 * (MAX_NEGOTIATIONS_PER_CONNECTION + 2);
    await until(() => refusals.length >= offered - MAX_NEGOTIATIONS_PER_CONSOLE || undefined, 'the refusals');
    const count = (pattern: RegExp) => refusals.filter((r) => r.code === 'RATE_LIMITED' && pattern.test(r.reason)).length;
    assert.deepEqual(
      { perConnection: count(/per signaling connection/), perConsole: count(/per console/) },
      { perConnection: 4, perConsole: 18 },
      JSON.stringify(refusals.slice(0, 3)),
    );
    // Someone else is still served: the victim opens a terminal over the LAN.
    await victim.open(url);
    assert.ok((await victim.auth()).ok);
    const { pc, control, tty, sessionId } = await victim.connect(w, fingerprint);
    const replies = await victim.bind(control, sessionId, agentInfo.publicKey, fingerprint);
    assert.ok(
      replies.some((m) => m.type === 'auth-ok'),
      JSON.stringify(replies),
    );
    const term = collect(tty);
    await opened(tty);
    tty.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    await until(() => term.find((m) => m.type === 'opened'), 'a terminal for another console');
    await pc.close();
    for (const socket of sockets) socket.disconnect();
  });

  test("offers on the cloud path naming an enrolled console's (public) fingerprint do not use up its slots on the LAN path", async () => {
    // Anyone who relays or holds a console token can write the engineer's fingerprint into an SDP;
    // it proves nothing until DTLS. The slots it takes are the cloud path's.
    const squatter = await TestConsole.create();
    const sdp = await (async () => {
      const pc = new w.RTCPeerConnection({
        dtls: { keys: { certPem: squatter.keys.certPem, keyPem: squatter.keys.keyPem, signatureHash: { hash: 4, signature: 3 } } },
      });
      pc.createDataChannel('control');
      await pc.setLocalDescription(await pc.createOffer());
      const own = pc.localDescription!.sdp;
      await pc.close();
      return own.replace(/a=fingerprint:sha-256 \S+/, `a=fingerprint:sha-256 ${victim.keys.fingerprint}`);
    })();
    const sockets = Array.from({ length: 3 }, () =>
      io(signaling.url, {
        auth: { role: 'console', token: consoleToken },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        autoConnect: false,
      }),
    );
    const refusals: { reason: string; code?: string }[] = [];
    for (const socket of sockets) socket.on('webrtc:disconnect', (m: { reason: string; code?: string }) => refusals.push(m));
    await Promise.all(sockets.map((s) => connectFor(s, 'presence:snapshot', 'the signaling server')));
    for (const [n, socket] of sockets.entries())
      for (let i = 0; i < MAX_NEGOTIATIONS_PER_CONNECTION; i++)
        await socket
          .timeout(10_000)
          .emitWithAck('webrtc:offer', { sessionId: `squat-${n}-${i}-${Date.now()}`, agentId: 'trust-agent', sdp });
    // The cloud path's slots for that console are full: the third connection's offers are refused.
    await until(
      () =>
        refusals.filter((r) => r.code === 'RATE_LIMITED' && /per console/.test(r.reason)).length >= MAX_NEGOTIATIONS_PER_CONNECTION ||
        undefined,
      "the cloud path's bound for the console",
    );
    // The engineer, on the LAN path, is served all the same.
    await victim.open(url);
    assert.ok((await victim.auth()).ok);
    const { pc, control, tty, sessionId, events } = await victim.connect(w, fingerprint);
    const replies = await victim.bind(control, sessionId, agentInfo.publicKey, fingerprint);
    assert.ok(
      replies.some((m) => m.type === 'auth-ok'),
      `${JSON.stringify(replies)} ${JSON.stringify(events.disconnect)}`,
    );
    const term = collect(tty);
    await opened(tty);
    tty.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    await until(() => term.find((m) => m.type === 'opened'), 'a terminal over the LAN');
    await pc.close();
    for (const socket of sockets) socket.disconnect();
  });

  test('control: nothing but hello before hello; a hello of another protocol is UNSUPPORTED_PROTOCOL and ends the peer connection', async () => {
    await victim.open(url);
    assert.ok((await victim.auth()).ok);
    const { pc, control, tty, events, sessionId } = await victim.connect(w, fingerprint);
    const replies = collect(control);
    const term = collect(tty);
    await opened(control);
    control.send(JSON.stringify({ type: 'list-targets' }));
    await until(() => replies.find((m) => m.type === 'error'), 'list-targets before hello refused');
    assert.equal(replies[0]?.code, 'BAD_MESSAGE');
    assert.match(String(replies[0]?.message), /hello first/);
    // open before any hello is not served: it waits, and nothing starts.
    await opened(tty);
    tty.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!term.some((m) => m.type === 'opened'), JSON.stringify(term));
    control.send(JSON.stringify({ type: 'hello', protocol: 'tether-tty/9', peer: { kind: 'console', version: '9' }, capabilities: [] }));
    const refused = await until(
      () => replies.find((m) => m.type === 'error' && m.code === 'UNSUPPORTED_PROTOCOL'),
      'another protocol refused',
    );
    assert.equal(refused.fatal, true);
    assert.match(String(refused.message), /tether-tty\/1/);
    // Fatal on control: the peer connection goes with it. The open that waited is refused with the
    // same code (it used to wait 20 s for an auth and be refused NOT_PAIRED), the console is told
    // on signaling, the refusal is audited, and the agent closes its side.
    const ttyRefused = await until(() => term.find((m) => m.type === 'error'), 'the waiting open refused');
    assert.equal(ttyRefused.code, 'UNSUPPORTED_PROTOCOL');
    assert.equal(ttyRefused.fatal, true);
    assert.ok(!term.some((m) => m.type === 'opened'), JSON.stringify(term));
    const told = await until(() => events.disconnect, 'webrtc:disconnect from the agent');
    assert.equal(told.code, 'UNSUPPORTED_PROTOCOL');
    await until(() => ['closed', 'failed', 'disconnected'].includes(pc.connectionState) || undefined, 'the peer connection to end');
    await until(
      () => audit().find((e) => e.event === 'console.refused' && e.code === 'UNSUPPORTED_PROTOCOL' && e.negotiationId === sessionId),
      'the refusal in the audit log',
    );
    await pc.close();
  });
});
