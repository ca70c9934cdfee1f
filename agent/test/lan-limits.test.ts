/**
 * The LAN endpoint's connection bounds (docs/hardening.md), on the built agent: at most
 * MAX_LAN_CONNECTIONS_PER_ADDRESS connections from one address, refused over it with
 * `connect_error` RATE_LIMITED; and a console that sends without reading (its TCP socket paused
 * after the handshake) is ended once the agent holds MAX_LAN_QUEUED_OUTBOUND_BYTES for it, while a
 * paired console still gets its offers answered, during the flood and after.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Socket as NetSocket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { MAX_LAN_CONNECTIONS_PER_ADDRESS, MAX_LAN_QUEUED_OUTBOUND_BYTES, parsePairingToken, SignalingErrorPayload } from '@tether/protocol';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import { cli } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { TestConsole, until } from '../../harness/werift-console.js';

const MB = 1024 * 1024;
const ENDED = '"msg":"lan connection ended: it does not read what the agent sends"';

function logLines(agent: AgentProcess, text: string): Record<string, unknown>[] {
  return agent
    .logs()
    .filter((line) => line.includes(text))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A LAN socket that got `lan:hello`, or the payload of its `connect_error`. */
function lanSocket(url: string): Promise<{ socket: Socket; refused?: SignalingErrorPayload }> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, autoConnect: false });
  return new Promise((resolve, reject) => {
    socket.once('lan:hello', () => resolve({ socket }));
    socket.once('connect_error', (error: Error & { data?: unknown }) => {
      const parsed = SignalingErrorPayload.safeParse(error.data);
      if (parsed.success) resolve({ socket, refused: parsed.data });
      else reject(new Error(`connect_error without a code: ${error.message}`));
    });
    socket.connect();
  });
}

