/**
 * The agent's own signaling endpoint for the LAN (`--lan-listen host:port`): a Socket.IO server
 * speaking the cloud's `webrtc:*` events, plus `lan:hello`, `pair:enroll` and `lan:auth`
 * (protocol/README.md, "LAN endpoint"). Only enrolled, authenticated consoles may offer; pairing
 * attempts are rate-limited per address and in total.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket as TcpSocket } from 'node:net';
import { Server, type Socket } from 'socket.io';
import {
  Disconnect,
  err,
  HANDSHAKE_TIMEOUT_MS,
  Ice,
  LanAuth,
  lanAuthInput,
  MAX_INBOUND_BYTES_BEFORE_AUTH,
  LAN_HEADERS_TIMEOUT_MS,
  MAX_LAN_CONNECTIONS_PER_ADDRESS,
  MAX_LAN_QUEUED_OUTBOUND_BYTES,
  MAX_LAN_TCP_CONNECTIONS,
  MAX_LAN_TCP_PER_ADDRESS,
  MAX_SIGNALING_PAYLOAD_BYTES,
  ok,
  OfferToServer,
  PairEnroll,
  parseValue,
  protocolError,
  SIGNALING_MESSAGE_BURST,
  SIGNALING_MESSAGES_PER_SECOND,
  toBase64Url,
  type ConsoleToLanEvents,
  type LanAuthAck,
  type LanToConsoleEvents,
  type PairedAgent,
  type ProtocolError,
  type Result,
} from '@tether/protocol';
import { ConnectionsPerAddress, InboundLimit, OutboundLimit, type EngineConnection } from '@tether/socket-bounds';
import type { AuditLog } from './audit.js';
import type { AgentIdentity } from './control-channel.js';
import { createLogger } from './log.js';
import type { Negotiator, SignalingPort } from './negotiator.js';
import { consoleIdFor, verifyConsoleSignature, type ConsoleRegistry, type EnrolledConsole } from './trust/consoles.js';
import type { AgentKeys } from './trust/identity.js';
import type { PairingStore } from './trust/pairings.js';
import { AttemptLimiter } from './trust/attempt-limiter.js';
import { TokenBucket } from './rate-limit.js';

// Not `import … from 'node:http'`: on Node 22 and later an ES module import of node:http reads all
// of its exports, among them the lazy `WebSocket`, `CloseEvent` and `MessageEvent`, and so loads
// undici and node:http2 into the agent, which uses neither (some 13 MB in an empty process;
// agent/README.md, "Memory"). `require` and this do not.
const { createServer } = process.getBuiltinModule('node:http');

const log = createLogger(import.meta.url);

type LanSocket = Socket<ConsoleToLanEvents, LanToConsoleEvents>;

/** The events a console may send; anything else is answered with BAD_MESSAGE. */
export const LAN_EVENTS: readonly string[] = ['pair:enroll', 'lan:auth', 'webrtc:offer', 'webrtc:ice', 'webrtc:disconnect'];

/** Answers one message through its ack callback when it has one, else (failures only) with `signal:error`. */
function answer(socket: LanSocket, ack: unknown, outcome: Result<unknown>): void {
  if (typeof ack === 'function')
    (ack as (r: unknown) => void)(outcome.ok ? (outcome.value ?? { ok: true }) : { ok: false, error: outcome.error });
  else if (!outcome.ok) socket.emit('signal:error', outcome.error);
}

/** Refuses, before any handler, events a console may not send and messages over the connection's rate. */
function guardInbound(socket: LanSocket): void {
  const bucket = new TokenBucket(SIGNALING_MESSAGES_PER_SECOND, SIGNALING_MESSAGE_BURST);
  let excess = 0;
  socket.use((packet, next) => {
    // socket.io-parser lets numbers through as event names: never trust the type.
    const [rawEvent, ...args] = packet as unknown[];
    const ack = typeof args.at(-1) === 'function' ? args.at(-1) : undefined;
    const event = String(rawEvent).slice(0, 64);
    if (!bucket.take()) {
      if (excess++ % SIGNALING_MESSAGES_PER_SECOND === 0) log.warn('lan messages over the rate', { connection: socket.id, event, excess });
      answer(socket, ack, err(protocolError('RATE_LIMITED', 'too many messages; slow down')));
      return;
    }
    if (typeof rawEvent !== 'string' || !LAN_EVENTS.includes(rawEvent)) {
      log.info('unknown lan event refused', { connection: socket.id, event });
      answer(socket, ack, err(protocolError('BAD_MESSAGE', `a console may not send event ${JSON.stringify(event)}`)));
      return;
    }
    next();
  });
}

