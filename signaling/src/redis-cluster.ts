/**
 * Several signaling nodes sharing one Redis: the Socket.IO Redis adapter carries every emit to the
 * node that holds the target connection, `RedisState` holds presence and negotiations and publishes
 * each presence change (`RedisPresence` passes them on to this node's consoles), and each node
 * heartbeats a key with a short TTL so that the others can remove what a dead node left.
 */
import { randomBytes } from 'node:crypto';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import type { Cluster, ClusterEvents, ClusterHealth } from './cluster.js';
import type { SignalingIo } from './io-types.js';
import { moduleName, type Logger } from './log.js';
import { RedisPresence } from './redis-presence.js';
import { RedisState, redisKeys, type RedisKeys } from './redis-state.js';

/**
 * The Socket.IO Redis adapter: `sharded` (SPUBLISH/SSUBSCRIBE, Redis 7 or later; what Socket.IO
 * recommends for Redis 7) or `classic` (PUBLISH/PSUBSCRIBE, any Redis). docs/scale-out.md has the
 * measurements behind the default.
 */
export type RedisAdapterKind = 'sharded' | 'classic';
export const DEFAULT_REDIS_ADAPTER: RedisAdapterKind = 'sharded';

export interface RedisClusterOptions {
  /** `redis://[[user]:password@]host:port[/db]` or `rediss://…` */
  url: string;
  /** Prefix of every key and channel, so that one Redis can serve several clusters; `tether:` by default. */
  prefix?: string;
  /** A node is dead once it has not heartbeaten for this long; 5 s by default. */
  nodeTtlMs?: number;
  /** How long to wait for Redis at start before giving up; 10 s by default. */
  connectTimeoutMs?: number;
  /** The Socket.IO adapter; `DEFAULT_REDIS_ADAPTER` by default. */
  adapter?: RedisAdapterKind;
  logger: Logger;
}

export const DEFAULT_NODE_TTL_MS = 5000;
export const DEFAULT_REDIS_PREFIX = 'tether:';

const JtiList = z.array(z.string().min(1).max(64)).max(10_000);

