/**
 * A connection's upgrade request (its `IncomingMessage`: headers, raw headers, query, and the
 * properties Engine.IO adds) is released once the handshake is done, not kept for the connection's
 * life (issue 20: "per-connection memory released (the handshake request)"). The server drops
 * Engine.IO's and Socket.IO's own references to it; Engine.IO's `WebSocketResponse` kept one more,
 * through the listener it puts on the socket's `close`, until patches/engine.io+6.6.12.patch.
 */
import assert from 'node:assert/strict';
import { Server, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Fixture } from './support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test("a connected client's upgrade request is not kept by the server", async (t) => {
  // Every upgrade request the server's HTTP server sees, weakly.
  const requests: WeakRef<IncomingMessage>[] = [];
  const emit = Server.prototype.emit;
  Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
    if (event === 'upgrade') requests.push(new WeakRef(args[0] as IncomingMessage));
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as typeof emit;
  t.after(() => {
    Server.prototype.emit = emit;
  });
  const fixture = await Fixture.start(t);
  const clients = 20;
  for (let i = 0; i < clients; i++) await fixture.agent(`upgrade-${i}`);
  await fixture.console();
  assert.equal(requests.length, clients + 1, 'one upgrade per client');
  // The requests' last users are done a turn or two after the handshake; collections then find them.
  let kept = clients + 1;
  for (let round = 0; round < 50 && kept > 0; round++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    kept = requests.filter((request) => request.deref() !== undefined).length;
  }
  assert.equal(kept, 0, `${kept} of ${clients + 1} upgrade requests still held by connected clients' state`);
});
