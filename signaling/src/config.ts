import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_MAX_CONNECTIONS_PER_ADDRESS } from './connection-bounds.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { MIN_TOKEN_SECRET_LENGTH } from './tokens.js';
import { DEFAULT_TURN_TTL_SECONDS, MAX_TURN_TTL_SECONDS, type TurnOptions } from './turn-credentials.js';

/** The port `tether-signaling` listens on when none is configured. */
export const DEFAULT_PORT = 7300;
export const DEFAULT_HOST = '0.0.0.0';

export interface SignalingConfig {
  port: number;
  host: string;
  consoleTokens: string[];
  agentTokens: string[];
  /** HMAC secrets of signed tokens; the first signs (`token issue`), all verify */
  tokenSecrets: string[];
  revocationsFile: string | undefined;
  corsOrigins: string[] | '*';
  logLevel: LogLevel;
  /** TURN servers whose credentials clients get; undefined when none is configured */
  turn: TurnOptions | undefined;
  /** Redis shared by the nodes of a cluster; undefined: one node, state in memory */
  redisUrl: string | undefined;
  redisPrefix: string | undefined;
  redisNodeTtlMs: number | undefined;
  /** The Socket.IO Redis adapter; undefined: the default (sharded) */
  redisAdapter: 'sharded' | 'classic' | undefined;
  /** Connections one remote address may hold at once; 0: no limit */
  maxConnectionsPerAddress: number;
}

export type ConfigOutcome =
  | { kind: 'run'; config: SignalingConfig; warnings: string[] }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'error'; message: string };

export const USAGE = `Usage: tether-signaling [options]

Relays WebRTC signaling between Tether consoles and agents over Socket.IO.

Options:
  --port <n>              TCP port (default ${DEFAULT_PORT}; 0 picks a free one)   env TETHER_SIGNALING_PORT
  --host <addr>           address to listen on (default ${DEFAULT_HOST})          env TETHER_SIGNALING_HOST
  --token-secret <s>      HMAC secret of signed tokens (32+ characters); repeatable, the first
                          signs, all verify                                 env TETHER_SIGNALING_TOKEN_SECRET (comma-separated)
  --revocations <file>    JSON-lines list of revoked token ids, re-read on change  env TETHER_SIGNALING_REVOCATIONS
  --console-token <t>     legacy shared secret for consoles (org default); repeatable  env TETHER_SIGNALING_CONSOLE_TOKENS
  --agent-token <t>       legacy shared secret for agents (org default); repeatable    env TETHER_SIGNALING_AGENT_TOKENS
  --cors-origin <o>       an origin allowed to connect; repeatable (default *)  env TETHER_SIGNALING_CORS_ORIGINS
  --log-level <level>     debug, info, warn, error or silent (default info)     env TETHER_LOG_LEVEL
  --redis-url <url>       redis://[:password@]host:port[/db]: run as one of several nodes behind a load
                          balancer, sharing presence and relay through Redis    env TETHER_SIGNALING_REDIS_URL
  --redis-prefix <p>      prefix of the cluster's Redis keys (default tether:)  env TETHER_SIGNALING_REDIS_PREFIX
  --redis-node-ttl <ms>   a node silent this long is dead, its agents go offline (default 5000)
                                                                            env TETHER_SIGNALING_REDIS_NODE_TTL_MS
  --redis-adapter <kind>  sharded (default; Redis 7 or later) or classic (older Redis)
                                                                            env TETHER_SIGNALING_REDIS_ADAPTER
  --turn-url <url>        a TURN server clients relay through, e.g. turn:turn.example:3478;
                          repeatable                                         env TETHER_SIGNALING_TURN_URLS (comma-separated)
  --turn-secret <s>       coturn's static-auth-secret (use-auth-secret)      env TETHER_SIGNALING_TURN_SECRET
  --turn-ttl <duration>   lifetime of issued TURN credentials, e.g. 3600, 30m, 12h
                          (default 1h; at most 7d)                           env TETHER_SIGNALING_TURN_TTL
  --max-connections-per-address <n>
                          connections one client address may hold; more are refused with RATE_LIMITED
                          (default ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}; 0: no limit, e.g. behind a proxy that hides client
                          addresses)                                         env TETHER_SIGNALING_MAX_CONNECTIONS_PER_ADDRESS
  --config <file.json>    {port, host, tokenSecrets, revocationsFile, consoleTokens, agentTokens, corsOrigins,
                          logLevel, turnUrls, turnSecret, turnTtlSeconds, redisUrl, redisPrefix, redisNodeTtlMs,
                          redisAdapter, maxConnectionsPerAddress}
  -h, --help              print this help
  -v, --version           print the version

Tokens:
  tether-signaling token issue --role agent|console --org <org> --subject <name> [--ttl 30d]
      prints a signed token (needs a token secret, from the same flags, environment or config file)
  tether-signaling token revoke <token id | token> [--revocations <file>]
      appends the token's id to the revocations file; a running server refuses it from then on

A flag wins over the environment, which wins over the config file. Secrets on the command line
are visible to other users of the host (ps); prefer the environment or a config file (mode 0600).
The server refuses to start without a token secret, or at least one console token and one agent token.
`;

