/**
 * A node that says what bounds it (issue 20): its limit on open files read and logged at start,
 * clients past it refused at the upgrade with a log line while `/healthz` still answers; and a node
 * whose event loop lags sheds new handshakes with RATE_LIMITED and a retry-after, then takes them
 * again once it has caught up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { readDescriptorLimit, RESERVED_DESCRIPTORS } from '../src/descriptor-limit.js';
import { SHED_EVENT_LOOP_DELAY_MS, SHED_RETRY_AFTER_MS } from '../src/load-shedder.js';
import { startSignalingNode } from '../../harness/signaling-node.js';
import { transportUrl } from '../../harness/pre-auth-attack.js';
import { connect, CONSOLE_TOKEN, Fixture } from './support.js';

const DESCRIPTORS = 256;

test('the limit on open files is read from /proc/self/limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-limits-'));
  const file = join(dir, 'limits');
  writeFileSync(
    file,
    'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n',
  );
  assert.deepEqual(readDescriptorLimit(file), { soft: 1024, hard: 4096, maxClients: 1024 - RESERVED_DESCRIPTORS });
  writeFileSync(file, 'Max open files            unlimited            unlimited            files\n');
  assert.equal(readDescriptorLimit(file)?.soft, Number.MAX_SAFE_INTEGER);
  assert.equal(readDescriptorLimit(join(dir, 'missing')), undefined);
});

test(`a node limited to ${DESCRIPTORS} descriptors says so, refuses clients past them with a log line, and /healthz answers`, async (t) => {
  const node = await startSignalingNode(
    'limited',
    {
      TETHER_SIGNALING_CONSOLE_TOKENS: CONSOLE_TOKEN,
      TETHER_SIGNALING_AGENT_TOKENS: 'agent-token-0123456789',
      TETHER_SIGNALING_MAX_CONNECTIONS_PER_ADDRESS: '0',
    },
    { wrapper: ['prlimit', `--nofile=${DESCRIPTORS}:${DESCRIPTORS}`] },
  );
  t.after(() => node.kill());
  const limitLine = node.logs().find((line) => line.includes('"msg":"descriptor limit"'));
  assert.ok(limitLine, 'the limit is logged at start');
  const logged = JSON.parse(limitLine.slice(limitLine.indexOf('{'))) as { soft: number; maxClients: number };
  assert.deepEqual([logged.soft, logged.maxClients], [DESCRIPTORS, DESCRIPTORS - RESERVED_DESCRIPTORS]);

  const sockets: WebSocket[] = [];
  t.after(() => sockets.forEach((ws) => ws.terminate()));
  let refused = 0;
  // Past maxClients, one by one: each either opens (its engine.io `open` arrives) or is refused.
  for (let i = 0; i < DESCRIPTORS; i++) {
    const ws = new WebSocket(transportUrl(node.url));
    sockets.push(ws);
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('message', () => resolve(true));
      ws.once('error', () => resolve(false));
      ws.once('close', () => resolve(false));
    });
    if (!opened) refused++;
  }
  assert.equal(refused, RESERVED_DESCRIPTORS, `${DESCRIPTORS - refused} transports opened, ${refused} refused`);
  const health = await fetch(`${node.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { clients: number }).clients, DESCRIPTORS - RESERVED_DESCRIPTORS);
  assert.ok(node.logs().some((line) => line.includes('"msg":"transport refused: at the descriptor limit"')));
});

/** Opens the WebSocket transport: 'open' once Engine.IO's handshake came back, else the HTTP refusal. */
function openTransport(
  url: string,
): Promise<{ ws: WebSocket; status: 'open' } | { status: number; retryAfter: string | undefined; body: string }> {
  const ws = new WebSocket(transportUrl(url));
  return new Promise((resolve, reject) => {
    ws.once('message', () => resolve({ ws, status: 'open' }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
    });
    ws.once('error', reject);
  });
}

test('while its event loop lags, a node refuses new connections before the upgrade (503, Retry-After), then takes them again', async (t) => {
  const fixture = await Fixture.start(t, { shedEventLoopDelayMs: SHED_EVENT_LOOP_DELAY_MS });
  const connected = await fixture.console(); // a client already in is not affected
  // This process is the node: keep its event loop busy for most of a second window, in slices.
  const until = Date.now() + 1500;
  await new Promise<void>((resolve) => {
    const slice = () => {
      const end = Date.now() + 300;
      while (Date.now() < end) {
        // busy: the event loop lags by each slice
      }
      if (Date.now() < until) setTimeout(slice, 0);
      else resolve();
    };
    slice();
  });
  const refused = await openTransport(fixture.server.url);
  assert.equal(refused.status, 503, 'refused with 503 before the WebSocket upgrade');
  assert.ok('retryAfter' in refused);
  assert.equal(refused.retryAfter, String(SHED_RETRY_AFTER_MS / 1000));
  assert.equal((JSON.parse(refused.body) as { retryAfterMs: number }).retryAfterMs, SHED_RETRY_AFTER_MS);
  assert.ok(fixture.logs.some((line) => line.includes('"msg":"connection refused: shedding load"')));
  const health = (await (await fetch(`${fixture.server.url}/healthz`)).json()) as {
    shedSoFar: number;
    eventLoopDelayP90Ms: number;
    clients: number;
  };
  assert.ok(health.shedSoFar >= 1, `shedSoFar ${health.shedSoFar}`);
  assert.equal(health.clients, 1, 'the refused connection never became an Engine.IO client');
  assert.ok(health.eventLoopDelayP90Ms > 200, `the window that was refused in reported a p90 of ${health.eventLoopDelayP90Ms} ms`);
  assert.ok(connected.socket.connected);
  // Caught up: once a window without lag has passed, connections are taken again.
  for (;;) {
    const attempt = await connect(fixture.client({ role: 'console', token: CONSOLE_TOKEN })).then(
      () => true,
      () => false,
    );
    if (attempt) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});
