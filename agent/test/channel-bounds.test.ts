/**
 * The per-channel bounds (agent/src/channel-bounds.ts) and the rate gate, on an in-memory channel
 * with a clock the test moves: frames over the rate, answers to a console that does not read. The
 * same bounds on real channels: fuzz-agent.test.ts. Input waiting for `opened` is bounded by the
 * terminal channel: tty-channel.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Docker from 'dockerode';
import { CONTROL_FRAME_BURST, MAX_UNREAD_REPLY_BYTES, TTY_FRAME_BURST, TTY_FRAMES_PER_SECOND } from '@tether/protocol';
import { ChannelBounds } from '../src/channel-bounds.js';
import { AgentControlChannel } from '../src/control-channel.js';
import type { InboundFrame } from '../src/data-channel.js';
import { DockerTargets } from '../src/docker-targets.js';
import { setLogLevel } from '../src/log.js';
import { NOTICE_INTERVAL_MS, RateGate } from '../src/rate-limit.js';
import { AttemptLimiter, FAILURES_PER_ADDRESS, MAX_TRACKED, WINDOW_MS } from '../src/trust/attempt-limiter.js';
import { AgentTtyChannel } from '../src/tty-channel.js';
import { FakeChannel } from './support/fake-channel.js';

setLogLevel('error');

function guarded(kind: 'tty' | 'control') {
  let now = 0;
  const channel = new FakeChannel(
    kind === 'tty' ? 'tty:1' : 'control',
    new ChannelBounds({ kind, negotiationId: 'neg-test', now: () => now }),
  );
  const seen: InboundFrame[] = [];
  channel.onMessage((frame) => seen.push(frame));
  return { channel, seen, advance: (ms: number) => (now += ms) };
}

const rateLimited = (channel: FakeChannel) => channel.messages().filter((m) => m.type === 'error' && m.code === 'RATE_LIMITED');

test('the rate gate passes a burst, refuses once per interval, drops the rest, and refills', () => {
  let now = 0;
  const gate = new RateGate(10, 20, () => now);
  for (let i = 0; i < 20; i++) assert.equal(gate.admit(), 'pass');
  assert.equal(gate.admit(), 'refuse');
  for (let i = 0; i < 100; i++) assert.equal(gate.admit(), 'drop');
  now += NOTICE_INTERVAL_MS;
  // a second at 10/s gave 10 tokens back
  for (let i = 0; i < 10; i++) assert.equal(gate.admit(), 'pass');
  assert.equal(gate.admit(), 'refuse');
  assert.equal(gate.excess, 102);
});

test('a tty channel flood past the burst is answered with one RATE_LIMITED per second, not one per frame', () => {
  const { channel, seen, advance } = guarded('tty');
  for (let i = 0; i < TTY_FRAME_BURST + 5000; i++) channel.deliver(Buffer.from('x'));
  assert.equal(seen.length, TTY_FRAME_BURST);
  assert.equal(rateLimited(channel).length, 1);
  advance(1000);
  for (let i = 0; i < TTY_FRAMES_PER_SECOND + 10; i++) channel.deliver('{"type":"ping"}');
  assert.equal(seen.length, TTY_FRAME_BURST + TTY_FRAMES_PER_SECOND);
  assert.equal(rateLimited(channel).length, 2);
});

test('the control channel has its own, lower rate', () => {
  const { channel, seen } = guarded('control');
  for (let i = 0; i < CONTROL_FRAME_BURST + 50; i++) channel.deliver('{"type":"ping"}');
  assert.equal(seen.length, CONTROL_FRAME_BURST);
  assert.equal(rateLimited(channel).length, 1);
});

test('answers are dropped while the console does not read, other frames are not', () => {
  const { channel } = guarded('tty');
  channel.bufferedAmount = MAX_UNREAD_REPLY_BYTES + 1;
  assert.equal(channel.answer(JSON.stringify({ type: 'pong' })), false);
  assert.equal(channel.answer(JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: 'x' })), false);
  for (let i = 0; i < TTY_FRAME_BURST + 1; i++) channel.deliver(Buffer.from('x'));
  assert.equal(rateLimited(channel).length, 0, 'the bounds’ own RATE_LIMITED is an answer too');
  assert.equal(channel.send(JSON.stringify({ type: 'exit', code: 0 })), true);
  assert.equal(channel.send(Buffer.from('output')), true);
  channel.bufferedAmount = 0;
  assert.equal(channel.answer(JSON.stringify({ type: 'pong' })), true);
});

test('both channel types answer pings and bad frames through the bounds, so a console that does not read gets none', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  const tty = guarded('tty');
  new AgentTtyChannel(tty.channel, { targets, shells: ['/bin/sh'], peerId: 'test', owner: 'console:test' });
  const control = guarded('control');
  new AgentControlChannel(control.channel, targets, { id: 'agent', name: 'agent', version: '0' }, 'test');
  for (const { channel } of [tty, control]) {
    channel.bufferedAmount = MAX_UNREAD_REPLY_BYTES + 1;
    channel.deliver({ type: 'ping', id: 1 });
    channel.deliver('not json');
    assert.deepEqual(channel.messages(), [], channel.label);
    channel.bufferedAmount = 0;
    channel.deliver({ type: 'ping', id: 2 });
    channel.deliver('not json');
    assert.deepEqual(
      channel.messages().map((m) => (m.type === 'pong' ? `pong ${m.id}` : m.code)),
      ['pong 2', 'BAD_MESSAGE'],
      channel.label,
    );
  }
});

test('the pairing limiter forgets addresses whose failures are older than the window', () => {
  let now = 0;
  const limiter = new AttemptLimiter(() => now);
  for (let i = 0; i < 20; i++) {
    assert.ok(limiter.allow(`10.0.0.${i}`, `id-${i}`));
    limiter.failed(`10.0.0.${i}`, `id-${i}`);
  }
  assert.equal(limiter.size, 40);
  now += WINDOW_MS + 1;
  assert.ok(limiter.allow('10.0.1.1', 'id-0'));
  assert.equal(limiter.size, 0);
});

test('the pairing limiter counts per address and per identity, never in total (issue 11)', () => {
  let now = 0;
  const limiter = new AttemptLimiter(() => now);
  // 30 failures from six addresses, all claiming one identity.
  for (let a = 1; a <= 6; a++) {
    for (let i = 0; i < FAILURES_PER_ADDRESS; i++) limiter.failed(`10.0.0.${a}`, 'victim');
  }
  assert.ok(!limiter.allow('10.0.0.1', 'anyone'), 'an address over its limit is refused');
  assert.ok(!limiter.allow('10.0.0.6', 'victim'), 'a failed address is refused for an identity over its limit');
  assert.ok(limiter.allow('10.0.0.99', 'victim'), 'a clean address may still try the identity (the real console)');
  assert.ok(limiter.allow('10.0.0.99', 'other'), 'and any other');
  // An address with one failure may try other identities, not this one.
  limiter.failed('10.0.0.50', 'x');
  assert.ok(limiter.allow('10.0.0.50', 'y'));
  assert.ok(!limiter.allow('10.0.0.50', 'victim'));
  now += WINDOW_MS + 1;
  assert.ok(limiter.allow('10.0.0.1', 'victim'), 'everything is forgotten after the window');
});

test('the pairing limiter holds bounded memory under a flood of fresh addresses', () => {
  const limiter = new AttemptLimiter(() => 0);
  for (let i = 0; i < MAX_TRACKED + 500; i++) limiter.failed(`a${i}`, `i${i}`);
  assert.ok(limiter.size <= 2 * MAX_TRACKED);
});