const REDIS_URL = /^rediss?:\/\/\S+$/;
const MIN_NODE_TTL_MS = 500;
const MAX_NODE_TTL_MS = 600_000;
/** Above any number of connections one process can hold: a larger setting is a typo. */
const MAX_CONNECTIONS_SETTING = 1_000_000;

const tokenList = z.array(z.string().min(1).max(4096));

/** The config file's shape; every field is optional and unknown fields are refused. */
export const ConfigFile = z.strictObject({
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  consoleTokens: tokenList.optional(),
  agentTokens: tokenList.optional(),
  tokenSecrets: z.array(z.string().min(MIN_TOKEN_SECRET_LENGTH).max(4096)).optional(),
  revocationsFile: z.string().min(1).optional(),
  corsOrigins: z.union([z.literal('*'), z.array(z.string().min(1))]).optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
  turnUrls: z.array(z.string().min(1)).optional(),
  turnSecret: z.string().min(1).optional(),
  turnTtlSeconds: z.number().int().min(1).max(MAX_TURN_TTL_SECONDS).optional(),
  redisUrl: z.string().regex(REDIS_URL).optional(),
  redisPrefix: z.string().min(1).max(64).optional(),
  redisNodeTtlMs: z.number().int().min(MIN_NODE_TTL_MS).max(MAX_NODE_TTL_MS).optional(),
  redisAdapter: z.enum(['sharded', 'classic']).optional(),
  maxConnectionsPerAddress: z.number().int().min(0).max(MAX_CONNECTIONS_SETTING).optional(),
});

export type ConfigFile = z.infer<typeof ConfigFile>;

const splitList = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);

const nonEmpty = <T>(list: T[] | undefined) => (list && list.length > 0 ? list : undefined);

