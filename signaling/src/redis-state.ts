import { AgentInfo } from '@tether/protocol';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Negotiation } from './negotiations.js';
import type { Connection, SignalingState } from './state.js';

/** A negotiation record outlives its last offer by this long at most (its ends normally delete it). */
export const NEGOTIATION_TTL_S = 24 * 60 * 60;

/** The keys every node uses; all start with the prefix, so that one Redis may serve several clusters. */
export function redisKeys(prefix: string) {
  return {
    /** hash agentId → AgentEntry, the agents of one organisation on every node */
    agents: (org: string) => `${prefix}agents:${org}`,
    /** the number of presence changes an organisation has had: each published delta's `rev` */
    presenceRev: (org: string) => `${prefix}presence-rev:${org}`,
    /** the channel every presence change is published on, with its organisation and rev (redis-presence.ts) */
    presenceChannel: `${prefix}presence`,
    /** set of node ids that have registered; a member whose `alive` key expired is dead */
    nodes: `${prefix}nodes`,
    /** exists while the node heartbeats (a TTL of a few seconds) */
    alive: (nodeId: string) => `${prefix}node:${nodeId}`,
    /** set of JSON [org, agentId, socketId]: the agent connections a node registered */
    nodeAgents: (nodeId: string) => `${prefix}node-agents:${nodeId}`,
    /** set of the socket ids a node holds, console or agent */
    nodeSockets: (nodeId: string) => `${prefix}node-sockets:${nodeId}`,
    negotiation: (sessionId: string) => `${prefix}neg:${sessionId}`,
    byConsole: (socketId: string) => `${prefix}neg-console:${socketId}`,
    byAgentSocket: (socketId: string) => `${prefix}neg-agent:${socketId}`,
    /** set of revoked token ids, as every node learnt them */
    revoked: `${prefix}revoked`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/** What a node stores for one agent connection. Parsed on read: another node wrote it. */
export const AgentEntry = z.object({ socketId: z.string(), nodeId: z.string(), info: AgentInfo });
export type AgentEntry = z.infer<typeof AgentEntry>;

/** A member of a node's agents set: [org, agentId, socketId]. Made once: a zod schema costs far more to build than to use. */
const NodeAgentMember = z.tuple([z.string(), z.string(), z.string()]);

const NegotiationRecord = z.object({
  sessionId: z.string(),
  consoleSocketId: z.string(),
  agentId: z.string(),
  agentSocketId: z.string(),
  consoleOwner: z.string().optional(),
});

/**
 * HGET then HSET in one step: two nodes registering the same agentId at once both see a truth. The
 * change is published in the same step, with the organisation's next rev, so that every node gets
 * the changes in the order Redis applied them (ARGV[4] the channel, ARGV[5] the org as JSON, ARGV[6]
 * the AgentInfo as JSON).
 */
const ADD_AGENT = `
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
local rev = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[4], '{"org":' .. ARGV[5] .. ',"rev":' .. rev .. ',"joins":[' .. ARGV[6] .. '],"leaves":[]}')
return previous`;

/** What REMOVE_AGENTS and TAKE_ALL answer: parsed, as any reply, before it is trusted. */
const RemovedReply = z.array(z.union([z.literal(0), z.literal(1)]));
const TakenReply = z.array(z.array(z.string()));

/** At most this many departures in one step of REMOVE_AGENTS (and leaves in one published delta). */
export const MAX_DEPARTURES_PER_STEP = 256;

/**
 * Removes the agent entries of many connections of one node in one step, each only if its
 * connection still holds it, and publishes the departures: KEYS[1] the node's agents, then per
 * departure its organisation's agents hash and rev (KEYS[2i], KEYS[2i+1]); ARGV[1] the channel,
 * then per departure agentId, socketId, the node's member and the org as JSON. One delta per
 * organisation carries all of its leaves. Returns 1 or 0 per departure, in order.
 */
const REMOVE_AGENTS = `
local results, orgs, leaves, revs = {}, {}, {}, {}
for i = 0, (#ARGV - 1) / 4 - 1 do
  local agents, agentId, socketId, org = KEYS[2 + 2 * i], ARGV[2 + 4 * i], ARGV[3 + 4 * i], ARGV[5 + 4 * i]
  redis.call('SREM', KEYS[1], ARGV[4 + 4 * i])
  local current = redis.call('HGET', agents, agentId)
  if current and cjson.decode(current).socketId == socketId then
    redis.call('HDEL', agents, agentId)
    if not leaves[org] then
      leaves[org] = {}
      revs[org] = KEYS[3 + 2 * i]
      orgs[#orgs + 1] = org
    end
    table.insert(leaves[org], cjson.encode(agentId))
    results[i + 1] = 1
  else
    results[i + 1] = 0
  end
end
for _, org in ipairs(orgs) do
  local rev = redis.call('INCR', revs[org])
  redis.call('PUBLISH', ARGV[1], '{"org":' .. org .. ',"rev":' .. rev .. ',"joins":[],"leaves":[' .. table.concat(leaves[org], ',') .. ']}')
end
return results`;

interface Departure {
  org: string;
  agentId: string;
  socketId: string;
}

interface Waiting<Request, Result> {
  request: Request;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * Requests made in one turn of the event loop, sent to Redis together, at most
 * MAX_DEPARTURES_PER_STEP per step: when thousands of connections close at once, each step of
 * their cleanup (the agent's entry, its negotiations, the node's record of the socket) is one round
 * trip per 256 of them instead of one each. Each caller gets its own result, or the step's error.
 */
class TurnBatch<Request, Result> {
  #waiting: Waiting<Request, Result>[] = [];

  constructor(private readonly step: (requests: Request[]) => Promise<Result[]>) {}

  ask(request: Request): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ request, resolve, reject });
      if (this.#waiting.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const all = this.#waiting.splice(0);
    for (let i = 0; i < all.length; i += MAX_DEPARTURES_PER_STEP) void this.#run(all.slice(i, i + MAX_DEPARTURES_PER_STEP));
  }

  async #run(batch: Waiting<Request, Result>[]): Promise<void> {
    try {
      const results = await this.step(batch.map((b) => b.request));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }
}

/**
 * TAKE_NEGOTIATION for every negotiation of many connections, in one step: KEYS the connections'
 * index sets; ARGV[1] the prefix of a negotiation's key, ARGV[2] and ARGV[3] those of the index
 * sets by console and by agent connection, ARGV[4] the end the connections are, then one socket id
 * per index set. Each index set is deleted; returns, per connection, the records taken.
 */
const TAKE_ALL = `
local results = {}
for i, index in ipairs(KEYS) do
  local taken = {}
  for _, sessionId in ipairs(redis.call('SMEMBERS', index)) do
    local key = ARGV[1] .. sessionId
    local current = redis.call('GET', key)
    if current then
      local n = cjson.decode(current)
      if n[ARGV[4]] == ARGV[4 + i] then
        redis.call('DEL', key)
        redis.call('SREM', ARGV[2] .. n.consoleSocketId, n.sessionId)
        redis.call('SREM', ARGV[3] .. n.agentSocketId, n.sessionId)
        taken[#taken + 1] = current
      end
    end
  end
  redis.call('DEL', index)
  results[i] = taken
end
return results`;

/** Deletes a negotiation only if the connection named still is the given end of it. */
const TAKE_NEGOTIATION = `
local current = redis.call('GET', KEYS[1])
if not current then return false end
local n = cjson.decode(current)
if n[ARGV[1]] ~= ARGV[2] then return false end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2] .. n.consoleSocketId, n.sessionId)
redis.call('SREM', KEYS[3] .. n.agentSocketId, n.sessionId)
return current`;

function parseJson<T>(schema: z.ZodType<T>, text: string | null | undefined): T | undefined {
  if (text === null || text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The shared state in Redis. Each agent entry names the node that holds the connection, so that
 * the entries of a node that died can be found and removed (`removeNode`). Commands fail at once
 * while Redis is unreachable (the client has no offline queue): a message is then refused, never
 * applied late.
 */
export class RedisState implements SignalingState {
  readonly #keys: RedisKeys;
  readonly #departures = new TurnBatch<Departure, boolean>((departures) => this.#removeAgents(departures));
  readonly #consolesGone = new TurnBatch<string, Negotiation[]>((ids) => this.#takeAll('consoleSocketId', ids));
  readonly #agentSocketsGone = new TurnBatch<string, Negotiation[]>((ids) => this.#takeAll('agentSocketId', ids));
  readonly #socketsGone = new TurnBatch<string, void>(async (ids) => {
    await this.redis.srem(this.#keys.nodeSockets(this.nodeId), ...ids);
    return ids.map(() => undefined);
  });

  constructor(
    private readonly redis: Redis,
    private readonly nodeId: string,
    prefix: string,
  ) {
    this.#keys = redisKeys(prefix);
  }

  async addAgent(connection: Connection, org: string, info: AgentInfo): Promise<Connection | undefined> {
    const entry: AgentEntry = { socketId: connection.id, nodeId: this.nodeId, info };
    const previous = (await this.redis.eval(
      ADD_AGENT,
      3,
      this.#keys.agents(org),
      this.#keys.nodeAgents(this.nodeId),
      this.#keys.presenceRev(org),
      info.agentId,
      JSON.stringify(entry),
      JSON.stringify([org, info.agentId, connection.id]),
      this.#keys.presenceChannel,
      JSON.stringify(org),
      JSON.stringify(info),
    )) as string | null;
    const old = parseJson(AgentEntry, previous);
    return old && old.socketId !== connection.id ? { id: old.socketId } : undefined;
  }

  /**
   * Departures asked for in one turn go to Redis in one step (`REMOVE_AGENTS`): when thousands of
   * agents leave at once, each node then handles one delta per organisation and step instead of
   * one per agent.
   */
  removeAgent(connection: Connection, org: string, agentId: string): Promise<boolean> {
    return this.#departures.ask({ org, agentId, socketId: connection.id });
  }

  /** The departures of `nodeId`'s connections (this node's unless a dead one is swept), in one step. */
  async #removeAgents(departures: Departure[], nodeId = this.nodeId): Promise<boolean[]> {
    const keys = [this.#keys.nodeAgents(nodeId)];
    const args = [this.#keys.presenceChannel];
    for (const { org, agentId, socketId } of departures) {
      keys.push(this.#keys.agents(org), this.#keys.presenceRev(org));
      args.push(agentId, socketId, JSON.stringify([org, agentId, socketId]), JSON.stringify(org));
    }
    const removed = RemovedReply.parse(await this.redis.eval(REMOVE_AGENTS, keys.length, ...keys, ...args));
    if (removed.length !== departures.length)
      throw new Error(`REMOVE_AGENTS answered ${removed.length} of ${departures.length} departures`);
    return removed.map((r) => r === 1);
  }

  async agentConnection(org: string, agentId: string): Promise<Connection | undefined> {
    const entry = parseJson(AgentEntry, await this.redis.hget(this.#keys.agents(org), agentId));
    if (!entry) return undefined;
    // An entry of a node that stopped heartbeating, not yet swept: its connection is gone.
    return (await this.#aliveNodes([entry.nodeId])).has(entry.nodeId) ? { id: entry.socketId } : undefined;
  }

  /** The nodes among `nodeIds` whose heartbeat key has not expired. */
  async #aliveNodes(nodeIds: string[]): Promise<Set<string>> {
    if (nodeIds.length === 0) return new Set();
    const keys = await this.redis.mget(...nodeIds.map((nodeId) => this.#keys.alive(nodeId)));
    return new Set(nodeIds.filter((_, i) => keys[i] !== null));
  }

  async negotiation(sessionId: string): Promise<Negotiation | undefined> {
    return parseJson(NegotiationRecord, await this.redis.get(this.#keys.negotiation(sessionId)));
  }

  async countForConsole(consoleSocketId: string): Promise<number> {
    return this.redis.scard(this.#keys.byConsole(consoleSocketId));
  }

  async saveNegotiation(negotiation: Negotiation, previous: Negotiation | undefined): Promise<boolean> {
    const key = this.#keys.negotiation(negotiation.sessionId);
    const value = JSON.stringify(negotiation);
    const saved =
      previous === undefined
        ? await this.redis.set(key, value, 'EX', NEGOTIATION_TTL_S, 'NX')
        : await this.redis.set(key, value, 'EX', NEGOTIATION_TTL_S);
    if (saved !== 'OK') return false;
    const pipeline = this.redis.multi();
    if (previous && previous.consoleSocketId !== negotiation.consoleSocketId) {
      pipeline.srem(this.#keys.byConsole(previous.consoleSocketId), negotiation.sessionId);
    }
    if (previous && previous.agentSocketId !== negotiation.agentSocketId) {
      pipeline.srem(this.#keys.byAgentSocket(previous.agentSocketId), negotiation.sessionId);
    }
    pipeline.sadd(this.#keys.byConsole(negotiation.consoleSocketId), negotiation.sessionId);
    pipeline.expire(this.#keys.byConsole(negotiation.consoleSocketId), NEGOTIATION_TTL_S);
    pipeline.sadd(this.#keys.byAgentSocket(negotiation.agentSocketId), negotiation.sessionId);
    pipeline.expire(this.#keys.byAgentSocket(negotiation.agentSocketId), NEGOTIATION_TTL_S);
    await pipeline.exec();
    return true;
  }

  async deleteNegotiation(sessionId: string): Promise<void> {
    const n = await this.negotiation(sessionId);
    if (n) await this.#take(n.sessionId, 'consoleSocketId', n.consoleSocketId);
  }

  takeForConsole(consoleSocketId: string): Promise<Negotiation[]> {
    return this.#consolesGone.ask(consoleSocketId);
  }

  takeForAgentSocket(agentSocketId: string): Promise<Negotiation[]> {
    return this.#agentSocketsGone.ask(agentSocketId);
  }

  /** Every negotiation of each connection, `end` of them, deleted in one step. */
  async #takeAll(end: 'consoleSocketId' | 'agentSocketId', socketIds: string[]): Promise<Negotiation[][]> {
    const index = end === 'consoleSocketId' ? this.#keys.byConsole : this.#keys.byAgentSocket;
    const taken = TakenReply.parse(
      await this.redis.eval(
        TAKE_ALL,
        socketIds.length,
        ...socketIds.map((id) => index(id)),
        this.#keys.negotiation(''),
        this.#keys.byConsole(''),
        this.#keys.byAgentSocket(''),
        end,
        ...socketIds,
      ),
    );
    if (taken.length !== socketIds.length) throw new Error(`TAKE_ALL answered ${taken.length} of ${socketIds.length} connections`);
    return taken.map((records) => records.map((record) => parseJson(NegotiationRecord, record)).filter((n) => n !== undefined));
  }

  async #take(sessionId: string, end: 'consoleSocketId' | 'agentSocketId', socketId: string): Promise<Negotiation | undefined> {
    const taken = (await this.redis.eval(
      TAKE_NEGOTIATION,
      3,
      this.#keys.negotiation(sessionId),
      this.#keys.byConsole(''),
      this.#keys.byAgentSocket(''),
      end,
      socketId,
    )) as string | null;
    return parseJson(NegotiationRecord, taken);
  }

  /** Notes a connection this node holds, so that a sweep can clean up after the node dies. */
  async addSocket(socketId: string): Promise<void> {
    await this.redis.sadd(this.#keys.nodeSockets(this.nodeId), socketId);
  }

  removeSocket(socketId: string): Promise<void> {
    return this.#socketsGone.ask(socketId);
  }

  /**
   * Removes what a dead node left: its agents (only where no newer connection holds the agentId)
   * and the negotiations of its connections (each departure is published as any other). Resolves
   * to the organisations whose presence changed. The other ends of those negotiations are not told: a node going away is not a peer going away,
   * and their peer connections, once up, do not need signaling.
   */
  async removeNode(nodeId: string): Promise<Set<string>> {
    const orgs = new Set<string>();
    const departures: Departure[] = [];
    for (const member of await this.redis.smembers(this.#keys.nodeAgents(nodeId))) {
      const parsed = parseJson(NodeAgentMember, member);
      if (parsed) departures.push({ org: parsed[0], agentId: parsed[1], socketId: parsed[2] });
    }
    // As a live node's departures: a step per 256, one delta per organisation and step, so that a
    // node dying with thousands of agents costs the others a few deltas, not one per agent.
    for (let i = 0; i < departures.length; i += MAX_DEPARTURES_PER_STEP) {
      const step = departures.slice(i, i + MAX_DEPARTURES_PER_STEP);
      const removed = await this.#removeAgents(step, nodeId);
      for (const [j, departure] of step.entries()) if (removed[j]) orgs.add(departure.org);
    }
    const sockets = await this.redis.smembers(this.#keys.nodeSockets(nodeId));
    await Promise.all(sockets.flatMap((socketId) => [this.takeForConsole(socketId), this.takeForAgentSocket(socketId)]));
    await this.redis.del(this.#keys.nodeAgents(nodeId), this.#keys.nodeSockets(nodeId));
    return orgs;
  }
}
