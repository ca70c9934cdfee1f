import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AgentId,
  Answer,
  Disconnect,
  err,
  Ice,
  MAX_SIGNALING_PAYLOAD_BYTES,
  NegotiationId,
  OfferToAgent,
  OfferToServer,
  ok,
  parseValue,
  PresenceDiff,
  PresenceSnapshot,
  reconnectDelayMs,
  RECONNECT_MAX_MS,
  protocolError,
  SignalingAck,
  SignalingAuth,
  SignalingErrorPayload,
  TurnCredentials,
} from '@tether/protocol';
import type { z } from 'zod';

const accepts = (schema: z.ZodType, value: unknown) => assert.equal(parseValue(schema, value).ok, true, JSON.stringify(value));
const refuses = (schema: z.ZodType, value: unknown) => {
  const result = parseValue(schema, value);
  assert.equal(result.ok, false, JSON.stringify(value)?.slice(0, 120));
  assert.equal(!result.ok && result.error.code, 'BAD_MESSAGE');
};

const sessionId = 'a1B2c3D4-session_x';

test('handshake auth: a console sends role and token, an agent also its id, name and version', () => {
  accepts(SignalingAuth, { role: 'console', token: 't' });
  accepts(SignalingAuth, { role: 'agent', token: 't', agentId: 'plc-1', name: 'Line 1', version: '0.1.0' });
  refuses(SignalingAuth, { role: 'console' });
  refuses(SignalingAuth, { role: 'console', token: '' });
  refuses(SignalingAuth, { role: 'console', token: 'x'.repeat(4097) });
  refuses(SignalingAuth, { role: 'agent', token: 't', name: 'n', version: '1' });
  refuses(SignalingAuth, { role: 'agent', token: 't', agentId: 'plc-1', name: '', version: '1' });
  refuses(SignalingAuth, { role: 'operator', token: 't' });
  refuses(SignalingAuth, null);
  refuses(SignalingAuth, 't');
});

test('agent ids and negotiation ids', () => {
  for (const good of ['plc-1', 'a', 'host.example_1', 'x'.repeat(64)]) accepts(AgentId, good);
  for (const bad of ['', '../x', 'a b', 'a/b', 'x'.repeat(65), 5]) refuses(AgentId, bad);
  for (const good of ['12345678', sessionId, 'x'.repeat(64)]) accepts(NegotiationId, good);
  for (const bad of ['1234567', 'x'.repeat(65), 'has space1', 'dot.ted.id', null]) refuses(NegotiationId, bad);
});

