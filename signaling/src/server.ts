import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_SIGNALING_PAYLOAD_BYTES } from '@tether/protocol';
import { Server, type ExtendedError } from 'socket.io';
import { createAuthenticator } from './auth.js';
import { consolesRoom, type SignalingIo, type SignalingSocket } from './io-types.js';
import { createJsonLogger, isLogLevel, moduleName, type Logger } from './log.js';
import { AgentDirectory } from './presence.js';
import { Relay } from './relay.js';
import { RevocationList } from './revocations.js';
import { MIN_TOKEN_SECRET_LENGTH } from './tokens.js';
import { deliverTurnCredentials, MAX_TURN_TTL_SECONDS, type TurnOptions } from './turn-credentials.js';

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

function health(req: IncomingMessage, res: ServerResponse): void {
  // Socket.IO answers its own path; everything else is a health probe or a 404.
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  } else {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  }
}

/** Longest a timer may wait in Node (about 24.8 days); a later expiry is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function checkTokenOptions(options: SignalingServerOptions): { consoleTokens: readonly string[]; agentTokens: readonly string[]; tokenSecrets: readonly string[] } {
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
  const root = options.logger ?? defaultLogger();
  const log = root.child(moduleName(import.meta.url));
  const host = options.host ?? '0.0.0.0';
  // Set once io exists; a revocation read before then has no socket to end.
  let endRevoked: (jtis: string[]) => void = () => undefined;
  const revocations = RevocationList.open(options.revocationsFile, root.child(moduleName('revocations.ts')), (added) => endRevoked(added));
  if (!revocations.ok) throw new TypeError(`startSignalingServer: ${revocations.error}`);
  const revoked = revocations.value;
  const authenticate = createAuthenticator({ ...tokens, isRevoked: (jti) => revoked.has(jti) });

  const httpServer = createServer(health);
  const io: SignalingIo = new Server(httpServer, {
    maxHttpBufferSize: MAX_SIGNALING_PAYLOAD_BYTES,
    cors: { origin: options.corsOrigins === undefined || options.corsOrigins === '*' ? '*' : [...options.corsOrigins] },
    serveClient: false,
  });
  const agents = new AgentDirectory<SignalingSocket>();
  const relay = new Relay(io, agents, root);
  const broadcastPresence = (org: string) => io.to(consolesRoom(org)).emit('presence', { agents: agents.list(org) });
  /** Ends a connection whose token stopped being valid; its negotiations end as on any disconnect. */
  const endSocket = (socket: SignalingSocket, message: string) => {
    log.warn('connection ended: token no longer valid', { socketId: socket.id, role: socket.data.identity.role, org: socket.data.identity.org, jti: socket.data.identity.jti, reason: message });
    socket.emit('signal:error', { code: 'UNAUTHORIZED', message });
    socket.disconnect(true);
  };
  endRevoked = (jtis) => {
    const set = new Set(jtis);
    for (const socket of io.sockets.sockets.values()) {
      const jti = socket.data.identity?.jti;
      if (jti !== undefined && set.has(jti)) endSocket(socket, `token ${jti} was revoked`);
    }
  };
  /** A signed token's connection ends when the token expires. */
  const watchExpiry = (socket: SignalingSocket) => {
    const exp = socket.data.identity.exp;
    if (exp === undefined) return;
    let timer: NodeJS.Timeout;
    const arm = () => {
      const left = exp * 1000 - Date.now();
      timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(() => endSocket(socket, `the token expired at ${new Date(exp * 1000).toISOString()}; issue a new one`), Math.max(0, left));
      timer.unref();
    };
    arm();
    socket.on('disconnect', () => clearTimeout(timer));
  };

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
    const identity = socket.data.identity;
    const address = socket.handshake.address;
    const { org, jti } = identity;
    watchExpiry(socket);
    if (options.turn) deliverTurnCredentials(socket, options.turn, log);
    if (identity.role === 'console') {
      log.info('console connected', { socketId: socket.id, address, org, jti });
      void socket.join(consolesRoom(org));
      relay.attachConsole(socket);
      socket.emit('presence', { agents: agents.list(org) });
      socket.on('disconnect', (reason) => log.info('console disconnected', { socketId: socket.id, reason }));
      return;
    }
    const { agentId, name, version } = identity;
    relay.attachAgent(socket);
    socket.on('disconnect', (reason) => {
      const wasCurrent = agents.remove(socket, org, agentId);
      log.info('agent disconnected', { socketId: socket.id, agentId, org, reason });
      if (wasCurrent) broadcastPresence(org);
    });
    const replaced = agents.add(socket, org, { agentId, name, version });
    log.info('agent connected', { socketId: socket.id, agentId, name, version, address, org, jti });
    if (replaced) {
      log.warn('agent replaced by a newer connection', { agentId, oldSocketId: replaced.id, socketId: socket.id });
      replaced.emit('signal:error', {
        code: 'FORBIDDEN',
        message: `a newer connection with agentId ${agentId} replaced this one`,
      });
      replaced.disconnect(true);
    }
    broadcastPresence(org);
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
    await io.close().catch((error: unknown) => log.debug('socket.io close after a failed listen', { error }));
    throw cause;
  }
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => httpServer.once('close', () => resolve()));
      revoked.close();
      await io.close();
      httpServer.closeAllConnections();
      await closed;
      log.info('signaling closed', { url });
    })();
    return closing;
  };
  return { url, port, close };
}