describe('LAN endpoint: connections per address and the outbound queue (built CLI)', () => {
  let agent: AgentProcess;
  let url: string;
  let w: Werift;
  let paired: TestConsole;

  before(async () => {
    await buildAgent();
    w = await patchedWerift();
    agent = await startAgent({
      lanListen: '127.0.0.1:0',
      agentId: 'lan-limits',
      name: 'LAN limits',
      nodeArgs: ['--expose-gc'],
      env: { TETHER_AGENT_DEBUG_STATS: '1' },
    });
    url = `http://127.0.0.1:${agent.lanPort}`;
    const out = execFileSync(process.execPath, [cli, 'pair', '--no-qr', '--state-dir', agent.stateDir], { encoding: 'utf8' });
    const token = parsePairingToken(/tether\d+:[A-Za-z0-9_-]+/.exec(out)?.[0] ?? '');
    assert.ok(token.ok, out);
    paired = await TestConsole.create();
    await paired.open(url);
    assert.ok((await paired.enroll(token.value)).ok);
  });

  after(async () => {
    paired?.close();
    await agent?.stop();
  });

  /**
   * The paired console offers over its LAN socket and gets the agent's answer and the end of its
   * candidates (after which none can reach the peer once it is closed). The peer connection is not
   * waited for: TestConsole sends its first candidates before the offer, and the agent drops those.
   */
  async function offerAnswered(): Promise<void> {
    const answered = new Set<string>();
    const gathered = new Set<string>();
    const onAnswer = (msg: { sessionId: string }) => answered.add(msg.sessionId);
    const onIce = (msg: { sessionId: string; candidate: unknown }) => msg.candidate === null && gathered.add(msg.sessionId);
    paired.socket!.on('webrtc:answer', onAnswer);
    paired.socket!.on('webrtc:ice', onIce);
    const { pc, sessionId, ack } = await paired.connect(w, agent.fingerprint!);
    assert.ok(ack.ok, JSON.stringify(ack));
    const recent = () => agent.logs().slice(-40).join('\n');
    await until(() => answered.has(sessionId) && gathered.has(sessionId), 'the answer and the end of candidates').catch((error: Error) =>
      assert.fail(`${error.message}; the agent's log:\n${recent()}`),
    );
    paired.socket!.off('webrtc:answer', onAnswer);
    paired.socket!.off('webrtc:ice', onIce);
    paired.socket!.emit('webrtc:disconnect', { sessionId, reason: 'test done' });
    await pc.close();
  }

  test(`${MAX_LAN_CONNECTIONS_PER_ADDRESS} connections from one address, one more refused with RATE_LIMITED, closing one frees a slot`, async (t) => {
    const sockets: Socket[] = [paired.socket!];
    t.after(() => sockets.slice(1).forEach((socket) => socket.disconnect()));
    while (sockets.length < MAX_LAN_CONNECTIONS_PER_ADDRESS) {
      const { socket, refused } = await lanSocket(url);
      assert.equal(refused, undefined, `connection ${sockets.length + 1} refused`);
      sockets.push(socket);
    }
    const over = await lanSocket(url);
    assert.equal(over.refused?.code, 'RATE_LIMITED');
    assert.match(
      over.refused!.message,
      new RegExp(`too many connections from 127\\.0\\.0\\.1 to this agent \\(at most ${MAX_LAN_CONNECTIONS_PER_ADDRESS}\\)`),
    );
    over.socket.disconnect();
    await offerAnswered(); // the connections already open go on

    const closedBefore = logLines(agent, '"msg":"lan transport closed"').length;
    sockets.pop()!.disconnect();
    await until(() => logLines(agent, '"msg":"lan transport closed"').length > closedBefore, 'the agent to see the close');
    const again = await lanSocket(url);
    assert.equal(again.refused, undefined);
    sockets.push(again.socket);
  });

  test('a console that sends and never reads is ended near the bound; a paired console is still answered', async (t) => {
    const stats = () =>
      logLines(agent, '"msg":"debug stats"').map((line) => (line['heapUsedBytes'] as number) + (line['arrayBuffersBytes'] as number));
    const sample = async () => {
      const count = stats().length;
      process.kill(agent.pid, 'SIGUSR2');
      await until(() => stats().length > count || undefined, 'debug stats');
      return stats().at(-1)!;
    };
    const baseline = await sample();

    const { socket: hostile, refused } = await lanSocket(url);
    assert.equal(refused, undefined);
    const tcp = (hostile.io.engine as unknown as { transport: { ws?: { _socket?: NetSocket } } }).transport.ws?._socket;
    assert.ok(tcp);
    tcp.pause();
    // Anonymous candidates: each is answered with signal:error NOT_PAIRED, or RATE_LIMITED over the rate.
    let sent = 0;
    let peak = 0;
    let during: Promise<void> | undefined;
    const started = Date.now();
    while (logLines(agent, ENDED).length === 0) {
      assert.ok(Date.now() - started < 120_000, `the agent ended no connection after ${sent} messages`);
      for (let i = 0; i < 200; i++) hostile.emit('webrtc:ice', { sessionId: 'flood-negotiation', candidate: null });
      sent += 200;
      if (sent === 4000) during = offerAnswered();
      if (sent % 4000 === 0) peak = Math.max(peak, (await sample()) - baseline);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await during;
    const [ended] = logLines(agent, ENDED);
    const queued = ended!['queuedBytes'] as number;
    assert.ok(
      queued > MAX_LAN_QUEUED_OUTBOUND_BYTES && queued <= MAX_LAN_QUEUED_OUTBOUND_BYTES + 1024,
      `queued ${queued} bytes when ended`,
    );
    hostile.disconnect();

    await offerAnswered();
    const afterwards = (await sample()) - baseline;
    t.diagnostic(
      `${sent} messages sent; queued ${(queued / MB).toFixed(2)} MB when ended; agent heap + buffers after GC: peak +${(peak / MB).toFixed(1)} MB, after +${(afterwards / MB).toFixed(1)} MB`,
    );
    assert.ok(peak < 4 * MAX_LAN_QUEUED_OUTBOUND_BYTES + 4 * MB, `agent memory peaked at +${(peak / MB).toFixed(1)} MB`);
    assert.equal(
      agent.logs().some((line) => line.includes('agent process exited')),
      false,
    );
  });
});