test('offers, answers, candidates and disconnects', () => {
  accepts(OfferToServer, { sessionId, agentId: 'plc-1', sdp: 'v=0' });
  refuses(OfferToServer, { sessionId, agentId: 'plc-1', sdp: '' });
  refuses(OfferToServer, { sessionId, agentId: 'plc-1', sdp: 'a'.repeat(60_001) });
  accepts(OfferToServer, { sessionId, agentId: 'plc-1', sdp: 'a'.repeat(60_000) });
  refuses(OfferToServer, { sessionId, sdp: 'v=0' });
  accepts(OfferToAgent, { sessionId, consoleId: 'xYz123', sdp: 'v=0' });
  refuses(OfferToAgent, { sessionId, agentId: 'plc-1', sdp: 'v=0' });
  accepts(Answer, { sessionId, sdp: 'v=0' });
  refuses(Answer, { sessionId, sdp: 7 });
  accepts(Ice, { sessionId, candidate: null });
  accepts(Ice, { sessionId, candidate: { candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ host' } });
  accepts(Ice, { sessionId, candidate: { candidate: '', sdpMid: null, sdpMLineIndex: null, usernameFragment: null } });
  accepts(Ice, { sessionId, candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'uf' } });
  refuses(Ice, { sessionId });
  refuses(Ice, { sessionId, candidate: { candidate: 'c', sdpMLineIndex: 1.5 } });
  refuses(Ice, { sessionId, candidate: { candidate: 'x'.repeat(1025) } });
  accepts(Disconnect, { sessionId, reason: '' });
  refuses(Disconnect, { sessionId });
  refuses(Disconnect, { sessionId, reason: 'x'.repeat(513) });
});

test('presence, errors and acks', () => {
  accepts(PresenceSnapshot, { seq: 0, agents: [] });
  accepts(PresenceSnapshot, { seq: 7, agents: [{ agentId: 'plc-1', name: 'Line 1', version: '0.1.0' }] });
  refuses(PresenceSnapshot, { agents: [] });
  refuses(PresenceSnapshot, { seq: -1, agents: [] });
  refuses(PresenceSnapshot, { seq: 0, agents: [{ agentId: '../x', name: 'n', version: '1' }] });
  accepts(PresenceDiff, { seq: 1, joins: [{ agentId: 'plc-1', name: 'Line 1', version: '0.1.0' }], leaves: ['plc-2'] });
  refuses(PresenceDiff, { seq: 0, joins: [], leaves: [] });
  refuses(PresenceDiff, { seq: 1.5, joins: [], leaves: [] });
  refuses(PresenceDiff, { seq: 1, joins: [], leaves: ['../x'] });
  accepts(SignalingAck, { ok: true });
  accepts(SignalingAck, { ok: false, error: { code: 'AGENT_OFFLINE', message: 'agent plc-1 is not connected' } });
  accepts(SignalingAck, { ok: false, error: { code: 'FORBIDDEN', message: 'no', sessionId } });
  refuses(SignalingAck, { ok: false });
  refuses(SignalingAck, { ok: false, error: { code: 'WHATEVER', message: 'x' } });
  refuses(SignalingErrorPayload, { code: 'BAD_MESSAGE', message: 'x'.repeat(1025) });
});

test('the largest SDP fits in one Socket.IO payload', () => {
  const payload = JSON.stringify(['webrtc:offer', { sessionId: 'x'.repeat(64), agentId: 'y'.repeat(64), sdp: 'a'.repeat(60_000) }]);
  assert.ok(payload.length < MAX_SIGNALING_PAYLOAD_BYTES);
});

test('results are values', () => {
  assert.deepEqual(ok(3), { ok: true, value: 3 });
  assert.deepEqual(err(protocolError('INTERNAL', 'x')), { ok: false, error: { code: 'INTERNAL', message: 'x' } });
});

test('turn:credentials: RTCIceServer-shaped TURN servers, bounded, with their expiry', () => {
  const server = { urls: ['turn:turn.example:3478?transport=udp'], username: '1767225600:console.acme.x', credential: 'c2VjcmV0' };
  accepts(TurnCredentials, { iceServers: [server], expiresAt: 1767225600000, ttlSeconds: 3600 });
  accepts(TurnCredentials, { iceServers: [{ urls: ['stun:s.example:3478'] }], expiresAt: 0, ttlSeconds: 1 });
  refuses(TurnCredentials, { iceServers: [{ ...server, urls: 'turn:t:3478' }], expiresAt: 1, ttlSeconds: 1 });
  refuses(TurnCredentials, { iceServers: [{ ...server, urls: ['http://t'] }], expiresAt: 1, ttlSeconds: 1 });
  refuses(TurnCredentials, { iceServers: [{ ...server, urls: [] }], expiresAt: 1, ttlSeconds: 1 });
  refuses(TurnCredentials, { iceServers: [{ ...server, credential: 'x'.repeat(513) }], expiresAt: 1, ttlSeconds: 1 });
  refuses(TurnCredentials, { iceServers: Array.from({ length: 9 }, () => server), expiresAt: 1, ttlSeconds: 1 });
  refuses(TurnCredentials, { iceServers: [server], expiresAt: 1.5, ttlSeconds: 1 });
  refuses(TurnCredentials, { iceServers: [server], expiresAt: 1, ttlSeconds: 0 });
  refuses(TurnCredentials, { iceServers: [server], expiresAt: 1, ttlSeconds: 8 * 86_400 });
});

test('reconnect delays grow exponentially with jitter up to the maximum; a retryAfterMs is honoured and spread', () => {
  assert.equal(
    reconnectDelayMs(0, 0, () => 0),
    500,
  );
  assert.equal(
    reconnectDelayMs(0, 0, () => 1),
    1500,
  );
  assert.equal(
    reconnectDelayMs(3, 0, () => 0.5),
    8000,
  );
  assert.equal(
    reconnectDelayMs(40, 0, () => 1),
    RECONNECT_MAX_MS * 1.5,
  );
  assert.equal(
    reconnectDelayMs(0, 2000, () => 0),
    2000,
  );
  assert.equal(
    reconnectDelayMs(5, 2000, () => 1),
    4000,
  );
});
