/**
 * Fuzzing the signaling server (docs/hardening.md): arbitrary and near-miss payloads on every
 * event, from both roles, through real socket.io-client sockets, then raw Socket.IO packets that
 * are not even valid Socket.IO. Every message is answered with a valid code, the server never
 * accepts what its schema refuses, it keeps serving a well-behaved console and agent, and its heap
 * does not grow with the number of cases. Fixed seed and run counts (harness/fuzz.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import type { z } from 'zod';
import { Answer, Disconnect, ERROR_CODES, Ice, OfferToServer, SignalingAck, type SignalingAck as Ack } from '@tether/protocol';
import { fuzzParameters, overJson, payloadFor, rawSocketIoPacket, RESERVED_EVENTS, sendRawPacket } from '../../harness/fuzz.js';
import { AGENT_TOKEN, connect, emitAck, Fixture, SDP_ANSWER, SDP_OFFER, sid, wellBehaved } from './support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CONSOLE_EVENTS = { 'webrtc:offer': OfferToServer, 'webrtc:ice': Ice, 'webrtc:disconnect': Disconnect } as const;
const AGENT_EVENTS = { 'webrtc:answer': Answer, 'webrtc:ice': Ice, 'webrtc:disconnect': Disconnect } as const;
type Role = 'console' | 'agent';

const validMessages = [
  { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER },
  { sessionId: sid(1), sdp: SDP_ANSWER },
  { sessionId: sid(1), candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 } },
  { sessionId: sid(1), candidate: null },
  { sessionId: sid(1), reason: 'done' },
];

const eventName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('webrtc:offer', 'webrtc:answer', 'webrtc:ice', 'webrtc:disconnect') },
  { weight: 1, arbitrary: fc.constantFrom('presence', 'signal:error', 'lan:auth', 'pair:enroll', '__proto__', 'toString', 'constructor') },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 30 }).filter((name) => !RESERVED_EVENTS.includes(name)) },
);

const fuzzCase = fc.record({ role: fc.constantFrom<Role>('console', 'agent'), event: eventName, payload: payloadFor(validMessages) });

/** Sockets of each role, replaced every CASES_PER_SOCKET cases so that the rate limit is not what is tested. */
class Senders {
  static readonly CASES_PER_SOCKET = 120;
  private used: Record<Role, number> = { console: 0, agent: 0 };
  private sockets: Partial<Record<Role, Socket>> = {};
  private serial = 0;

  constructor(private readonly fixture: Fixture) {}

  async get(role: Role): Promise<Socket> {
    const current = this.sockets[role];
    if (current?.connected && this.used[role] < Senders.CASES_PER_SOCKET) {
      this.used[role]++;
      return current;
    }
    current?.disconnect();
    this.used[role] = 1;
    const socket =
      role === 'console'
        ? (await this.fixture.console()).socket
        : this.fixture.client({ role: 'agent', token: AGENT_TOKEN, agentId: `fuzz-agent-${this.serial++}`, name: 'fuzz', version: '0' });
    if (role === 'agent') await connect(socket);
    this.sockets[role] = socket;
    return socket;
  }

  close(): void {
    for (const socket of Object.values(this.sockets)) socket?.disconnect();
  }
}

async function fuzzEvents(
  fixture: Fixture,
  numRuns: number,
  seedOffset = 0,
): Promise<{ accepted: number; refused: Record<string, number> }> {
  const senders = new Senders(fixture);
  const refused: Record<string, number> = {};
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(fuzzCase, async ({ role, event, payload }) => {
      const socket = await senders.get(role);
      const reply = (await emitAck(socket, event, payload)) as Ack;
      const ack = SignalingAck.safeParse(reply);
      assert.ok(ack.success, `not a SignalingAck: ${JSON.stringify(reply).slice(0, 200)}`);
      const events: Record<string, z.ZodType> = role === 'console' ? CONSOLE_EVENTS : AGENT_EVENTS;
      const schema = Object.hasOwn(events, event) ? events[event] : undefined;
      const valid = schema !== undefined && schema.safeParse(overJson(payload)).success;
      if (reply.ok) {
        assert.ok(valid, `accepted what the schema refuses: ${role} ${event} ${JSON.stringify(payload).slice(0, 200)}`);
        accepted++;
        return;
      }
      assert.ok((ERROR_CODES as readonly string[]).includes(reply.error.code));
      if (!valid) assert.ok(reply.error.code === 'BAD_MESSAGE' || reply.error.code === 'RATE_LIMITED', `${event}: ${reply.error.code}`);
      refused[reply.error.code] = (refused[reply.error.code] ?? 0) + 1;
    }),
    { ...fuzzParameters(numRuns), seed: fuzzParameters(numRuns).seed! + seedOffset },
  );
  senders.close();
  return { accepted, refused };
}

test('every event, any payload, from either role: a valid answer, nothing the schema refuses accepted, still serving', async (t) => {
  const fixture = await Fixture.start(t);
  // plc-1 is online so that valid offers reach an agent and create negotiations
  await fixture.agent('plc-1');
  const first = await fuzzEvents(fixture, 600);
  assert.ok(first.accepted > 0, 'some cases were valid messages');
  assert.ok((first.refused['BAD_MESSAGE'] ?? 0) > 100, JSON.stringify(first.refused));
  await wellBehaved(fixture, 'plc-after');
});

test('heap after twice the cases is not above the heap after the first batch', async (t) => {
  const fixture = await Fixture.start(t);
  await fixture.agent('plc-1');
  await fuzzEvents(fixture, 300, 1);
  gc();
  const baseline = process.memoryUsage().heapUsed;
  await fuzzEvents(fixture, 300, 2);
  await fuzzEvents(fixture, 300, 3);
  gc();
  const grown = process.memoryUsage().heapUsed - baseline;
  // The whole test process: the server, its clients and fast-check. 600 leaked negotiations,
  // sockets or listeners would show as several MB; what is left is noise.
  assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MB over 600 cases`);
  await wellBehaved(fixture, 'plc-after');
});

test('raw packets that are not valid Socket.IO end only the sender’s connection', async (t) => {
  const fixture = await Fixture.start(t);
  await fixture.agent('plc-1');
  let socket: Socket | undefined;
  let closed = 0;
  await fc.assert(
    fc.asyncProperty(rawSocketIoPacket, async (packet) => {
      if (!socket?.connected) {
        socket = (await fixture.console()).socket;
        socket.on('disconnect', () => closed++);
      }
      // engine.io's message packet carries a Socket.IO packet as its text (or binary) data
      sendRawPacket(socket, packet);
      // a round trip, so that whatever the packet did has happened before the next case
      if (socket.connected) await emitAck(socket, 'webrtc:ice', { sessionId: sid('raw'), candidate: null }).catch(() => undefined);
    }),
    fuzzParameters(300),
  );
  socket?.disconnect();
  assert.ok(closed > 0, 'some packets were protocol violations that closed their connection');
  await wellBehaved(fixture, 'plc-after');
});
