/**
 * The built agent (dist/cli.js, patched werift inside) driven over a real werift ↔ werift
 * connection on 127.0.0.1, through a Socket.IO server that plays the signaling relay.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Server, type Socket } from 'socket.io';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const ICE = { iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceUseIpv6: false };

type Channel = InstanceType<Werift['RTCPeerConnection']> extends { createDataChannel(...a: never[]): infer C } ? C : never;

/** Resolves once `channel` is open; fails after 30 s instead of hanging the file. */
async function opened(channel: Channel, what: string): Promise<void> {
  if (channel.readyState === 'open') return;
  await withTimeout(new Promise<void>((resolve) => channel.stateChanged.subscribe((s) => s === 'open' && resolve())), `${what} to open`);
}

async function withTimeout<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms)),
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `predicate` holds, polling; fails with `what` after `ms`. */
async function until(predicate: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function collect(channel: Channel) {
  const texts: { type: string; [k: string]: unknown }[] = [];
  let output = '';
  channel.onMessage.subscribe((data: string | Buffer) => {
    if (typeof data === 'string') texts.push(JSON.parse(data) as { type: string });
    else output += data.toString('utf8');
  });
  return {
    texts,
    get output() {
      return output;
    },
    async until(predicate: () => boolean, what: string) {
      const deadline = Date.now() + 20_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}; ${JSON.stringify(texts)} ${JSON.stringify(output.slice(-300))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('agent over WebRTC (built CLI, werift console)', () => {
  let container: TestContainer;
  let io: Server;
  let agentSocket: Socket | undefined;
  let agent: ChildProcess;
  let logs = '';
  let w: Werift;

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    container = await startContainer({ namePrefix: 'tether-e2e-agent' });
    const http = createServer();
    io = new Server(http);
    const connected = new Promise<void>((resolve) => {
      io.on('connection', (socket) => {
        assert.equal(socket.handshake.auth.role, 'agent');
        assert.equal(socket.handshake.auth.token, 'test-token');
        agentSocket = socket;
        resolve();
      });
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as AddressInfo).port;
    agent = spawn(
      process.execPath,
      [
        cli,
        '--signaling-url',
        `http://127.0.0.1:${port}`,
        '--token',
        'test-token',
        '--agent-id',
        'e2e-agent',
        '--ice-host',
        '127.0.0.1',
        '--ice-interface',
        '127.0.0.1',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    agent.stdout!.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    await withTimeout(connected, 'the agent to connect to the relay');
    await until(() => logs.includes('"msg":"agent ready"'), `the agent to be ready; its log: ${logs}`);
  });

  after(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
    io?.close();
    await container?.remove();
  });

  test('hello, targets, several terminals, exit code, and sessions that outlive a disconnect', async () => {
    const pc = new w.RTCPeerConnection(ICE);
    const sessionId = 'negotiation-1';
    const agentCandidates: string[] = [];
    const answerSetup: string[] = [];
    agentSocket!.on('webrtc:answer', async (msg: { sdp: string }, ack: (r: unknown) => void) => {
      ack({ ok: true });
      agentCandidates.push(
        ...msg.sdp
          .split(/\r?\n/)
          .filter((line) => line.startsWith('a=candidate:'))
          .map((line) => line.slice(2)),
      );
      answerSetup.push(...msg.sdp.split(/\r?\n/).filter((line) => line.startsWith('a=setup:')));
      await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
    });
    agentSocket!.on(
      'webrtc:ice',
      (msg: { candidate: { candidate: string; sdpMid?: string; sdpMLineIndex?: number } | null }, ack: (r: unknown) => void) => {
        ack({ ok: true });
        if (msg.candidate) agentCandidates.push(msg.candidate.candidate);
        if (msg.candidate)
          void pc.addIceCandidate({
            candidate: msg.candidate.candidate,
            sdpMid: msg.candidate.sdpMid ?? undefined,
            sdpMLineIndex: msg.candidate.sdpMLineIndex ?? undefined,
          });
      },
    );
    // Candidates gathered before the offer has gone would reach the agent for a negotiation it
    // does not know yet, and be dropped: they are held until the offer is sent.
    let offered = false;
    const early: unknown[] = [];
    const sendCandidate = (candidate: unknown) => agentSocket!.emit('webrtc:ice', { sessionId, candidate });
    pc.onIceCandidate.subscribe((c) => {
      const json = c?.toJSON();
      const candidate = json ? { candidate: json.candidate, sdpMid: json.sdpMid, sdpMLineIndex: json.sdpMLineIndex } : null;
      if (offered) sendCandidate(candidate);
      else early.push(candidate);
    });
    const control = pc.createDataChannel('control');
    const ttys = [0, 1, 2].map((i) => pc.createDataChannel(`tty:${i}`));
    await pc.setLocalDescription(await pc.createOffer());
    agentSocket!.emit('webrtc:offer', { sessionId, consoleId: 'console-1', sdp: pc.localDescription!.sdp });
    offered = true;
    early.splice(0).forEach(sendCandidate);

    const ctl = collect(control);
    await opened(control, 'the control channel');
    // --ice-host/--ice-interface 127.0.0.1: that address only, never the machine's others (IPv6 included).
    const addresses = agentCandidates.map((candidate) => candidate.split(' ')[4]);
    assert.ok(addresses.length > 0, 'the agent sent candidates');
    assert.deepEqual([...new Set(addresses)], ['127.0.0.1'], `the agent's candidates: ${agentCandidates.join(' | ')}`);
    assert.deepEqual(answerSetup, ['a=setup:passive'], 'the agent answers as the DTLS server');
    control.send(JSON.stringify({ type: 'hello', protocol: 'tether-tty/1', peer: { kind: 'console', version: '0' }, capabilities: [] }));
    control.send(JSON.stringify({ type: 'list-targets' }));
    control.send('{bad');
    await ctl.until(() => ctl.texts.length >= 3, 'control replies');
    assert.equal(ctl.texts[0]?.type, 'hello');
    assert.deepEqual(ctl.texts[0]?.peer, {
      kind: 'agent',
      id: 'e2e-agent',
      name: ctl.texts[0]?.peer && (ctl.texts[0].peer as { name: string }).name,
      version: '0.1.0',
    });
    // What it serves: file: channels, and `running` to a console that asks for it.
    assert.deepEqual(ctl.texts[0]?.capabilities, ['file-transfer/1', 'tty-running/1']);
    const targets = ctl.texts.find((m) => m.type === 'targets')?.targets as { name: string }[];
    assert.ok(targets.some((t) => t.name === container.name));
    assert.equal(ctl.texts.find((m) => m.type === 'error')?.code, 'BAD_MESSAGE');

    const terms = ttys.map(collect);
    for (const channel of ttys) {
      await opened(channel, channel.label);
      channel.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    }
    for (const term of terms) await term.until(() => term.texts.some((m) => m.type === 'opened'), 'opened');
    // Keystrokes on all channels at once: none may be stranded (werift #706).
    for (const char of 'echo typed-$((20+22))\n') ttys.forEach((channel) => channel.send(Buffer.from(char)));
    for (const term of terms) await term.until(() => term.output.includes('typed-42'), 'echo on every channel');

    ttys[0]!.send(Buffer.from('exit 5\n'));
    await terms[0]!.until(() => terms[0]!.texts.some((m) => m.type === 'exit'), 'exit');
    assert.equal(terms[0]!.texts.find((m) => m.type === 'exit')?.code, 5);

    ttys[1]!.send(Buffer.from('sleep 1011 &\nsleep 1012\n'));
    const sleeps = async () => (await container.processes()).filter((p) => /sleep 101[12]/.test(p));
    await until(async () => (await sleeps()).length === 2, 'both sleeps to run');

    // Without `close`, ending the negotiation detaches the sessions: they wait for a resume.
    agentSocket!.emit('webrtc:disconnect', { sessionId, reason: 'test over' });
    await pc.close();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await sleeps()).length, 2, 'the detached session still runs');
    assert.match(logs, /"msg":"session detached"/);
    // Logged once the session's processes are gone, which under load can take a few seconds.
    await until(() => /"msg":"session closed".*"exitCode":5/.test(logs), 'the exited session to be logged closed');
  });

  test('SIGTERM stops the agent cleanly and ends the sessions that waited for a resume', async () => {
    agent.kill('SIGTERM');
    const [code] = await once(agent, 'exit');
    assert.equal(code, 0);
    assert.match(logs, /"msg":"agent stopped"/);
    assert.deepEqual(
      (await container.processes()).filter((p) => /sleep 101[12]|bash/.test(p)),
      [],
      'no process left',
    );
  });
});
