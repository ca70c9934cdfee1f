import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitAck, Fixture, nextEvent, noEvent, SDP_ANSWER, SDP_OFFER, sid } from './support.js';

const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };

async function negotiating(t: Parameters<typeof Fixture.start>[0]) {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const agent = await fixture.agent('plc-1');
  const offer = nextEvent(agent, 'webrtc:offer');
  const ack = await emitAck(console1, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER });
  assert.deepEqual(ack, { ok: true });
  return { fixture, console1, agent, offer: (await offer) as { sessionId: string; consoleId: string; sdp: string } };
}

test('an offer reaches the agent with the console id, the answer reaches the console', async (t) => {
  const { console1, agent, offer } = await negotiating(t);
  assert.deepEqual(offer, { sessionId: sid(1), consoleId: console1.id, sdp: SDP_OFFER });

  const answer = nextEvent(console1, 'webrtc:answer');
  assert.deepEqual(await emitAck(agent, 'webrtc:answer', { sessionId: sid(1), sdp: SDP_ANSWER }), { ok: true });
  assert.deepEqual(await answer, { sessionId: sid(1), sdp: SDP_ANSWER });
});

test('ICE candidates go both ways, end-of-candidates included', async (t) => {
  const { console1, agent } = await negotiating(t);
  const toAgent = nextEvent(agent, 'webrtc:ice');
  assert.deepEqual(await emitAck(console1, 'webrtc:ice', { sessionId: sid(1), candidate }), { ok: true });
  assert.deepEqual(await toAgent, { sessionId: sid(1), candidate });

  const toConsole = nextEvent(console1, 'webrtc:ice');
  assert.deepEqual(await emitAck(agent, 'webrtc:ice', { sessionId: sid(1), candidate: null }), { ok: true });
  assert.deepEqual(await toConsole, { sessionId: sid(1), candidate: null });
});

test('a console disconnect reaches the agent and ends the negotiation', async (t) => {
  const { console1, agent } = await negotiating(t);
  const ended = nextEvent(agent, 'webrtc:disconnect');
  assert.deepEqual(await emitAck(console1, 'webrtc:disconnect', { sessionId: sid(1), reason: 'tab closed' }), { ok: true });
  assert.deepEqual(await ended, { sessionId: sid(1), reason: 'tab closed' });
  const late = (await emitAck(agent, 'webrtc:ice', { sessionId: sid(1), candidate: null })) as { error: { code: string } };
  assert.equal(late.error.code, 'UNKNOWN_SESSION');
});

test('an agent disconnect reaches the console and ends the negotiation', async (t) => {
  const { console1, agent } = await negotiating(t);
  const ended = nextEvent(console1, 'webrtc:disconnect');
  assert.deepEqual(await emitAck(agent, 'webrtc:disconnect', { sessionId: sid(1), reason: 'exec failed' }), { ok: true });
  assert.deepEqual(await ended, { sessionId: sid(1), reason: 'exec failed' });
  const late = (await emitAck(console1, 'webrtc:ice', { sessionId: sid(1), candidate: null })) as { error: { code: string } };
  assert.equal(late.error.code, 'UNKNOWN_SESSION');
});

test('an offer to an agent that is not connected gets AGENT_OFFLINE', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const ack = await emitAck(console1, 'webrtc:offer', { sessionId: sid(1), agentId: 'nobody', sdp: SDP_OFFER });
  assert.deepEqual(ack, {
    ok: false,
    error: { code: 'AGENT_OFFLINE', message: 'agent nobody is not connected to this server', sessionId: sid(1) },
  });
});

test('an agent may not answer or trickle for a negotiation offered to another agent', async (t) => {
  const { fixture, console1 } = await negotiating(t);
  const intruder = await fixture.agent('plc-2');
  const bystander = noEvent(console1, 'webrtc:answer');
  const answer = (await emitAck(intruder, 'webrtc:answer', { sessionId: sid(1), sdp: SDP_ANSWER })) as {
    ok: boolean;
    error: { code: string };
  };
  assert.equal(answer.ok, false);
  assert.equal(answer.error.code, 'FORBIDDEN');
  const ice = (await emitAck(intruder, 'webrtc:ice', { sessionId: sid(1), candidate: null })) as { error: { code: string } };
  assert.equal(ice.error.code, 'FORBIDDEN');
  await bystander;
});

test('a console may not use a sessionId that another console owns', async (t) => {
  const { fixture, agent } = await negotiating(t);
  const { socket: other } = await fixture.console();
  const offer = (await emitAck(other, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER })) as {
    error: { code: string };
  };
  assert.equal(offer.error.code, 'FORBIDDEN');
  const bystander = noEvent(agent, 'webrtc:ice');
  const ice = (await emitAck(other, 'webrtc:ice', { sessionId: sid(1), candidate: null })) as { error: { code: string } };
  assert.equal(ice.error.code, 'FORBIDDEN');
  await bystander;
});

test('a repeated offer on the same session (ICE restart) is relayed again', async (t) => {
  const { console1, agent } = await negotiating(t);
  const again = nextEvent(agent, 'webrtc:offer');
  assert.deepEqual(await emitAck(console1, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: 'v=1' }), { ok: true });
  assert.equal(((await again) as { sdp: string }).sdp, 'v=1');
});

test('when an agent goes offline its consoles get webrtc:disconnect', async (t) => {
  const { console1, agent } = await negotiating(t);
  const ended = nextEvent(console1, 'webrtc:disconnect');
  agent.disconnect();
  assert.deepEqual(await ended, { sessionId: sid(1), reason: 'agent went offline', offline: true });
});

test('when a console goes offline its agents get webrtc:disconnect', async (t) => {
  const { console1, agent } = await negotiating(t);
  const ended = nextEvent(agent, 'webrtc:disconnect');
  console1.disconnect();
  assert.deepEqual(await ended, { sessionId: sid(1), reason: 'console went offline', offline: true });
});

test('one console may hold at most 64 negotiations', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  await fixture.agent('plc-1');
  for (let i = 0; i < 64; i++) {
    assert.deepEqual(await emitAck(console1, 'webrtc:offer', { sessionId: sid(i), agentId: 'plc-1', sdp: SDP_OFFER }), {
      ok: true,
    });
  }
  const over = (await emitAck(console1, 'webrtc:offer', { sessionId: sid(64), agentId: 'plc-1', sdp: SDP_OFFER })) as {
    error: { code: string };
  };
  assert.equal(over.error.code, 'RATE_LIMITED');
  await emitAck(console1, 'webrtc:disconnect', { sessionId: sid(0), reason: 'done' });
  assert.deepEqual(await emitAck(console1, 'webrtc:offer', { sessionId: sid(64), agentId: 'plc-1', sdp: SDP_OFFER }), {
    ok: true,
  });
});
