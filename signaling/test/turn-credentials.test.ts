import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { parseValue, TurnCredentials } from '@tether/protocol';
import { loadConfig, type ConfigOutcome } from '../src/config.js';
import { DEFAULT_TURN_TTL_SECONDS, issueTurnCredentials } from '../src/turn-credentials.js';
import { Fixture, nextEvent, noEvent } from './support.js';

const SECRET = 'coturn-static-auth-secret';
const turn = { urls: ['turn:10.0.0.2:3478?transport=udp'], secret: SECRET, ttlSeconds: 3600 };
const tokens = ['--console-token', 'console-token-long-enough', '--agent-token', 'agent-token-long-enough'];
const noFile = (path: string): string => {
  throw new Error(`ENOENT: ${path}`);
};

function turnConfig(outcome: ConfigOutcome) {
  assert.equal(outcome.kind, 'run', outcome.kind === 'error' ? outcome.message : outcome.kind);
  return (outcome as Extract<ConfigOutcome, { kind: 'run' }>).config.turn;
}

function errorOf(outcome: ConfigOutcome): string {
  assert.equal(outcome.kind, 'error');
  return (outcome as { message: string }).message;
}

test('credentials follow the TURN REST API scheme coturn checks: <expiry>:<user>, base64 HMAC-SHA1 of it', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const issued = issueTurnCredentials(turn, 'console.acme.tok:en/1', now);
  const server = issued.iceServers[0]!;
  const expiry = now / 1000 + 3600;
  assert.equal(server.username, `${expiry}:console.acme.tok_en_1`, 'no second `:` in the user id: coturn splits at the first');
  assert.equal(server.credential, createHmac('sha1', SECRET).update(server.username!).digest('base64'));
  assert.deepEqual(server.urls, turn.urls);
  assert.equal(issued.expiresAt, expiry * 1000);
  assert.equal(issued.ttlSeconds, 3600);
  assert.equal(parseValue(TurnCredentials, issued).ok, true);
});

test('the TURN settings come from flags, environment or config file, with a one-hour default lifetime', () => {
  assert.equal(turnConfig(loadConfig(tokens, {}, noFile)), undefined);
  assert.deepEqual(turnConfig(loadConfig([...tokens, '--turn-url', 'turn:t.example:3478', '--turn-secret', 's3cret'], {}, noFile)), {
    urls: ['turn:t.example:3478'],
    secret: 's3cret',
    ttlSeconds: DEFAULT_TURN_TTL_SECONDS,
  });
  assert.deepEqual(
    turnConfig(
      loadConfig(
        tokens,
        { TETHER_SIGNALING_TURN_URLS: 'turn:a:3478, turns:b:5349', TETHER_SIGNALING_TURN_SECRET: 'x', TETHER_SIGNALING_TURN_TTL: '30m' },
        noFile,
      ),
    ),
    { urls: ['turn:a:3478', 'turns:b:5349'], secret: 'x', ttlSeconds: 1800 },
  );
  const file = JSON.stringify({ turnUrls: ['turn:c:3478'], turnSecret: 'f', turnTtlSeconds: 7200 });
  assert.deepEqual(turnConfig(loadConfig([...tokens, '--config', 'c.json', '--turn-ttl', '2h'], {}, () => file)), {
    urls: ['turn:c:3478'],
    secret: 'f',
    ttlSeconds: 7200,
  });
});

test('incomplete or bad TURN settings stop the server with a sentence that says what to fix', () => {
  assert.match(errorOf(loadConfig([...tokens, '--turn-url', 'turn:t:3478'], {}, noFile)), /no secret/);
  assert.match(errorOf(loadConfig([...tokens, '--turn-secret', 's'], {}, noFile)), /no TURN URL/);
  assert.match(errorOf(loadConfig([...tokens, '--turn-url', 'stun:t:3478', '--turn-secret', 's'], {}, noFile)), /invalid TURN URL/);
  assert.match(
    errorOf(loadConfig([...tokens, '--turn-url', 'turn:t', '--turn-secret', 's', '--turn-ttl', 'soon'], {}, noFile)),
    /lifetime/,
  );
  assert.match(
    errorOf(loadConfig([...tokens, '--turn-url', 'turn:t', '--turn-secret', 's', '--turn-ttl', '30d'], {}, noFile)),
    /at most 7d/,
  );
});

test('every authenticated console and agent gets credentials on connect, and fresh ones before they expire', async (t) => {
  const fixture = await Fixture.start(t, { turn: { ...turn, ttlSeconds: 2 } });
  const consoleSocket = fixture.client({ role: 'console', token: 'console-secret-0123456789abcdef' });
  const first = nextEvent(consoleSocket, 'turn:credentials');
  consoleSocket.connect();
  const parsed = parseValue(TurnCredentials, await first);
  assert.ok(parsed.ok);
  const username = parsed.value.iceServers[0]!.username!;
  assert.match(username, /^\d+:console\.default\./);
  assert.ok(parsed.value.expiresAt > Date.now(), 'valid when received');
  const second = parseValue(TurnCredentials, await nextEvent(consoleSocket, 'turn:credentials', 5000));
  assert.ok(second.ok);
  assert.ok(second.value.expiresAt >= parsed.value.expiresAt, 'the refreshed credentials do not expire sooner');

  const agentSocket = fixture.client({ role: 'agent', token: 'agent-secret-0123456789abcdef', agentId: 'plc-9', name: 'n', version: '1' });
  const agentFirst = nextEvent(agentSocket, 'turn:credentials');
  agentSocket.connect();
  const agentCredentials = parseValue(TurnCredentials, await agentFirst);
  assert.ok(agentCredentials.ok);
  assert.match(agentCredentials.value.iceServers[0]!.username!, /^\d+:agent\.default\.plc-9$/);
});

test('without TURN configured no credentials are sent', async (t) => {
  const fixture = await Fixture.start(t);
  const { socket } = await fixture.console();
  await noEvent(socket, 'turn:credentials', 300);
});
