import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGENT_TOKEN, connect, emitAck, Fixture, nextEvent, SDP_OFFER, sid } from './support.js';

test('a console gets the agent list on connect and on every arrival and departure', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1, presence: initial } = await fixture.console();
  assert.deepEqual(initial, { agents: [] });

  const arrived = nextEvent(console1, 'presence');
  const agent = await fixture.agent('plc-1', 'Line 1 PLC');
  assert.deepEqual(await arrived, { agents: [{ agentId: 'plc-1', name: 'Line 1 PLC', version: '0.1.0' }] });

  const { presence: late } = await fixture.console();
  assert.deepEqual(late, { agents: [{ agentId: 'plc-1', name: 'Line 1 PLC', version: '0.1.0' }] });

  const second = nextEvent(console1, 'presence');
  await fixture.agent('plc-2');
  assert.deepEqual(
    ((await second) as { agents: { agentId: string }[] }).agents.map((a) => a.agentId),
    ['plc-1', 'plc-2'],
  );

  const left = nextEvent(console1, 'presence');
  agent.disconnect();
  assert.deepEqual(((await left) as { agents: { agentId: string }[] }).agents.map((a) => a.agentId), ['plc-2']);
});

test('agents get no presence list', async (t) => {
  const fixture = await Fixture.start(t);
  const agent = fixture.client({ role: 'agent', token: AGENT_TOKEN, agentId: 'a', name: 'a', version: '1' });
  let presence = 0;
  agent.on('presence', () => presence++);
  await connect(agent);
  await fixture.agent('b');
  await fixture.console();
  assert.equal(presence, 0);
});

test('a second agent with the same agentId replaces the first', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const first = nextEvent(console1, 'presence');
  const old = await fixture.agent('plc-1', 'old process');
  await first;
  const oldError = nextEvent(old, 'signal:error');
  const oldGone = nextEvent(old, 'disconnect');
  const listed = nextEvent(console1, 'presence');
  const newer = await fixture.agent('plc-1', 'new process');

  assert.equal(((await oldError) as { code: string }).code, 'FORBIDDEN');
  assert.equal(await oldGone, 'io server disconnect');
  assert.deepEqual(await listed, { agents: [{ agentId: 'plc-1', name: 'new process', version: '0.1.0' }] });
  assert.ok(fixture.logs.some((line) => line.includes('agent replaced by a newer connection')));

  const offer = nextEvent(newer, 'webrtc:offer');
  assert.deepEqual(await emitAck(console1, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER }), {
    ok: true,
  });
  assert.equal(((await offer) as { sessionId: string }).sessionId, sid(1));
});

test('a replaced agent ends the negotiations it held', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: console1 } = await fixture.console();
  const old = await fixture.agent('plc-1');
  const offered = nextEvent(old, 'webrtc:offer');
  await emitAck(console1, 'webrtc:offer', { sessionId: sid(1), agentId: 'plc-1', sdp: SDP_OFFER });
  await offered;
  const ended = nextEvent(console1, 'webrtc:disconnect');
  await fixture.agent('plc-1');
  assert.deepEqual(await ended, { sessionId: sid(1), reason: 'agent went offline', offline: true });
});
