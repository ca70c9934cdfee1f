import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  HANDSHAKE_TIMEOUT_MS,
  MAX_INBOUND_BYTES_BEFORE_AUTH,
  MAX_QUEUED_OUTBOUND_BYTES,
  MAX_QUEUED_OUTBOUND_BYTES_BEFORE_AUTH,
  MAX_SIGNALING_PAYLOAD_BYTES,
} from '@tether/protocol';
import { ConnectionsPerAddress, InboundLimit, OutboundLimit } from '@tether/socket-bounds';
import { Server, type ExtendedError } from 'socket.io';
import { createAuthenticator } from './auth.js';
import { SingleNode, type Cluster, type ClusterEvents, type ClusterHealth } from './cluster.js';
import {
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  handshakesPerAddress,
  INBOUND_WORDS,
  OUTBOUND_WORDS,
  PER_ADDRESS_WORDS,
} from './connection-bounds.js';
import { Connections } from './connections.js';
import type { SignalingIo, SignalingSocket } from './io-types.js';
import { createJsonLogger, isLogLevel, moduleName, type Logger } from './log.js';
import { DeferredWork } from './deferred-work.js';
import { readDescriptorLimit } from './descriptor-limit.js';
import { LoadShedder, SHED_EVENT_LOOP_DELAY_MS, SHED_RETRY_AFTER_MS } from './load-shedder.js';
import { PresenceFeed } from './presence-feed.js';
import { RedisCluster, type RedisAdapterKind } from './redis-cluster.js';
import { Relay } from './relay.js';
import { RevocationList } from './revocations.js';
import { SerialQueues } from './serial-queues.js';
import { MIN_TOKEN_SECRET_LENGTH } from './tokens.js';
import { UpgradeGate } from './upgrade-gate.js';
import { deliverTurnCredentials, MAX_TURN_TTL_SECONDS, type TurnOptions } from './turn-credentials.js';

// Not `import { createServer } from 'node:http'`: on Node.js 22 and later an ES module import of
// node:http reads all of its exports, among them the lazy `WebSocket`, and so loads undici and
// node:http2, which a node never uses (agent/README.md, "Memory": the same in the agent).
const { createServer } = process.getBuiltinModule('node:http');

export interface SignalingServerOptions {
  /** TCP port; 0 picks a free one (tests). */
  port?: number;
  /** Address to listen on; '0.0.0.0' by default. */
  host?: string;
  /** Legacy shared secrets a console may present (organisation `default`). */
  consoleTokens?: readonly string[];
  /** Legacy shared secrets an agent may present (organisation `default`). */
  agentTokens?: readonly string[];
  /** HMAC secrets of signed tokens (`tst1.…`), each at least 32 characters; the first signs, all verify. */
  tokenSecrets?: readonly string[];
  /** JSON-lines file of revoked token ids; re-read whenever it changes. */
  revocationsFile?: string;
  /** Origins allowed to connect from a web page; '*' by default (tokens, not cookies, authenticate). */
  corsOrigins?: readonly string[] | '*';
  /** TURN servers whose time-limited credentials every authenticated client gets; none by default. */
  turn?: TurnOptions | undefined;
  /** Where logs go; by default JSON lines on stdout at the level in TETHER_LOG_LEVEL, else none. */
  logger?: Logger;
  /**
   * Redis shared by every node behind one address (`redis://…`); none: a single node, state in memory.
   * The server then refuses to start when Redis cannot be reached.
   */
  redisUrl?: string;
  /** Prefix of the cluster's Redis keys and channels; `tether:` by default. */
  redisPrefix?: string;
  /** How long a node that stopped heartbeating counts as alive; 5000 ms by default. */
  redisNodeTtlMs?: number;
  /** The Socket.IO Redis adapter (`sharded` by default: Redis 7; `classic` for older Redis). */
  redisAdapter?: RedisAdapterKind;
  /**
   * Connections one remote address may hold at once; more are refused with `connect_error`
   * RATE_LIMITED. 1024 by default; 0: no limit (behind a proxy that hides client addresses).
   */
  maxConnectionsPerAddress?: number;
  /**
   * The p90 of the event-loop delay over a second above which new connections are refused before
   * their upgrade (503, Retry-After); 200 ms by default (`SHED_EVENT_LOOP_DELAY_MS`), `Infinity`
   * never sheds (an in-process test whose clients share the node's event loop and do not retry).
   */
  shedEventLoopDelayMs?: number;
}

