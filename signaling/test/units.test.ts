import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createJsonLogger, moduleName } from '../src/log.js';
import { NegotiationTable, RouteCache } from '../src/negotiations.js';
import { AgentDirectory } from '../src/presence.js';
import { TokenBucket } from '../src/rate-limit.js';

test('the token bucket allows a burst, then the rate', () => {
  let now = 0;
  const bucket = new TokenBucket(100, 200, () => now);
  let taken = 0;
  while (bucket.take()) taken++;
  assert.equal(taken, 200);
  now += 50; // 50 ms at 100/s refills 5
  taken = 0;
  while (bucket.take()) taken++;
  assert.equal(taken, 5);
  now += 60_000;
  taken = 0;
  while (bucket.take()) taken++;
  assert.equal(taken, 200, 'never more than the burst');
});

test('the negotiation table forgets every index of a removed negotiation', () => {
  const table = new NegotiationTable();
  table.set({ sessionId: 's1', consoleSocketId: 'c1', agentId: 'a', agentSocketId: 'x1' });
  table.set({ sessionId: 's2', consoleSocketId: 'c1', agentId: 'a', agentSocketId: 'x2' });
  table.set({ sessionId: 's3', consoleSocketId: 'c2', agentId: 'a', agentSocketId: 'x1' });
  assert.equal(table.countForConsole('c1'), 2);
  assert.deepEqual(
    table.takeForAgentSocket('x1').map((n) => n.sessionId),
    ['s1', 's3'],
  );
  assert.equal(table.countForConsole('c1'), 1);
  assert.equal(table.countForConsole('c2'), 0);
  // Re-offering s2 to another agent connection moves it between indexes.
  table.set({ sessionId: 's2', consoleSocketId: 'c1', agentId: 'a', agentSocketId: 'x3' });
  assert.deepEqual(table.takeForAgentSocket('x2'), []);
  assert.deepEqual(
    table.takeForConsole('c1').map((n) => n.sessionId),
    ['s2'],
  );
  assert.equal(table.size, 0);
});

test("a node's route cache answers only the end it names, forgets a connection's routes, and keeps its bound", () => {
  const routes = new RouteCache(3);
  const route = (n: number, consoleSocketId = 'c1', agentSocketId = 'a1') => ({
    sessionId: `s${n}`,
    consoleSocketId,
    agentId: 'plc',
    agentSocketId,
  });
  routes.remember(route(1));
  assert.equal(routes.route('s1', 'consoleSocketId', 'c1')?.agentSocketId, 'a1');
  assert.equal(routes.route('s1', 'agentSocketId', 'a1')?.consoleSocketId, 'c1');
  // Another sender, or the console's id offered as the agent's: not a hit (the shared state decides).
  assert.equal(routes.route('s1', 'consoleSocketId', 'c2'), undefined);
  assert.equal(routes.route('s1', 'agentSocketId', 'c1'), undefined);
  // A later offer on the same sessionId replaces the route.
  routes.remember(route(1, 'c2'));
  assert.equal(routes.route('s1', 'consoleSocketId', 'c1'), undefined);
  assert.equal(routes.route('s1', 'agentSocketId', 'a1')?.consoleSocketId, 'c2');

  routes.remember(route(2, 'c3', 'a2'));
  routes.remember(route(3, 'c3', 'a1'));
  routes.forgetConnection('a1');
  assert.deepEqual([routes.route('s1', 'consoleSocketId', 'c2'), routes.route('s3', 'consoleSocketId', 'c3')], [undefined, undefined]);
  assert.equal(routes.size, 1);

  // Full: the route recorded longest ago goes first; one used again counts as recorded again.
  routes.remember(route(4, 'c4', 'a4'));
  routes.remember(route(5, 'c5', 'a5'));
  routes.remember(route(2, 'c3', 'a2'));
  routes.remember(route(6, 'c6', 'a6'));
  assert.equal(routes.size, 3);
  assert.equal(routes.route('s4', 'consoleSocketId', 'c4'), undefined);
  assert.ok(routes.route('s2', 'consoleSocketId', 'c3'));
  assert.ok(routes.route('s6', 'agentSocketId', 'a6'));
});

test('an old agent connection leaving does not remove its replacement', () => {
  const directory = new AgentDirectory<{ id: string }>();
  const old = { id: 'old' };
  const newer = { id: 'new' };
  directory.add(old, 'org', { agentId: 'a', name: 'A', version: '1' });
  assert.equal(directory.add(newer, 'org', { agentId: 'a', name: 'A2', version: '1' }), old);
  assert.equal(directory.remove(old, 'org', 'a'), false);
  assert.equal(directory.get('org', 'a'), newer);
  assert.equal(directory.remove(newer, 'org', 'a'), true);
  assert.equal(directory.get('org', 'a'), undefined);
});

test('the same agentId in two organisations is two agents', () => {
  const directory = new AgentDirectory<{ id: string }>();
  const a = { id: 'a' };
  const b = { id: 'b' };
  assert.equal(directory.add(a, 'org-a', { agentId: 'plc', name: 'A', version: '1' }), undefined);
  assert.equal(directory.add(b, 'org-b', { agentId: 'plc', name: 'B', version: '1' }), undefined);
  assert.equal(directory.get('org-a', 'plc'), a);
  assert.equal(directory.get('org-c', 'plc'), undefined);
  assert.equal(directory.get('org-b', 'plc'), b);
});

test('log lines are JSON with time, level, module and msg; fields cannot overwrite them', () => {
  const lines: string[] = [];
  const log = createJsonLogger({ level: 'info', write: (line) => lines.push(line) }).child(moduleName('file:///x/signaling/src/relay.ts'));
  log.debug('hidden');
  log.info('shown', { msg: 'spoof', error: new Error('boom') });
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
  assert.equal(entry['module'], 'signaling:relay');
  assert.equal(entry['msg'], 'shown');
  assert.equal(entry['field.msg'], 'spoof');
  assert.equal((entry['error'] as { message: string }).message, 'boom');
});
