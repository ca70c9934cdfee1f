import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuthenticator } from '../src/auth.js';
import { AGENT_TOKEN, CONSOLE_TOKEN, connect, Fixture } from './support.js';

interface ConnectError extends Error {
  data?: { code: string; message: string };
}

async function refusal(fixture: Fixture, auth: Record<string, unknown> | undefined): Promise<ConnectError> {
  const socket = fixture.client(auth);
  const error = await connect(socket).then(
    () => assert.fail('the server accepted the connection'),
    (e: ConnectError) => e,
  );
  assert.match(error.message, /^UNAUTHORIZED: /);
  assert.equal(error.data?.code, 'UNAUTHORIZED');
  assert.equal(`UNAUTHORIZED: ${error.data?.message}`, error.message);
  return error;
}

const agentAuth = (token: string) => ({ role: 'agent', token, agentId: 'plc-1', name: 'PLC 1', version: '1.0.0' });

test('a connection without a token is refused', async (t) => {
  const fixture = await Fixture.start(t);
  await refusal(fixture, undefined);
  await refusal(fixture, { role: 'console' });
  await refusal(fixture, { token: CONSOLE_TOKEN });
  await refusal(fixture, { role: 'console', token: '' });
});

test('a wrong token is refused and never logged', async (t) => {
  const fixture = await Fixture.start(t);
  const error = await refusal(fixture, { role: 'console', token: 'guessed-token-xyz' });
  assert.match(error.message, /not valid for role console/);
  await refusal(fixture, agentAuth('guessed-token-xyz'));
  const joined = fixture.logs.join('\n');
  assert.match(joined, /connection refused/);
  assert.doesNotMatch(joined, /guessed-token-xyz/);
  assert.doesNotMatch(joined, new RegExp(CONSOLE_TOKEN));
});

test('a token of the other role is refused', async (t) => {
  const fixture = await Fixture.start(t);
  await refusal(fixture, { role: 'console', token: AGENT_TOKEN });
  await refusal(fixture, agentAuth(CONSOLE_TOKEN));
});

test('an agent handshake without a valid agentId is refused', async (t) => {
  const fixture = await Fixture.start(t);
  await refusal(fixture, { role: 'agent', token: AGENT_TOKEN, name: 'x', version: '1' });
  await refusal(fixture, { ...agentAuth(AGENT_TOKEN), agentId: '../etc' });
  await refusal(fixture, { role: 'admin', token: AGENT_TOKEN });
});

test('the right token of each role is accepted, and the server goes on after refusals', async (t) => {
  const fixture = await Fixture.start(t);
  await refusal(fixture, { role: 'console', token: 'nope' });
  await fixture.console();
  await fixture.agent('plc-1');
});

test('any of several configured tokens is accepted', () => {
  const authenticate = createAuthenticator({ consoleTokens: ['a-token', 'b-token-longer'], agentTokens: ['c'] });
  assert.deepEqual(authenticate({ role: 'console', token: 'a-token' }), { ok: true, value: { role: 'console', org: 'default' } });
  assert.equal(authenticate({ role: 'console', token: 'b-token-longer' }).ok, true);
  assert.equal(authenticate({ role: 'console', token: 'b-token' }).ok, false);
  assert.equal(authenticate({ role: 'console', token: 'c' }).ok, false);
  const agent = authenticate({ role: 'agent', token: 'c', agentId: 'a1', name: 'n', version: 'v' });
  assert.deepEqual(agent, { ok: true, value: { role: 'agent', agentId: 'a1', name: 'n', version: 'v', org: 'default' } });
  assert.equal(authenticate(null).ok, false);
  assert.equal(authenticate('a-token').ok, false);
});