/** A running signaling server. */
export interface SignalingServer {
  /** Base URL for Socket.IO clients, e.g. `http://127.0.0.1:7300`. */
  url: string;
  port: number;
  /** Disconnects every client and stops listening. */
  close(): Promise<void>;
}

function defaultLogger(): Logger {
  const level = process.env['TETHER_LOG_LEVEL'];
  return createJsonLogger({ level: isLogLevel(level) ? level : 'silent' });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Socket.IO answers its own path; everything else is a health probe (503 while not ready) or a 404.
 * The probe is answered from memory, with no await, so that it answers while the node is busy.
 */
const healthHandler = (health: () => ClusterHealth) => (req: IncomingMessage, res: ServerResponse) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    const answer = health();
    res.writeHead(answer.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  } else {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  }
};

/** Longest a timer may wait in Node (about 24.8 days); a later expiry is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function checkTokenOptions(options: SignalingServerOptions): {
  consoleTokens: readonly string[];
  agentTokens: readonly string[];
  tokenSecrets: readonly string[];
} {
  const consoleTokens = options.consoleTokens ?? [];
  const agentTokens = options.agentTokens ?? [];
  const tokenSecrets = options.tokenSecrets ?? [];
  if (tokenSecrets.length === 0 && (consoleTokens.length === 0 || agentTokens.length === 0)) {
    throw new TypeError('startSignalingServer needs token secrets, or at least one console token and one agent token');
  }
  if ([...consoleTokens, ...agentTokens].some((token) => token.length === 0)) {
    throw new TypeError('startSignalingServer: tokens must not be empty');
  }
  if (tokenSecrets.some((secret) => secret.length < MIN_TOKEN_SECRET_LENGTH)) {
    throw new TypeError(`startSignalingServer: token secrets must have at least ${MIN_TOKEN_SECRET_LENGTH} characters`);
  }
  return { consoleTokens, agentTokens, tokenSecrets };
}

function checkTurnOptions(turn: TurnOptions | undefined): void {
  if (!turn) return;
  if (turn.urls.length === 0 || turn.urls.some((url) => !/^turns?:/i.test(url))) {
    throw new TypeError('startSignalingServer: turn.urls must be one or more turn: or turns: URLs');
  }
  if (turn.secret.length === 0) throw new TypeError('startSignalingServer: turn.secret must not be empty');
  if (!Number.isInteger(turn.ttlSeconds) || turn.ttlSeconds < 1 || turn.ttlSeconds > MAX_TURN_TTL_SECONDS) {
    throw new TypeError(`startSignalingServer: turn.ttlSeconds must be an integer from 1 to ${MAX_TURN_TTL_SECONDS}`);
  }
}

export async function startSignalingServer(options: SignalingServerOptions): Promise<SignalingServer> {
  const tokens = checkTokenOptions(options);
  checkTurnOptions(options.turn);
  const maxPerAddress = options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  if (!Number.isSafeInteger(maxPerAddress) || maxPerAddress < 0) {
    throw new TypeError('startSignalingServer: maxConnectionsPerAddress must be an integer, 0 or more');
  }
  const root = options.logger ?? defaultLogger();
  const log = root.child(moduleName(import.meta.url));
  const host = options.host ?? '0.0.0.0';
  // Logged under the names they had when they were files of this package.
  const perAddress = new ConnectionsPerAddress({
    limit: maxPerAddress,
    log: root.child(moduleName('address-limit.ts')),
    words: PER_ADDRESS_WORDS,
  });
  const outbound = new OutboundLimit({
    log: root.child(moduleName('outbound-limit.ts')),
    bounds: { handshake: MAX_QUEUED_OUTBOUND_BYTES_BEFORE_AUTH, admitted: MAX_QUEUED_OUTBOUND_BYTES },
    words: OUTBOUND_WORDS,
  });
  const inbound = new InboundLimit({
    log: root.child(moduleName('inbound-limit.ts')),
    handshake: { bytes: MAX_INBOUND_BYTES_BEFORE_AUTH, ms: HANDSHAKE_TIMEOUT_MS },
    handshakesPerAddress: handshakesPerAddress(maxPerAddress),
    words: INBOUND_WORDS,
  });

  const shedThreshold = options.shedEventLoopDelayMs ?? SHED_EVENT_LOOP_DELAY_MS;
  if (Number.isNaN(shedThreshold) || shedThreshold <= 0) {
    throw new TypeError('startSignalingServer: shedEventLoopDelayMs must be a number above 0 (Infinity: never shed)');
  }
  const shedder = new LoadShedder(shedThreshold);
  const descriptors = readDescriptorLimit();
  if (descriptors) {
    log.info('descriptor limit', { ...descriptors });
    if (descriptors.soft < descriptors.hard)
      log.warn('the limit on open files is below its hard limit; raise it (ulimit -n, LimitNOFILE=)', { ...descriptors });
  }
  /** One line a second at most for refusals that come in floods, with the count since the last. */
  const refusalLog = (msg: string) => {
    let count = 0;
    let at = Number.NEGATIVE_INFINITY;
    return (fields: Record<string, unknown>) => {
      count++;
      if (performance.now() - at < 1000) return;
      log.warn(msg, { ...fields, refused: count });
      at = performance.now();
      count = 0;
    };
  };
  const logFull = refusalLog('transport refused: at the descriptor limit');
  const logShed = refusalLog('connection refused: shedding load');

  let cluster: Cluster | undefined;
  const httpServer = createServer(
    healthHandler(() => ({
      ...(cluster?.health() ?? { ok: false, reason: 'starting' }),
      clients: io.engine.clientsCount,
      upgradesWaiting: gate.waiting,
      ...shedder.figures(),
    })),
  );
  const io: SignalingIo = new Server(httpServer, {
    maxHttpBufferSize: MAX_SIGNALING_PAYLOAD_BYTES,
    cors: { origin: options.corsOrigins === undefined || options.corsOrigins === '*' ? '*' : [...options.corsOrigins] },
    serveClient: false,
    // WebSocket only, as every Tether client connects (protocol/README.md): the outbound bound
    // counts what waits in the connection's one TCP socket, which long-polling does not have.
    transports: ['websocket'],
    // A node without Redis refuses the transport itself: Socket.IO clients then retry (through the
    // load balancer, to another node), where a refused handshake would make them give up.
    allowRequest: (req, callback) => {
      if (cluster?.ready === false) return callback('this signaling node has lost its Redis connection', false);
      if (descriptors && io.engine.clientsCount >= descriptors.maxClients) {
        // Refused while a descriptor is left, rather than failing to accept with nothing logged.
        logFull({ clients: io.engine.clientsCount, maxClients: descriptors.maxClients });
        return callback('this signaling node is at its limit of clients', false);
      }
      const refused = perAddress.refusedTransport(req) ?? inbound.refusedTransport(req);
      callback(refused ?? null, refused === undefined);
    },
  });
  // Admission before the upgrade: Engine.IO's own listener runs only for upgrades the gate lets
  // through, paced per turn of the event loop; a node that lags refuses with a cheap 503.
  const engineUpgrades = httpServer.listeners('upgrade') as ((...args: unknown[]) => void)[];
  httpServer.removeAllListeners('upgrade');
  const gate = new UpgradeGate(
    (req, socket, head) => {
      for (const listener of engineUpgrades) listener.call(httpServer, req, socket, head);
    },
    () =>
      shedder.overloaded
        ? { reason: 'this signaling node is busy; try again after Retry-After', retryAfterMs: SHED_RETRY_AFTER_MS }
        : undefined,
    (reason, waiting) => {
      shedder.shed();
      logShed({ reason, waiting, ...shedder.figures() });
    },
  );
  httpServer.on('upgrade', gate.upgrade);
  io.engine.on('connection', (conn: SignalingSocket['conn']) => {
    perAddress.transportOpened(conn);
    outbound.watch(conn);
    inbound.watch(conn);
    // The upgrade request and its buffers are not needed past this point (the bounds kept the TCP
    // socket, the handshake reads the address from the transport): released, as Socket.IO advises.
    (conn as { request: unknown }).request = null;
  });
  const queues = new SerialQueues();
  const state = () => {
    if (!cluster) throw new Error('the cluster is not started');
    return cluster.state;
  };
  const feed = new PresenceFeed(io);
  let closing = false;

  /** Ends a connection whose token stopped being valid; its negotiations end as on any disconnect. */
  const endSocket = (socket: SignalingSocket, message: string) => {
    log.warn('connection ended: token no longer valid', {
      socketId: socket.id,
      role: socket.data.identity.role,
      org: socket.data.identity.org,
      jti: socket.data.identity.jti,
      reason: message,
    });
    socket.emit('signal:error', { code: 'UNAUTHORIZED', message });
    socket.disconnect(true);
  };
  const events: ClusterEvents = {
    onPresence: (org, joins, leaves) => feed.apply(org, joins, leaves),
    onPresenceReset: (org, agents) => feed.reset(org, agents),
    onRevoked: (jtis) => {
      const set = new Set(jtis);
      for (const socket of io.sockets.sockets.values()) {
        const jti = socket.data.identity?.jti;
        if (jti !== undefined && set.has(jti)) endSocket(socket, `token ${jti} was revoked`);
      }
    },
    onLost: () => {
      // Its state can no longer be shared: its clients reconnect (through the load balancer) to a
      // node that still has Redis, rather than live on in a split brain. The transport is closed
      // without Socket.IO's disconnect packet, after which a client would not reconnect by itself.
      for (const socket of io.sockets.sockets.values()) socket.conn.close();
    },
  };
  try {
    cluster =
      options.redisUrl === undefined
        ? new SingleNode(events)
        : await RedisCluster.start(io, events, {
            url: options.redisUrl,
            prefix: options.redisPrefix,
            nodeTtlMs: options.redisNodeTtlMs,
            adapter: options.redisAdapter,
            logger: root,
          });
  } catch (cause) {
    shedder.close();
    await io.close().catch((error: unknown) => log.debug('socket.io close after a failed start', { error }));
    throw cause;
  }
  const joined = cluster;

  // A revocation read from the file is shared with every node; each ends its own connections.
  const revocations = RevocationList.open(options.revocationsFile, root.child(moduleName('revocations.ts')), (added) =>
    joined.shareRevocations(added),
  );
  if (!revocations.ok) {
    shedder.close();
    await joined.close();
    await io.close().catch((error: unknown) => log.debug('socket.io close after a failed start', { error }));
    throw new TypeError(`startSignalingServer: ${revocations.error}`);
  }
  const revoked = revocations.value;
  const authenticate = createAuthenticator({ ...tokens, isRevoked: (jti) => revoked.has(jti) || joined.isRevoked(jti) });
  const relay = new Relay(io, state, queues, root);
  const connectionsLog = root.child(moduleName('connections.ts'));
  const deferred = new DeferredWork((error) => connectionsLog.error('deferred cleanup failed', { error }));
  const connections = new Connections(
    io,
    () => joined,
    relay,
    queues,
    feed,
    connectionsLog,
    () => !closing && joined.ready,
    deferred,
  );

  /** A signed token's connection ends when the token expires. */
  const watchExpiry = (socket: SignalingSocket) => {
    const exp = socket.data.identity.exp;
    if (exp === undefined) return;
    let timer: NodeJS.Timeout;
    const arm = () => {
      // The token's expiry is a time on the wall clock, so it is measured against the wall clock.
      // eslint-disable-next-line no-restricted-syntax
      const left = exp * 1000 - Date.now();
      timer =
        left > MAX_TIMER_MS
          ? setTimeout(arm, MAX_TIMER_MS)
          : setTimeout(
              () => endSocket(socket, `the token expired at ${new Date(exp * 1000).toISOString()}; issue a new one`),
              Math.max(0, left),
            );
      timer.unref();
    };
    arm();
    socket.on('disconnect', () => clearTimeout(timer));
  };

  io.use(perAddress.middleware); // before authentication: a refused connection costs no token check
  io.use((socket, next) => {
    const outcome = authenticate(socket.handshake.auth);
    if (!outcome.ok) {
      log.warn('connection refused', { address: socket.handshake.address, reason: outcome.error.message });
      const error: ExtendedError = new Error(`UNAUTHORIZED: ${outcome.error.message}`);
      error.data = { code: 'UNAUTHORIZED', message: outcome.error.message };
      next(error);
      return;
    }
    socket.data.identity = outcome.value;
    next();
  });

  io.on('connection', (socket) => {
    const { role, org, jti } = socket.data.identity;
    outbound.admitted(socket, { socketId: socket.id, role, org, jti }); // admitted once authenticated
    inbound.admitted(socket);
    if (!joined.ready) {
      socket.conn.close(); // Redis was lost during the handshake
      return;
    }
    watchExpiry(socket);
    if (options.turn) deliverTurnCredentials(socket, options.turn, log);
    connections.accept(socket);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(options.port ?? 0, host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } catch (cause) {
    revoked.close();
    shedder.close();
    await joined.close();
    await io.close().catch((error: unknown) => log.debug('socket.io close after a failed listen', { error }));
    throw cause;
  }
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}`;

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      const httpClosed = new Promise<void>((resolve) => httpServer.once('close', () => resolve()));
      revoked.close();
      gate.close();
      await io.close();
      httpServer.closeAllConnections();
      await httpClosed;
      // The disconnects' cleanup still needs the shared state.
      await deferred.idle();
      await queues.idle();
      feed.close();
      shedder.close();
      await joined.close();
      log.info('signaling closed', { url });
    })();
    return closed;
  };
  return { url, port, close };
}