export interface LanEndpointOptions {
  listen: string;
  identity: AgentIdentity;
  keys: AgentKeys;
  consoles: ConsoleRegistry;
  pairings: PairingStore;
  negotiator: Negotiator;
  audit: AuditLog;
}

function splitHostPort(endpoint: string): { host: string; port: number } {
  const at = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(endpoint.slice(at + 1)) };
}

export class LanEndpoint {
  // Headers within LAN_HEADERS_TIMEOUT_MS, checked every second: a request that never finishes
  // its headers holds a file descriptor (Node's defaults: 60 s, checked every 30 s).
  private readonly http = createServer({ headersTimeout: LAN_HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, (_req, res) =>
    res.writeHead(404).end(),
  );
  /** TCP connections open per remote address (MAX_LAN_TCP_PER_ADDRESS) */
  private readonly tcpPerAddress = new Map<string, number>();
  private readonly tcpRefusedNotice = new TokenBucket(1 / 10, 1);
  private readonly io: Server<ConsoleToLanEvents, LanToConsoleEvents>;
  private readonly limiter = new AttemptLimiter();
  // Their loggers keep the names they had when they were files of the agent.
  private readonly perAddress = new ConnectionsPerAddress({
    limit: MAX_LAN_CONNECTIONS_PER_ADDRESS,
    log: createLogger('address-limit'),
    words: {
      transportRefused: 'lan transport refused: too many connections from one address',
      connectionRefused: 'lan connection refused',
      refusal: (address, limit) => `too many connections from ${address} to this agent (at most ${limit}); close some`,
    },
  });
  // One bound: a console is admitted before it authenticates (lan:auth), so admission changes nothing.
  private readonly outbound = new OutboundLimit({
    log: createLogger('outbound-limit'),
    bounds: { handshake: MAX_LAN_QUEUED_OUTBOUND_BYTES, admitted: MAX_LAN_QUEUED_OUTBOUND_BYTES },
    words: { closed: 'lan transport closed', ended: 'lan connection ended: it does not read what the agent sends' },
  });
  // Binary packets end a transport at any time: a console is admitted before it authenticates.
  private readonly inbound = new InboundLimit({
    log: createLogger('inbound-limit'),
    handshake: { bytes: MAX_INBOUND_BYTES_BEFORE_AUTH, ms: HANDSHAKE_TIMEOUT_MS },
    handshakesPerAddress: MAX_LAN_CONNECTIONS_PER_ADDRESS,
    words: {
      ended: 'lan transport ended: it sent what the agent does not hold',
      refused: 'lan transport refused: too many handshakes from one address',
    },
  });

  constructor(private readonly options: LanEndpointOptions) {
    // Bounded before any byte is read: Socket.IO's bounds count its transports, not the TCP
    // connections under them, and an HTTP request left unfinished never becomes a transport.
    this.http.maxConnections = MAX_LAN_TCP_CONNECTIONS;
    this.http.on('connection', (socket: TcpSocket) => this.countTcp(socket));
    this.io = new Server(this.http, {
      maxHttpBufferSize: MAX_SIGNALING_PAYLOAD_BYTES,
      serveClient: false,
      cors: { origin: '*' },
      // WebSocket only, as the console connects: the outbound bound counts what waits in the
      // connection's one TCP socket, which long-polling does not have.
      transports: ['websocket'],
      allowRequest: (req, callback) => {
        const refused = this.perAddress.refusedTransport(req) ?? this.inbound.refusedTransport(req);
        callback(refused ?? null, refused === undefined);
      },
    });
    this.io.engine.on('connection', (conn: EngineConnection) => {
      this.perAddress.transportOpened(conn);
      this.outbound.watch(conn);
      this.inbound.watch(conn);
    });
    this.io.use(this.perAddress.middleware);
    this.io.on('connection', (socket) => this.connected(socket));
  }

  async listen(): Promise<{ host: string; port: number }> {
    const { host, port } = splitHostPort(this.options.listen);
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => resolve());
    });
    const address = this.http.address() as AddressInfo;
    log.info('lan endpoint listening', { host, port: address.port });
    return { host, port: address.port };
  }

  private countTcp(socket: TcpSocket): void {
    const address = socket.remoteAddress ?? '?';
    const open = (this.tcpPerAddress.get(address) ?? 0) + 1;
    if (open > MAX_LAN_TCP_PER_ADDRESS) {
      if (this.tcpRefusedNotice.take())
        log.warn('lan connection closed: too many from one address', { address, limit: MAX_LAN_TCP_PER_ADDRESS });
      socket.destroy();
      return;
    }
    this.tcpPerAddress.set(address, open);
    socket.once('close', () => {
      const left = (this.tcpPerAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.tcpPerAddress.delete(address);
      else this.tcpPerAddress.set(address, left);
    });
  }

  private agentInfo(): PairedAgent {
    const { identity, keys } = this.options;
    return {
      agentId: identity.id,
      name: identity.name,
      version: identity.version,
      fingerprint: keys.fingerprint,
      certificate: toBase64Url(keys.certificateDer),
      publicKey: keys.publicKey,
    };
  }

  private connected(socket: LanSocket): void {
    this.outbound.admitted(socket, { connection: socket.id });
    this.inbound.admitted(socket);
    const nonce = toBase64Url(randomBytes(16));
    const address = socket.handshake.address;
    let console: EnrolledConsole | undefined;
    const port: SignalingPort = {
      path: 'lan',
      sendAnswer: async (answer) => (socket.emit('webrtc:answer', answer), ok(undefined)),
      sendIce: async (ice) => (socket.emit('webrtc:ice', ice), ok(undefined)),
      sendDisconnect: async (message) => (socket.emit('webrtc:disconnect', message), ok(undefined)),
    };
    const who = () => ({ path: 'lan', connection: socket.id, address, consoleId: console?.id, consoleName: console?.name });
    const reply = (ack: unknown, outcome: Result<unknown>) => answer(socket, ack, outcome);
    guardInbound(socket);
    const authed = (): Result<EnrolledConsole> => {
      const current = console && this.options.consoles.byId(console.id);
      if (!current || current.revokedAt) return err(protocolError('NOT_PAIRED', 'authenticate with lan:auth (or pair:enroll) first'));
      return ok(current);
    };

    // One identity per connection: the nonce of `lan:hello` is this connection's, and once it has
    // authenticated (or enrolled) it stays that console; another identity needs a new connection.
    const once = (): Result<void> =>
      console
        ? err(
            protocolError(
              'BAD_MESSAGE',
              `this connection is already authenticated as console ${console.id}; open a new connection for another`,
            ),
          )
        : ok(undefined);
    socket.on('pair:enroll', (raw: unknown, ack: unknown) => {
      const fresh = once();
      reply(ack, fresh.ok ? this.enroll(raw, address, (c) => (console = c)) : fresh);
    });
    socket.on('lan:auth', (raw: unknown, ack: unknown) => {
      const fresh = once();
      if (!fresh.ok) return reply(ack, fresh);
      const outcome = this.authenticate(raw, nonce, address);
      if (outcome.ok) console = outcome.value.console;
      reply(ack, outcome.ok ? ok(outcome.value.ack) : outcome);
    });
    socket.on('webrtc:offer', (raw: unknown, ack: unknown) => {
      const offer = parseValue(OfferToServer, raw);
      if (!offer.ok) return reply(ack, offer);
      const current = authed();
      if (!current.ok) return reply(ack, current);
      if (offer.value.agentId !== this.options.identity.id)
        return reply(ack, err(protocolError('AGENT_OFFLINE', `this endpoint is agent ${this.options.identity.id}`)));
      reply(ack, ok(undefined));
      void this.options.negotiator.offer(
        { sessionId: offer.value.sessionId, consoleId: socket.id, sdp: offer.value.sdp },
        { port, authenticatedConsole: current.value },
      );
    });
    socket.on('webrtc:ice', (raw: unknown, ack: unknown) => {
      const ice = parseValue(Ice, raw);
      if (!ice.ok) return reply(ack, ice);
      const current = authed();
      if (!current.ok) return reply(ack, current);
      reply(ack, this.options.negotiator.remoteIce(port, ice.value));
    });
    socket.on('webrtc:disconnect', (raw: unknown, ack: unknown) => {
      const message = parseValue(Disconnect, raw);
      if (!message.ok) return reply(ack, message);
      const current = authed();
      if (!current.ok) return reply(ack, current);
      void this.options.negotiator.remoteDisconnect(port, message.value);
      reply(ack, ok(undefined));
    });
    socket.on('disconnect', () => log.debug('lan console disconnected', who()));
    socket.emit('lan:hello', {
      agentId: this.options.identity.id,
      name: this.options.identity.name,
      version: this.options.identity.version,
      nonce,
    });
  }

  private limited(address: string, identity: string): ProtocolError | undefined {
    return this.limiter.allow(address, identity)
      ? undefined
      : protocolError('RATE_LIMITED', 'too many failed attempts from this address; wait a minute');
  }

  /** The identity an attempt claims, for the limiter: the pairing it spends, or the console it names. */
  private static claimed(raw: unknown, field: 'pairingId' | 'consoleId'): string {
    const value = raw && typeof raw === 'object' ? (raw as Record<string, unknown>)[field] : undefined;
    return `${field}:${typeof value === 'string' ? value.slice(0, 64) : '?'}`;
  }

  private enroll(raw: unknown, address: string, onEnrolled: (c: EnrolledConsole) => void): Result<LanAuthAck> {
    const audit = (event: 'pairing.enrolled' | 'pairing.refused', fields: Record<string, unknown>) =>
      this.options.audit.record(event, { path: 'lan', address, ...fields });
    const identity = LanEndpoint.claimed(raw, 'pairingId');
    const limited = this.limited(address, identity);
    if (limited) {
      this.options.audit.refusal('pairing.refused', { path: 'lan', address, code: limited.code });
      return err(limited);
    }
    const request = parseValue(PairEnroll, raw);
    if (!request.ok) return request;
    const consoleId = consoleIdFor(request.value.publicKey);
    // The token first: what else is enrolled (below) is told only to whoever holds a valid one, or
    // the answer would say to anyone on the LAN which certificates this agent knows.
    const valid = this.options.pairings.check(this.options.identity.id, request.value);
    if (!valid.ok) return this.pairingRefused(address, identity, request.value, valid.error);
    const holder = this.options.consoles.fingerprintHolder(request.value.fingerprint, request.value.publicKey);
    if (holder) {
      // Checked before the token is spent: the holder of a valid token can pair again with its own certificate.
      const error = protocolError(
        'PAIRING_INVALID',
        'this DTLS certificate is already enrolled for another console; the console must use a certificate of its own',
      );
      audit('pairing.refused', {
        code: error.code,
        pairingId: request.value.pairingId,
        fingerprint: request.value.fingerprint,
        holder: holder.id,
      });
      return err(error);
    }
    const spent = this.options.pairings.spend(this.options.identity.id, request.value, consoleId);
    if (!spent.ok) return this.pairingRefused(address, identity, request.value, spent.error);
    const enrolled = this.options.consoles.enroll({
      name: request.value.consoleName,
      publicKey: request.value.publicKey,
      fingerprint: request.value.fingerprint,
    });
    if (!enrolled.ok) return err(protocolError('INTERNAL', enrolled.error));
    log.info('console paired', { consoleId: enrolled.value.id, name: enrolled.value.name, address });
    audit('pairing.enrolled', {
      consoleId: enrolled.value.id,
      consoleName: enrolled.value.name,
      fingerprint: enrolled.value.fingerprint,
      pairingId: request.value.pairingId,
    });
    onEnrolled(enrolled.value);
    // Unpaired consoles connected before this pairing are ended now, not at the next poll of consoles.json.
    void this.options.negotiator.closeUntrusted();
    return ok({ ok: true, consoleId: enrolled.value.id, agent: this.agentInfo() });
  }

  /** A pairing attempt that does not hold a valid token: counted against its address, audited (within the refusal budget). */
  private pairingRefused(address: string, identity: string, request: PairEnroll, error: ProtocolError): Result<LanAuthAck> {
    this.limiter.failed(address, identity);
    log.warn('pairing refused', { address, code: error.code, pairingId: request.pairingId });
    this.options.audit.refusal('pairing.refused', {
      path: 'lan',
      address,
      code: error.code,
      pairingId: request.pairingId,
      fingerprint: request.fingerprint,
      consoleName: request.consoleName,
    });
    return err(error);
  }

  private authenticate(raw: unknown, nonce: string, address: string): Result<{ console: EnrolledConsole; ack: LanAuthAck }> {
    const identity = LanEndpoint.claimed(raw, 'consoleId');
    const limited = this.limited(address, identity);
    if (limited) return err(limited);
    const request = parseValue(LanAuth, raw);
    if (!request.ok) return request;
    const known = this.options.consoles.byId(request.value.consoleId);
    const input = lanAuthInput({ agentId: this.options.identity.id, consoleId: request.value.consoleId, nonce });
    if (!known || known.revokedAt || !verifyConsoleSignature(known.publicKey, input, request.value.signature)) {
      this.limiter.failed(address, identity);
      // The audit says which; the answer does not tell an enrolled id from an unknown one (an
      // oracle for which consoles this agent knows), and what to do is the same: pair again.
      const why = !known
        ? 'this console is not enrolled with the agent'
        : known.revokedAt
          ? 'this console was revoked on the agent'
          : "the signature does not verify with this console's enrolled key (another key, or not over this connection's nonce)";
      const error = protocolError(
        'NOT_PAIRED',
        known?.revokedAt ? why : 'this console is not enrolled with the agent, or its signature does not verify',
      );
      this.options.audit.refusal('console.refused', {
        path: 'lan',
        address,
        consoleId: request.value.consoleId,
        code: error.code,
        reason: why,
      });
      return err(error);
    }
    return ok({ console: known, ack: { ok: true, consoleId: known.id, agent: this.agentInfo() } });
  }

  async close(): Promise<void> {
    await this.io.close();
    this.http.closeAllConnections();
  }
}
