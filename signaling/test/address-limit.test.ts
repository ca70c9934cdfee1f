/**
 * Connections per address (`--max-connections-per-address`, docs/hardening.md): every client here
 * comes from 127.0.0.1, so a small limit shows the refusal, its code, and the slot a closed
 * connection frees; 0 turns the limit off.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Manager, type Socket } from 'socket.io-client';
import { SignalingErrorPayload } from '@tether/protocol';
import { startSignalingServer } from '@tether/signaling';
import { AGENT_TOKEN, CONSOLE_TOKEN, connect, Fixture, wellBehaved } from './support.js';

const LIMIT = 3;

/** The `connect_error` payload a refused connection got. */
async function refusal(socket: Socket): Promise<SignalingErrorPayload> {
  const error = await connect(socket).then(
    () => assert.fail('the connection was accepted'),
    (cause: unknown) => cause as Error & { data?: unknown },
  );
  const parsed = SignalingErrorPayload.safeParse(error.data);
  assert.ok(parsed.success, `connect_error without a code: ${error.message}`);
  return parsed.data;
}

/** Resolves once the server has logged `count` lines containing `text`. */
async function logged(fixture: Fixture, text: string, count = 1): Promise<void> {
  const deadline = Date.now() + 5000;
  while (fixture.logs.filter((line) => line.includes(text)).length < count) {
    if (Date.now() > deadline) assert.fail(`the server did not log ${JSON.stringify(text)} ${count} times`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test(`the first ${LIMIT} connections from one address work, one more gets RATE_LIMITED, closing one frees a slot`, async (t) => {
  const fixture = await Fixture.start(t, { maxConnectionsPerAddress: LIMIT });
  const agent = await fixture.agent('plc-1');
  const { socket: first } = await fixture.console();
  await fixture.console();

  const refused = await refusal(fixture.client({ role: 'console', token: CONSOLE_TOKEN }));
  assert.equal(refused.code, 'RATE_LIMITED');
  assert.match(refused.message, /too many connections from 127\.0\.0\.1 \(at most 3\)/);
  // Checked before authentication: a bad token over the limit is refused for the limit, not the token.
  assert.equal((await refusal(fixture.client({ role: 'console', token: 'wrong' }))).code, 'RATE_LIMITED');
  assert.ok(agent.connected && first.connected, 'the connections already open go on');

  first.disconnect();
  await logged(fixture, '"msg":"console disconnected"');
  await fixture.console();
  assert.equal(
    (await refusal(fixture.client({ role: 'agent', token: AGENT_TOKEN, agentId: 'plc-2', name: 'x', version: '0' }))).code,
    'RATE_LIMITED',
  );
});

test('a handshake refused for its token frees its slot when the client closes', async (t) => {
  const fixture = await Fixture.start(t, { maxConnectionsPerAddress: LIMIT });
  for (let i = 0; i < 2 * LIMIT; i++) {
    assert.equal((await refusal(fixture.client({ role: 'console', token: `wrong-${i}` }))).code, 'UNAUTHORIZED');
    await logged(fixture, '"msg":"connection closed"', i + 1);
  }
  await fixture.console();
  await fixture.console();
  await fixture.agent('plc-1');
});

test('transports that never join count too: above twice the limit the upgrade itself is refused', async (t) => {
  const fixture = await Fixture.start(t, { maxConnectionsPerAddress: LIMIT });
  const open = (manager: Manager) => new Promise<Error | undefined>((resolve) => manager.open((error) => resolve(error)));
  const managers: Manager[] = [];
  t.after(() => managers.forEach((manager) => manager.engine?.close()));
  for (let i = 0; i < 2 * LIMIT; i++) {
    const manager = new Manager(fixture.server.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
    managers.push(manager);
    assert.equal(await open(manager), undefined, `transport ${i + 1} opens`);
  }
  const extra = new Manager(fixture.server.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
  managers.push(extra);
  assert.ok(await open(extra), 'one more transport is refused');
  await logged(fixture, '"msg":"transport refused: too many connections from one address"');

  managers[0]!.engine.close();
  await logged(fixture, '"msg":"connection closed"');
  await fixture.console(); // a transport slot and a connection slot are free again
});

test('0 means no limit', async (t) => {
  const fixture = await Fixture.start(t, { maxConnectionsPerAddress: 0 });
  const sockets = await Promise.all(Array.from({ length: 4 * LIMIT }, () => fixture.console()));
  assert.ok(sockets.every(({ socket }) => socket.connected));
  await wellBehaved(fixture, 'plc-1');
});

test('a bad setting does not start a server', async () => {
  await assert.rejects(
    startSignalingServer({ consoleTokens: ['c'], agentTokens: ['a'], maxConnectionsPerAddress: -1 }),
    /maxConnectionsPerAddress/,
  );
});
