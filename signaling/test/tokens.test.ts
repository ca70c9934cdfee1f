/**
 * Signed tokens end to end on a real server (port 0) with socket.io-client: issue, verify, expiry,
 * tampering, revocation (at the handshake and of a live connection), organisations kept apart in
 * presence and relay, and an agent token used for another agentId.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendRevocation } from '../src/revocations.js';
import { issueToken, tokenId, verifyToken } from '../src/tokens.js';
import { connect, emitAck, Fixture, nextEvent, noEvent, presenceOf, SDP_OFFER, sid } from './support.js';

const SECRET = 'signing-secret-0123456789abcdef-0123456789';
const OLD_SECRET = 'previous-secret-0123456789abcdef-01234567';

function issue(role: 'agent' | 'console', org: string, subject: string, ttlMs?: number, secret = SECRET): string {
  const issued = issueToken(secret, { role, org, subject, ...(ttlMs !== undefined ? { ttlMs } : {}) });
  assert.ok(issued.ok, issued.ok ? '' : issued.error);
  return issued.value.token;
}

interface ConnectError extends Error {
  data?: { code: string; message: string };
}

async function refused(fixture: Fixture, auth: Record<string, unknown>): Promise<ConnectError> {
  const error = await connect(fixture.client(auth)).then(
    () => assert.fail('the server accepted the connection'),
    (e: ConnectError) => e,
  );
  assert.equal(error.data?.code, 'UNAUTHORIZED');
  return error;
}

const agentAuth = (token: string, agentId: string) => ({ role: 'agent', token, agentId, name: agentId, version: '1.0.0' });

async function signedFixture(t: Parameters<typeof Fixture.start>[0], revocationsFile?: string): Promise<Fixture> {
  return Fixture.start(t, { tokenSecrets: [SECRET, OLD_SECRET], ...(revocationsFile ? { revocationsFile } : {}) });
}

test('a token verifies with any configured secret and carries its claims', () => {
  const now = Date.UTC(2030, 0, 1);
  const issued = issueToken(SECRET, { role: 'agent', org: 'acme', subject: 'plc-1', ttlMs: 3_600_000, now });
  assert.ok(issued.ok);
  assert.match(issued.value.token, /^tst1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const claims = verifyToken(issued.value.token, [OLD_SECRET, SECRET], now + 1000);
  assert.ok(claims.ok);
  assert.deepEqual(
    [claims.value.role, claims.value.org, claims.value.sub, claims.value.exp - claims.value.iat],
    ['agent', 'acme', 'plc-1', 3600],
  );
  assert.equal(tokenId(issued.value.token), claims.value.jti);
  assert.equal(verifyToken(issued.value.token, [OLD_SECRET], now).ok, false);
  const expired = verifyToken(issued.value.token, [SECRET], now + 3_600_000);
  assert.ok(!expired.ok && /expired/.test(expired.error.message));
  assert.ok(!issueToken('short', { role: 'console', org: 'acme', subject: 'x' }).ok);
  assert.ok(!issueToken(SECRET, { role: 'agent', org: 'acme', subject: 'not an id' }).ok);
  assert.ok(!issueToken(SECRET, { role: 'console', org: 'a b', subject: 'x' }).ok);
});

test('signed tokens of each role connect; a rotated-out secret still verifies', async (t) => {
  const fixture = await signedFixture(t);
  await connect(fixture.client({ role: 'console', token: issue('console', 'acme', 'alice') }));
  await connect(fixture.client(agentAuth(issue('agent', 'acme', 'plc-1', undefined, OLD_SECRET), 'plc-1')));
  // legacy shared secrets keep working beside signed tokens
  await fixture.console();
});

test('expired, tampered, wrong-role and foreign-secret tokens are refused', async (t) => {
  const fixture = await signedFixture(t);
  const expired = issueToken(SECRET, { role: 'console', org: 'acme', subject: 'alice', ttlMs: 1000, now: Date.now() - 10_000 });
  assert.ok(expired.ok);
  assert.match((await refused(fixture, { role: 'console', token: expired.value.token })).message, /expired/);

  const good = issue('console', 'acme', 'alice');
  const [prefix, payload, mac] = good.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, org: 'other' })).toString('base64url');
  assert.match((await refused(fixture, { role: 'console', token: `${prefix}.${forged}.${mac}` })).message, /signature is not valid/);
  // The MAC's first character changed: its last ones carry padding bits that decoding ignores, and
  // replacing them with `AA` left the MAC unchanged once in about a thousand tokens.
  const tamperedMac = `${mac!.startsWith('A') ? 'B' : 'A'}${mac!.slice(1)}`;
  assert.match((await refused(fixture, { role: 'console', token: `${prefix}.${payload}.${tamperedMac}` })).message, /signature/);
  assert.match((await refused(fixture, agentAuth(good, 'alice'))).message, /not valid for role agent/);
  const foreign = issueToken('somebody-elses-secret-0123456789abcdef', { role: 'console', org: 'acme', subject: 'mallory' });
  assert.ok(foreign.ok);
  await refused(fixture, { role: 'console', token: foreign.value.token });
  assert.doesNotMatch(fixture.logs.join('\n'), new RegExp(mac!));
});

test('an agent token is refused for another agentId', async (t) => {
  const fixture = await signedFixture(t);
  const error = await refused(fixture, agentAuth(issue('agent', 'acme', 'plc-1'), 'plc-2'));
  assert.match(error.message, /for agent plc-1, not plc-2/);
});

test('presence and relay stay within the organisation', async (t) => {
  const fixture = await signedFixture(t);
  const consoleA = fixture.client({ role: 'console', token: issue('console', 'org-a', 'alice') });
  const consoleB = fixture.client({ role: 'console', token: issue('console', 'org-b', 'bob') });
  const firstA = nextEvent(consoleA, 'presence:snapshot');
  const firstB = nextEvent(consoleB, 'presence:snapshot');
  await Promise.all([connect(consoleA), connect(consoleB)]);
  assert.deepEqual(await firstA, { seq: 0, agents: [] });
  await firstB;

  const seenByA = nextEvent(consoleA, 'presence:diff');
  const quietB = noEvent(consoleB, 'presence:diff', 400);
  const agentA = fixture.client(agentAuth(issue('agent', 'org-a', 'plc-a'), 'plc-a'));
  await connect(agentA);
  assert.deepEqual(await seenByA, { seq: 1, joins: [{ agentId: 'plc-a', name: 'plc-a', version: '1.0.0' }], leaves: [] });
  await quietB;

  // B offers to A's agent: offline, exactly as an agent that does not exist
  const agentOffers = noEvent(agentA, 'webrtc:offer', 400);
  const reply = (await emitAck(consoleB, 'webrtc:offer', { sessionId: sid('x-org'), agentId: 'plc-a', sdp: SDP_OFFER })) as {
    ok: boolean;
    error?: { code: string; message: string };
  };
  const unknown = (await emitAck(consoleB, 'webrtc:offer', { sessionId: sid('none'), agentId: 'plc-zz', sdp: SDP_OFFER })) as {
    ok: boolean;
    error?: { code: string; message: string };
  };
  assert.equal(reply.error?.code, 'AGENT_OFFLINE');
  assert.equal(reply.error?.message.replace('plc-a', 'X'), unknown.error?.message.replace('plc-zz', 'X'));
  await agentOffers;

  // the same agentId in org B is a different agent, and A's console reaches only its own
  const agentB = fixture.client(agentAuth(issue('agent', 'org-b', 'plc-a'), 'plc-a'));
  await connect(agentB);
  const offerAtA = nextEvent(agentA, 'webrtc:offer');
  const quietAtB = noEvent(agentB, 'webrtc:offer', 400);
  assert.deepEqual(await emitAck(consoleA, 'webrtc:offer', { sessionId: sid('in-org'), agentId: 'plc-a', sdp: SDP_OFFER }), { ok: true });
  await offerAtA;
  await quietAtB;
  assert.equal(agentA.connected, true, 'an agent of another org with the same id does not replace it');
});

test('a revoked token is refused, and live connections using it are disconnected', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'tether-revocations-')), 'revoked.jsonl');
  const early = issue('console', 'acme', 'early');
  const earlyJti = tokenId(early)!;
  assert.ok(appendRevocation(file, earlyJti).ok);
  const fixture = await signedFixture(t, file);
  assert.match((await refused(fixture, { role: 'console', token: early })).message, /revoked/);

  const token = issue('agent', 'acme', 'plc-1');
  const bystanderToken = issue('console', 'acme', 'carol');
  const agent = fixture.client(agentAuth(token, 'plc-1'));
  const bystander = fixture.client({ role: 'console', token: bystanderToken });
  const watch = presenceOf(bystander);
  await Promise.all([connect(agent), connect(bystander)]);
  await watch.until((ids) => ids.includes('plc-1'));
  const error = nextEvent(agent, 'signal:error', 5000);
  const gone = nextEvent(agent, 'disconnect', 5000);
  assert.ok(appendRevocation(file, tokenId(token)!).ok);
  assert.deepEqual(await error, { code: 'UNAUTHORIZED', message: `token ${tokenId(token)} was revoked` });
  assert.equal(await gone, 'io server disconnect');
  await watch.until((ids) => ids.length === 0, 5000);
  assert.equal(bystander.connected, true);
  await refused(fixture, agentAuth(token, 'plc-1'));
  assert.match(fixture.logs.join('\n'), /revocations reloaded/);
});

test('a connection ends when its token expires', async (t) => {
  const fixture = await signedFixture(t);
  const socket = fixture.client({ role: 'console', token: issue('console', 'acme', 'brief', 1500) });
  await connect(socket);
  const error = (await nextEvent(socket, 'signal:error', 5000)) as { code: string; message: string };
  assert.equal(error.code, 'UNAUTHORIZED');
  assert.match(error.message, /expired/);
});
