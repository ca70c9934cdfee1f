import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_SIGNALING_PAYLOAD_BYTES } from '@tether/protocol';
import { emitAck, Fixture, nextEvent, noEvent, SDP_OFFER, sid } from './support.js';

interface Refusal {
  ok: false;
  error: { code: string; message: string; sessionId?: string };
}

const valid = { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER };

const malformedOffers: [string, unknown][] = [
  ['no payload', undefined],
  ['null', null],
  ['a string', 'v=0'],
  ['a number', 42],
  ['an array', [valid]],
  ['missing sessionId', { agentId: 'plc-1', sdp: SDP_OFFER }],
  ['missing agentId', { sessionId: sid(1), sdp: SDP_OFFER }],
  ['missing sdp', { sessionId: sid(1), agentId: 'plc-1' }],
  ['numeric sdp', { ...valid, sdp: 12 }],
  ['numeric sessionId', { ...valid, sessionId: 12345678 }],
  ['sessionId too short', { ...valid, sessionId: 'abc' }],
  ['sessionId with a slash', { ...valid, sessionId: 'session/0001' }],
  ['agentId with a path', { ...valid, agentId: '../plc-1' }],
  ['empty sdp', { ...valid, sdp: '' }],
  ['sdp over 60000 characters', { ...valid, sdp: 'a'.repeat(60_001) }],
];

test('malformed offers are refused with BAD_MESSAGE and the connection goes on', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const agent = await fixture.agent('plc-1');
  const bystander = noEvent(agent, 'webrtc:offer', 50);
  for (const [what, payload] of malformedOffers) {
    const reply = (await emitAck(console1, 'webrtc:offer', payload)) as Refusal;
    assert.equal(reply.ok, false, what);
    assert.equal(reply.error.code, 'BAD_MESSAGE', what);
    assert.ok(reply.error.message.length > 0, what);
  }
  const bare = (await console1.timeout(3000).emitWithAck('webrtc:offer')) as Refusal;
  assert.equal(bare.error.code, 'BAD_MESSAGE', 'an event with only an ack callback');
  await bystander;
  const offered = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(console1, 'webrtc:offer', valid), { ok: true });
  await offered;
});

test('a refusal names the sessionId when the payload had a valid one', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const reply = (await emitAck(console1, 'webrtc:ice', { sessionId: sid(7), candidate: { candidate: 5 } })) as Refusal;
  assert.equal(reply.error.code, 'BAD_MESSAGE');
  assert.equal(reply.error.sessionId, sid(7));
  assert.match(reply.error.message, /candidate/);
});

test('malformed answers, candidates and disconnects are refused', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const agent = await fixture.agent('plc-1');
  const cases: [typeof agent, string, unknown][] = [
    [agent, 'webrtc:answer', { sessionId: sid(1) }],
    [agent, 'webrtc:answer', { sessionId: sid(1), sdp: ['v=0'] }],
    [agent, 'webrtc:ice', { sessionId: sid(1) }],
    [agent, 'webrtc:ice', { sessionId: sid(1), candidate: { candidate: 'x'.repeat(1025) } }],
    [console1, 'webrtc:ice', { sessionId: sid(1), candidate: { candidate: 'c', sdpMLineIndex: -1 } }],
    [console1, 'webrtc:disconnect', { sessionId: sid(1) }],
    [console1, 'webrtc:disconnect', { sessionId: sid(1), reason: 'r'.repeat(513) }],
    [agent, 'webrtc:disconnect', 'bye'],
  ];
  for (const [socket, event, payload] of cases) {
    const reply = (await emitAck(socket, event, payload)) as Refusal;
    assert.equal(reply.error.code, 'BAD_MESSAGE', `${event} ${JSON.stringify(payload).slice(0, 80)}`);
  }
});