/** `3600`, `90s`, `30m`, `12h`, `7d` in seconds; undefined when it is none of these. */
function durationSeconds(text: string): number | undefined {
  const match = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

/** The TURN settings from the three sources, checked together: URLs and secret come as a pair. */
function turnFrom(
  flags: { urls: string[] | undefined; secret: string | undefined; ttl: string | undefined },
  env: Readonly<Record<string, string | undefined>>,
  file: ConfigFile,
): { ok: true; turn: TurnOptions | undefined } | { ok: false; message: string } {
  const urls = nonEmpty(flags.urls) ?? nonEmpty(splitList(env['TETHER_SIGNALING_TURN_URLS'])) ?? nonEmpty(file.turnUrls);
  const secret = flags.secret ?? env['TETHER_SIGNALING_TURN_SECRET'] ?? file.turnSecret;
  const ttlText = flags.ttl ?? env['TETHER_SIGNALING_TURN_TTL'];
  const ttlSeconds = ttlText === undefined ? (file.turnTtlSeconds ?? DEFAULT_TURN_TTL_SECONDS) : durationSeconds(ttlText);
  if (ttlSeconds === undefined || ttlSeconds < 1 || ttlSeconds > MAX_TURN_TTL_SECONDS) {
    return { ok: false, message: `invalid TURN credential lifetime ${JSON.stringify(ttlText)}: use e.g. 3600, 30m or 12h, at most 7d` };
  }
  if (urls === undefined && secret === undefined) return { ok: true, turn: undefined };
  if (urls === undefined)
    return { ok: false, message: 'a TURN secret is set but no TURN URL: pass --turn-url (e.g. turn:turn.example:3478)' };
  if (secret === undefined || secret.length === 0) {
    return { ok: false, message: "TURN URLs are set but no secret: pass --turn-secret, coturn's static-auth-secret" };
  }
  const bad = urls.find((url) => !/^turns?:[^\s]+$/i.test(url));
  if (bad !== undefined) return { ok: false, message: `invalid TURN URL ${JSON.stringify(bad)}: use turn:host:port or turns:host:port` };
  return { ok: true, turn: { urls, secret, ttlSeconds } };
}

/** Tokens shorter than this are accepted with a warning: they can be guessed. */
const SHORT_TOKEN = 16;

/**
 * Reads the configuration from flags, then the environment, then a JSON file; each setting comes
 * from the first source that has it. Errors are values with a sentence for the operator.
 */
export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
): ConfigOutcome {
  let flags;
  try {
    flags = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'console-token': { type: 'string', multiple: true },
        'agent-token': { type: 'string', multiple: true },
        'token-secret': { type: 'string', multiple: true },
        revocations: { type: 'string' },
        'cors-origin': { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        'turn-url': { type: 'string', multiple: true },
        'turn-secret': { type: 'string' },
        'turn-ttl': { type: 'string' },
        'redis-url': { type: 'string' },
        'redis-prefix': { type: 'string' },
        'redis-node-ttl': { type: 'string' },
        'redis-adapter': { type: 'string' },
        'max-connections-per-address': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }).values;
  } catch (error) {
    return { kind: 'error', message: (error as Error).message };
  }
  if (flags.help) return { kind: 'help' };
  if (flags.version) return { kind: 'version' };

  let file: z.infer<typeof ConfigFile> = {};
  if (flags.config !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFile(flags.config));
    } catch (error) {
      return { kind: 'error', message: `cannot read config file ${flags.config}: ${(error as Error).message}` };
    }
    const parsed = ConfigFile.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { kind: 'error', message: `config file ${flags.config}: ${issue?.path.join('.') || 'file'}: ${issue?.message}` };
    }
    file = parsed.data;
  }

  const portText = flags.port ?? env['TETHER_SIGNALING_PORT'];
  let port = file.port ?? DEFAULT_PORT;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) return { kind: 'error', message: `invalid port ${JSON.stringify(portText)}` };
  }
  const logLevel = flags['log-level'] ?? env['TETHER_LOG_LEVEL'] ?? file.logLevel ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    return { kind: 'error', message: `invalid log level ${JSON.stringify(logLevel)}; use one of ${LOG_LEVELS.join(', ')}` };
  }
  const consoleTokens =
    nonEmpty(flags['console-token']) ?? nonEmpty(splitList(env['TETHER_SIGNALING_CONSOLE_TOKENS'])) ?? file.consoleTokens ?? [];
  const agentTokens = nonEmpty(flags['agent-token']) ?? nonEmpty(splitList(env['TETHER_SIGNALING_AGENT_TOKENS'])) ?? file.agentTokens ?? [];
  const tokenSecrets =
    nonEmpty(flags['token-secret']) ?? nonEmpty(splitList(env['TETHER_SIGNALING_TOKEN_SECRET'])) ?? file.tokenSecrets ?? [];
  if (tokenSecrets.some((secret) => secret.length < MIN_TOKEN_SECRET_LENGTH)) {
    return { kind: 'error', message: `token secrets must have at least ${MIN_TOKEN_SECRET_LENGTH} characters (openssl rand -base64 33)` };
  }
  if (tokenSecrets.length === 0 && consoleTokens.length === 0) {
    return {
      kind: 'error',
      message:
        'no console token: pass --token-secret (signed tokens), or --console-token, TETHER_SIGNALING_CONSOLE_TOKENS or consoleTokens in --config',
    };
  }
  if (tokenSecrets.length === 0 && agentTokens.length === 0) {
    return {
      kind: 'error',
      message:
        'no agent token: pass --token-secret (signed tokens), or --agent-token, TETHER_SIGNALING_AGENT_TOKENS or agentTokens in --config',
    };
  }
  if ([...consoleTokens, ...agentTokens].some((t) => t.length === 0)) {
    return { kind: 'error', message: 'tokens must not be empty' };
  }
  const turn = turnFrom({ urls: flags['turn-url'], secret: flags['turn-secret'], ttl: flags['turn-ttl'] }, env, file);
  if (!turn.ok) return { kind: 'error', message: turn.message };
  const corsFromEnv = splitList(env['TETHER_SIGNALING_CORS_ORIGINS']);
  const corsList = nonEmpty(flags['cors-origin']) ?? nonEmpty(corsFromEnv) ?? file.corsOrigins ?? '*';
  const corsOrigins = Array.isArray(corsList) && corsList.includes('*') ? '*' : corsList;

  const redisUrl = flags['redis-url'] ?? env['TETHER_SIGNALING_REDIS_URL'] ?? file.redisUrl;
  if (redisUrl !== undefined && !REDIS_URL.test(redisUrl)) {
    return { kind: 'error', message: 'invalid Redis URL: use redis://[[user]:password@]host:port[/db] or rediss://…' };
  }
  const redisPrefix = flags['redis-prefix'] ?? env['TETHER_SIGNALING_REDIS_PREFIX'] ?? file.redisPrefix;
  if (redisPrefix !== undefined && (redisPrefix.length === 0 || redisPrefix.length > 64)) {
    return { kind: 'error', message: 'the Redis prefix must have 1 to 64 characters' };
  }
  const ttlText = flags['redis-node-ttl'] ?? env['TETHER_SIGNALING_REDIS_NODE_TTL_MS'];
  let redisNodeTtlMs = file.redisNodeTtlMs;
  if (ttlText !== undefined) {
    redisNodeTtlMs = Number(ttlText);
    if (!/^\d+$/.test(ttlText) || redisNodeTtlMs < MIN_NODE_TTL_MS || redisNodeTtlMs > MAX_NODE_TTL_MS) {
      return {
        kind: 'error',
        message: `invalid Redis node TTL ${JSON.stringify(ttlText)}; milliseconds, ${MIN_NODE_TTL_MS}..${MAX_NODE_TTL_MS}`,
      };
    }
  }

  const redisAdapter = flags['redis-adapter'] ?? env['TETHER_SIGNALING_REDIS_ADAPTER'] ?? file.redisAdapter;
  if (redisAdapter !== undefined && redisAdapter !== 'sharded' && redisAdapter !== 'classic') {
    return { kind: 'error', message: `invalid Redis adapter ${JSON.stringify(redisAdapter)}; sharded or classic` };
  }

  const perAddressText = flags['max-connections-per-address'] ?? env['TETHER_SIGNALING_MAX_CONNECTIONS_PER_ADDRESS'];
  let maxConnectionsPerAddress = file.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  if (perAddressText !== undefined) {
    maxConnectionsPerAddress = Number(perAddressText);
    if (!/^\d+$/.test(perAddressText) || maxConnectionsPerAddress > MAX_CONNECTIONS_SETTING) {
      return {
        kind: 'error',
        message: `invalid connections per address ${JSON.stringify(perAddressText)}; a number, 0..${MAX_CONNECTIONS_SETTING} (0: no limit)`,
      };
    }
  }

  const warnings: string[] = [];
  if ([...consoleTokens, ...agentTokens].some((t) => t.length < SHORT_TOKEN)) {
    warnings.push(`some tokens are shorter than ${SHORT_TOKEN} characters and may be guessed`);
  }
  if (turn.turn && turn.turn.ttlSeconds < 60) {
    warnings.push(`TURN credentials live ${turn.turn.ttlSeconds} s: clients get new ones every ${turn.turn.ttlSeconds / 2} s`);
  }
  if (consoleTokens.some((t) => agentTokens.includes(t))) {
    warnings.push('a token is both a console token and an agent token: its holder can act as either');
  }
  return {
    kind: 'run',
    config: {
      port,
      host: flags.host ?? env['TETHER_SIGNALING_HOST'] ?? file.host ?? DEFAULT_HOST,
      consoleTokens,
      agentTokens,
      tokenSecrets,
      revocationsFile: flags.revocations ?? env['TETHER_SIGNALING_REVOCATIONS'] ?? file.revocationsFile,
      corsOrigins,
      logLevel: logLevel as LogLevel,
      turn: turn.turn,
      redisUrl,
      redisPrefix,
      redisNodeTtlMs,
      redisAdapter,
      maxConnectionsPerAddress,
    },
    warnings,
  };
}