/** Hides the password of a Redis URL for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable Redis URL)';
  }
}

const newNodeId = () => randomBytes(9).toString('base64url');

export class RedisCluster implements Cluster {
  /** Commands of the state: no offline queue, so that nothing is applied late after an outage. */
  readonly #store: Redis;
  /** The adapter's publisher and subscriber. */
  readonly #pub: Redis;
  readonly #sub: Redis;
  /** the subscriber of presence deltas (the adapter's subscriber is its own) */
  readonly #presenceSub: Redis;
  readonly #presence: RedisPresence;
  readonly #keys: RedisKeys;
  readonly #log: Logger;
  readonly #revoked = new Set<string>();
  readonly #nodeTtlMs: number;
  #nodeId = newNodeId();
  #state: RedisState;
  #ready = false;
  #lostReason: string | undefined = 'connecting';
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** true once the node first joined; from then on a lost connection is an outage */
  #started = false;
  #rejoining = false;
  #beating = false;
  /** the last connection error before the node joined, to say why the start failed */
  #startError: string | undefined;

  private constructor(
    private readonly io: SignalingIo,
    private readonly events: ClusterEvents,
    private readonly options: RedisClusterOptions,
  ) {
    this.#log = options.logger.child(moduleName(import.meta.url));
    this.#nodeTtlMs = options.nodeTtlMs ?? DEFAULT_NODE_TTL_MS;
    const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.#keys = redisKeys(prefix);
    const common: RedisOptions = {
      lazyConnect: true,
      connectionName: 'tether-signaling',
      retryStrategy: (times) => Math.min(times * 200, 2000),
    };
    this.#store = new Redis(options.url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    // The adapter's publishes wait for the connection rather than fail: a failed publish would be
    // an unhandled rejection inside the adapter. While they wait this node serves no one.
    this.#pub = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
    this.#sub = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
    this.#presenceSub = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
    this.#state = new RedisState(this.#store, this.#nodeId, prefix);
    this.#presence = new RedisPresence(this.#store, this.#presenceSub, this.#keys, events, this.#log);
    for (const client of this.#clients) {
      // Before the node has joined, a failure is the start's to report (it throws).
      client.on('error', (error: Error) => {
        if (this.#started) this.#lost(`Redis error: ${error.message}`);
        else this.#startError = error.message;
      });
      client.on('close', () => this.#started && this.#lost('the connection to Redis closed'));
      client.on('ready', () => this.#started && void this.#maybeRecovered());
    }
    io.on('tether:revoked', (jtis: unknown) => {
      const parsed = JtiList.safeParse(jtis);
      if (!parsed.success) return this.#log.warn('bad revocation notice from another node; dropped');
      this.#learnRevoked(parsed.data);
    });
  }

  get #clients(): Redis[] {
    return [this.#store, this.#pub, this.#sub, this.#presenceSub];
  }

  /** Connects to Redis (or throws after `connectTimeoutMs`), joins the cluster and starts heartbeating. */
  static async start(io: SignalingIo, events: ClusterEvents, options: RedisClusterOptions): Promise<RedisCluster> {
    const cluster = new RedisCluster(io, events, options);
    try {
      await cluster.#connect(options.connectTimeoutMs ?? 10_000);
    } catch (cause) {
      await cluster.close();
      const reason = cluster.#startError ?? (cause as Error).message;
      throw new Error(`cannot reach Redis at ${redactRedisUrl(options.url)}: ${reason}`, { cause });
    }
    return cluster;
  }

  async #connect(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all(this.#clients.map((client) => client.connect())), timeout]);
    } finally {
      clearTimeout(timer);
    }
    // Only now: the adapter subscribes at once, and a lazy client would connect on its own.
    const channel = `${this.options.prefix ?? DEFAULT_REDIS_PREFIX}socket.io`;
    this.io.adapter(
      (this.options.adapter ?? DEFAULT_REDIS_ADAPTER) === 'sharded'
        ? createShardedAdapter(this.#pub, this.#sub, { channelPrefix: channel })
        : createAdapter(this.#pub, this.#sub, { key: channel }),
    );
    await this.#presence.start();
    await this.#join();
    this.#started = true;
    this.#timer = setInterval(() => void this.#heartbeat(), Math.max(100, Math.floor(this.#nodeTtlMs / 5)));
    this.#timer.unref();
  }

  /** Registers this node (a new id after every outage) and loads the revocations others shared. */
  async #join(): Promise<void> {
    await this.#heartbeatOnce();
    for (const jti of await this.#store.smembers(this.#keys.revoked)) this.#revoked.add(jti);
    this.#ready = true;
    this.#lostReason = undefined;
    this.#log.info('joined the signaling cluster', { nodeId: this.#nodeId, redis: redactRedisUrl(this.options.url) });
  }

  #lost(reason: string): void {
    if (this.#closed || !this.#ready) return;
    this.#ready = false;
    this.#lostReason = reason;
    this.#log.error('lost Redis: this node refuses connections and ends its own until Redis is back', { nodeId: this.#nodeId, reason });
    this.events.onLost(reason);
  }

  async #maybeRecovered(): Promise<void> {
    if (this.#closed || this.#ready || this.#rejoining) return;
    if (!this.#clients.every((client) => client.status === 'ready')) return;
    this.#rejoining = true;
    // The old id's entries are swept by whichever node sees its heartbeat key expire, this one too.
    this.#nodeId = newNodeId();
    this.#state = new RedisState(this.#store, this.#nodeId, this.options.prefix ?? DEFAULT_REDIS_PREFIX);
    try {
      // Deltas published while this node was away are lost to it: read every list again.
      await this.#presence.reloadAll();
      await this.#join();
    } catch (error) {
      this.#log.error('could not rejoin the cluster after Redis came back; waiting for the next reconnection', { error });
    } finally {
      this.#rejoining = false;
    }
  }

  /** Refreshes this node's key; false when the node had been taken for dead (no longer registered). */
  async #heartbeatOnce(): Promise<boolean> {
    const replies = await this.#store
      .multi()
      .set(this.#keys.alive(this.#nodeId), '1', 'PX', this.#nodeTtlMs)
      .sadd(this.#keys.nodes, this.#nodeId)
      .exec();
    return replies?.[1]?.[1] === 0;
  }

  async #heartbeat(): Promise<void> {
    // One at a time: a slow sweep must not overlap the next.
    if (!this.#ready || this.#beating) return;
    this.#beating = true;
    try {
      if (!(await this.#heartbeatOnce())) {
        // This node stalled past its TTL and another swept it: its agents are no longer listed.
        // Its clients reconnect and register again, and the node rejoins under a new id.
        this.#lost(`this node was taken for dead (no heartbeat for ${this.#nodeTtlMs} ms) and swept`);
        await this.#maybeRecovered();
        return;
      }
      await this.#sweep();
    } catch (error) {
      this.#log.warn('heartbeat failed', { nodeId: this.#nodeId, error: (error as Error).message });
    } finally {
      this.#beating = false;
    }
  }

  /** Removes the nodes whose heartbeat key expired; the node whose SREM wins does the cleanup. */
  async #sweep(): Promise<void> {
    for (const nodeId of await this.#store.smembers(this.#keys.nodes)) {
      if (nodeId === this.#nodeId || (await this.#store.exists(this.#keys.alive(nodeId))) === 1) continue;
      if ((await this.#store.srem(this.#keys.nodes, nodeId)) !== 1) continue;
      const orgs = await this.#state.removeNode(nodeId);
      this.#log.warn('removed a dead signaling node', { deadNodeId: nodeId, nodeId: this.#nodeId, orgs: orgs.size });
    }
  }

  #learnRevoked(jtis: string[]): void {
    const added = jtis.filter((jti) => !this.#revoked.has(jti));
    for (const jti of added) this.#revoked.add(jti);
    if (added.length > 0) this.events.onRevoked(added);
  }

  get state(): RedisState {
    return this.#state;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  health(): ClusterHealth {
    return this.#ready ? { ok: true, redis: 'ready', nodeId: this.#nodeId } : { ok: false, redis: 'down', reason: this.#lostReason };
  }

  shareRevocations(jtis: string[]): void {
    if (jtis.length === 0) return;
    this.#learnRevoked(jtis);
    this.io.serverSideEmit('tether:revoked', jtis);
    this.#store.sadd(this.#keys.revoked, ...jtis).catch((error: unknown) => {
      this.#log.error('could not store revocations in Redis; nodes started later will not know them', { error });
    });
  }

  isRevoked(jti: string): boolean {
    return this.#revoked.has(jti);
  }

  async connectionOpened(socketId: string): Promise<void> {
    await this.#state.addSocket(socketId);
  }

  async connectionClosed(socketId: string): Promise<void> {
    await this.#state.removeSocket(socketId);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ready = false;
    clearInterval(this.#timer);
    this.#presence.close();
    if (this.#store.status === 'ready') {
      // Leave at once rather than wait for the TTL: the others sweep what this node held.
      await this.#store
        .del(this.#keys.alive(this.#nodeId))
        .catch((error: unknown) => this.#log.warn('could not leave the cluster', { error }));
    }
    for (const client of this.#clients) client.disconnect();
  }
}