test('without an ack callback a malformed message gets signal:error', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const error = nextEvent(console1, 'signal:error');
  console1.emit('webrtc:offer', { sessionId: sid(1) });
  assert.equal(((await error) as Refusal['error']).code, 'BAD_MESSAGE');

  // An ack that is not a function is no ack: the reply comes as signal:error.
  const again = nextEvent(console1, 'signal:error');
  console1.emit('webrtc:offer', 17, 'not a callback');
  assert.equal(((await again) as Refusal['error']).code, 'BAD_MESSAGE');

  const offline = nextEvent(console1, 'signal:error');
  console1.emit('webrtc:offer', { sessionId: sid(2), agentId: 'nobody', sdp: SDP_OFFER });
  assert.deepEqual(await offline, {
    code: 'AGENT_OFFLINE',
    message: 'agent nobody is not connected to this server',
    sessionId: sid(2),
  });
  assert.deepEqual(await emitAck(console1, 'webrtc:offer', { sessionId: sid(3), agentId: 'nobody', sdp: SDP_OFFER }), {
    ok: false,
    error: { code: 'AGENT_OFFLINE', message: 'agent nobody is not connected to this server', sessionId: sid(3) },
  });
});

test('events of the other role or unknown events are refused', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const agent = await fixture.agent('plc-1');
  const fromConsole = (await emitAck(console1, 'webrtc:answer', { sessionId: sid(1), sdp: 'v=0' })) as Refusal;
  assert.equal(fromConsole.error.code, 'BAD_MESSAGE');
  assert.match(fromConsole.error.message, /console may not send/);
  const fromAgent = (await emitAck(agent, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: 'v=0' })) as Refusal;
  assert.equal(fromAgent.error.code, 'BAD_MESSAGE');
  const error = nextEvent(agent, 'signal:error');
  agent.emit('presence', { agents: [] });
  assert.equal(((await error) as Refusal['error']).code, 'BAD_MESSAGE');
});

test('a payload over the transport limit closes only that connection', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: offender } = await fixture.console();
  const { socket: bystander } = await fixture.console();
  const closed = nextEvent(offender, 'disconnect');
  offender.emit('webrtc:offer', { ...valid, sdp: 'a'.repeat(MAX_SIGNALING_PAYLOAD_BYTES + 1) });
  assert.equal(await closed, 'transport close');

  const agentSeen = nextEvent(bystander, 'presence:diff');
  const agent = await fixture.agent('plc-1');
  await agentSeen;
  const offered = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(bystander, 'webrtc:offer', valid), { ok: true });
  await offered;
});

test('a socket that floods is rate limited and others are not', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: flooder } = await fixture.console();
  const { socket: bystander } = await fixture.console();
  const replies = await Promise.all(
    Array.from({ length: 300 }, (_, i) => emitAck(flooder, 'webrtc:ice', { sessionId: sid(i), candidate: null })),
  );
  const codes = replies.map((reply) => (reply as Refusal).error.code);
  assert.ok(codes.includes('RATE_LIMITED'), 'some messages were rate limited');
  assert.ok(codes.includes('UNKNOWN_SESSION'), 'the burst went through');
  const reply = (await emitAck(bystander, 'webrtc:ice', { sessionId: sid(1), candidate: null })) as Refusal;
  assert.equal(reply.error.code, 'UNKNOWN_SESSION');
  // Every refusal is answered, but the log gets one line per second with the count, not one per message.
  const refusedCount = codes.filter((code) => code === 'RATE_LIMITED').length;
  const lines = fixture.logs.filter((line) => line.includes('"msg":"rate limited"')).map((line) => JSON.parse(line) as { refused: number });
  assert.ok(lines.length >= 1 && lines.length <= 2, `${lines.length} log lines for ${refusedCount} refusals`);
  assert.ok(refusedCount > 10, `the flood was refused ${refusedCount} times`);
  assert.equal(lines[0]?.refused, 1, 'the first refusal is logged at once');
});

test('regression: a numeric event name crashed the inbound guard; it is refused and the server goes on', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const error = nextEvent(console1, 'signal:error');
  (console1.emit as (...args: unknown[]) => unknown)(42, { sessionId: sid(1) });
  assert.equal(((await error) as Refusal['error']).code, 'BAD_MESSAGE');
  const { socket: other } = await fixture.console();
  assert.equal(other.connected, true);
});
