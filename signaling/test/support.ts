import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { PresenceSnapshot } from '@tether/protocol';
import { presenceOf } from '../../harness/presence-watch.js';
import { startSignalingServer, type SignalingServer, type SignalingServerOptions } from '@tether/signaling';
import { createJsonLogger } from '../src/log.js';

export const CONSOLE_TOKEN = 'console-secret-0123456789abcdef';
export const AGENT_TOKEN = 'agent-secret-0123456789abcdef';

/** A valid sessionId (NegotiationId needs 8..64 characters). */
export const sid = (n: number | string) => `session-${String(n).padStart(4, '0')}`;

/** How long an awaited event may take before the test fails: a cap for a hang, far above what a loaded machine takes (3 s was exceeded at load 13). */
export const TIMEOUT_MS = 30_000;

/** One server on an ephemeral port, the clients of one test, and the log lines they caused. */
export class Fixture {
  readonly logs: string[] = [];
  readonly #clients: Socket[] = [];
  server!: SignalingServer;

  static async start(t: TestContext, options: Partial<SignalingServerOptions> = {}): Promise<Fixture> {
    const fixture = new Fixture();
    fixture.server = await startSignalingServer({
      host: '127.0.0.1',
      port: 0,
      consoleTokens: [CONSOLE_TOKEN],
      agentTokens: [AGENT_TOKEN],
      logger: createJsonLogger({ level: 'debug', write: (line) => fixture.logs.push(line) }),
      // The clients of these tests share the node's event loop and do not retry: a busy machine
      // must not make the node shed them. The shedding test asks for it.
      shedEventLoopDelayMs: Number.POSITIVE_INFINITY,
      ...options,
    });
    t.after(() => fixture.close());
    return fixture;
  }

  /** A client that is not connected yet, so listeners can be attached before the handshake. */
  client(auth: Record<string, unknown> | undefined): Socket {
    const socket = io(this.server.url, {
      auth: auth ?? {},
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    this.#clients.push(socket);
    return socket;
  }

  /** A connected console and the presence snapshot it got on connect; `presenceOf(socket)` follows the diffs. */
  async console(): Promise<{ socket: Socket; presence: PresenceSnapshot }> {
    const socket = this.client({ role: 'console', token: CONSOLE_TOKEN });
    presenceOf(socket);
    const presence = nextEvent(socket, 'presence:snapshot');
    await connect(socket);
    return { socket, presence: PresenceSnapshot.parse(await presence) };
  }

  async agent(agentId: string, name = `host ${agentId}`): Promise<Socket> {
    const socket = this.client({ role: 'agent', token: AGENT_TOKEN, agentId, name, version: '0.1.0' });
    await connect(socket);
    return socket;
  }

  async close(): Promise<void> {
    for (const socket of this.#clients) socket.disconnect();
    await this.server.close();
  }
}

/** Connects; rejects with the server's connect_error. */
export function connect(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('connect_error', reject);
      resolve();
    });
    socket.once('connect_error', reject);
    socket.connect();
  });
}

/** The next `event` on `socket`, or a rejection after TIMEOUT_MS. */
export function nextEvent(socket: Socket, event: string, timeoutMs = TIMEOUT_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, onEvent);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onEvent = (value: unknown) => {
      clearTimeout(timer);
      resolve(value);
    };
    socket.once(event, onEvent);
  });
}

/** Resolves if `event` does not arrive within `ms`; for checking that nothing leaked to a bystander. */
export function noEvent(socket: Socket, event: string, ms = 200): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEvent = (value: unknown) => {
      clearTimeout(timer);
      reject(new Error(`unexpected ${event}: ${JSON.stringify(value)}`));
    };
    const timer = setTimeout(() => {
      socket.off(event, onEvent);
      resolve();
    }, ms);
    socket.once(event, onEvent);
  });
}

export function emitAck(socket: Socket, event: string, ...args: unknown[]): Promise<unknown> {
  return socket.timeout(TIMEOUT_MS).emitWithAck(event, ...args);
}

export const SDP_OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
export const SDP_ANSWER = 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

/** A console and an agent that behave: an offer still goes through and is answered. */
export async function wellBehaved(fixture: Fixture, agentId: string): Promise<void> {
  const agent = await fixture.agent(agentId);
  const { socket: console1 } = await fixture.console();
  const offered = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(console1, 'webrtc:offer', { sessionId: sid(`ok-${agentId}`), agentId, sdp: SDP_OFFER }), { ok: true });
  await offered;
  const answered = nextEvent(console1, 'webrtc:answer');
  assert.deepEqual(await emitAck(agent, 'webrtc:answer', { sessionId: sid(`ok-${agentId}`), sdp: SDP_ANSWER }), { ok: true });
  assert.deepEqual(await answered, { sessionId: sid(`ok-${agentId}`), sdp: SDP_ANSWER });
  agent.disconnect();
  console1.disconnect();
}

export { PresenceWatch, presenceOf } from '../../harness/presence-watch.js';
