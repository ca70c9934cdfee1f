/**
 * The `ws` patch (patches/ws+8.21.3.patch, docs/scale-out.md, "A mass departure"): a WebSocket that
 * closes cleanly must not end streams that have ended already. Unpatched, `ws` ended the receiver
 * and the TCP socket again on each connection's close, and Node built an error (with its stack
 * trace) for each of those calls that nobody saw: 11–14 % of a node's CPU when 5,000 agents left
 * at once. Real server, real clients; the calls are counted where Node builds the error.
 */
import assert from 'node:assert/strict';
import { Duplex, Writable } from 'node:stream';
import { test } from 'node:test';
import { Fixture, TIMEOUT_MS } from './support.js';

/** Counts calls of `end()`, made from ws's websocket.js, on a stream already finished or destroyed. */
function countLateEnds(): { count(): number; restore(): void } {
  let late = 0;
  const originals = [
    [Writable.prototype, Writable.prototype.end],
    [Duplex.prototype, Duplex.prototype.end],
  ] as const;
  for (const [proto, original] of originals) {
    proto.end = function (this: Writable, ...args: unknown[]) {
      const state = (this as unknown as { _writableState: { ending: boolean; finished: boolean; destroyed: boolean } })._writableState;
      if (state.ending && (state.finished || state.destroyed) && new Error().stack?.includes('ws/lib/websocket.js')) late++;
      return (original as (...a: unknown[]) => Writable).apply(this, args);
    } as typeof proto.end;
  }
  return {
    count: () => late,
    restore() {
      for (const [proto, original] of originals) proto.end = original as typeof proto.end;
    },
  };
}

test('agents whose transports close cleanly: no stream is ended twice by ws', { timeout: TIMEOUT_MS * 2 }, async (t) => {
  const fixture = await Fixture.start(t);
  const { socket: consoleSocket } = await fixture.console();
  const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => fixture.agent(`close-agent-${i}`)));
  /** Until the node counts `n` transports (its /healthz). */
  const clients = async (n: number) => {
    for (;;) {
      const health = (await (await fetch(`${fixture.server.url}/healthz`)).json()) as { clients: number };
      if (health.clients === n) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await clients(21);
  const late = countLateEnds();
  t.after(() => late.restore());
  // The transport closed as a lost uplink's would be, then one disconnect as an agent stops.
  for (const agent of agents.slice(0, 19)) agent.io.engine.close();
  agents[19]!.disconnect();
  await clients(1);
  assert.equal(late.count(), 0, 'ws ended a stream that had ended already');
  assert.equal(consoleSocket.connected, true);
});
