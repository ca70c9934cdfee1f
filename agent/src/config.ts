/**
 * The agent's configuration: flags > environment > JSON config file > defaults, validated as a
 * whole by one schema. A bad configuration is an error value with a sentence for the operator.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { AgentId, err, LanEndpoint, ok, type Result } from '@tether/protocol';
import { DEFAULT_EXEC_USER } from './session-rules.js';
import { defaultStateDir } from './trust/state-files.js';
import { LOG_LEVELS } from './log.js';

export const IceServerConfig = z.object({
  urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

export const AgentConfig = z.object({
  /** the cloud signaling server; optional when the LAN endpoint is on */
  signalingUrl: z.url({ protocol: /^(https?|wss?)$/ }).optional(),
  token: z.string().min(1).max(4096).optional(),
  agentId: AgentId,
  name: z.string().min(1).max(128),
  /** Docker labels a container must carry (all of them) to be exposed; an empty value matches any. */
  labels: z.record(z.string().min(1), z.string()),
  /** STUN/TURN servers; none by default, so ICE never depends on a server the operator did not name. */
  iceServers: z.array(IceServerConfig),
  /** Extra host candidate addresses, e.g. 127.0.0.1, which werift otherwise skips. */
  iceHosts: z.array(z.union([z.ipv4(), z.ipv6()])),
  /** Binds ICE to this IPv4 address only (werift `iceInterfaceAddresses.udp4`). */
  iceInterface: z.ipv4().optional(),
  dockerSocket: z.string().min(1),
  /** Shells to try in order; the first that exists in the container is started. */
  shells: z.array(z.string().regex(/^\//, 'an absolute path')).min(1),
  /** User the exec runs as unless a container's `tether.user` label or `users` names another. */
  user: z.string().min(1),
  /** Exec user per container name. */
  users: z.record(z.string(), z.string().min(1)),
  logLevel: z.enum(LOG_LEVELS),
  /** Identity, enrolled consoles, pending pairings, audit log. */
  stateDir: z.string().min(1),
  /** `host:port` for the agent's own LAN signaling endpoint; off when unset. */
  lanListen: LanEndpoint.optional(),
  /** Endpoints printed in pairing tokens; default: the LAN listen address, or this host's IPv4 addresses. */
  lanEndpoints: z.array(LanEndpoint).max(8),
  /** Whether cloud offers need an enrolled console fingerprint (the LAN path always does). */
  requirePairing: z.enum(['auto', 'always', 'never']),
  /** Containers exposed by name (glob with `*` and `?`), in addition to the label rule. */
  exposeNames: z.array(z.string().min(1)),
  maxSessionsPerContainer: z.number().int().min(0),
  idleTimeoutMs: z.number().int().min(0),
  maxSessionMs: z.number().int().min(0),
  /** Append-only JSON-lines audit log; default `audit.jsonl` in the state folder. */
  auditLog: z.string().min(1).optional(),
  /** Folder for asciicast v2 recordings; none when unset. */
  recordDir: z.string().min(1).optional(),
}).refine((c) => c.signalingUrl !== undefined || c.lanListen !== undefined, {
  message: 'give --signaling-url (cloud) or --lan-listen (LAN endpoint), or both',
  path: ['signalingUrl'],
}).refine((c) => c.signalingUrl === undefined || c.token !== undefined, { message: '--token is required with --signaling-url', path: ['token'] });

export type AgentConfig = z.infer<typeof AgentConfig>;
export type IceServerConfig = z.infer<typeof IceServerConfig>;

export const DEFAULT_LABELS = { 'tether.vplc': 'true' };
export const DEFAULT_SHELLS = ['/bin/bash', '/bin/sh'];

export const HELP = `Usage: tether-agent [options]

Serves terminals into this host's vPLC containers over WebRTC.

Options (environment variable in brackets; flags > environment > config file > defaults):
  --signaling-url <url>    signaling server URL [TETHER_AGENT_SIGNALING_URL] (required)
  --token <token>          agent token for the signaling server [TETHER_AGENT_TOKEN] (required)
  --agent-id <id>          agent id [TETHER_AGENT_ID] (default: the host name, sanitized)
  --name <name>            display name [TETHER_AGENT_NAME] (default: the host name)
  --label <key[=value]>    expose containers with this Docker label; repeatable, all must match
                           [TETHER_AGENT_LABELS, comma-separated] (default: tether.vplc=true)
  --ice-server <url|json>  STUN/TURN server, e.g. stun:host:3478 or
                           '{"urls":"turn:host:3478","username":"u","credential":"p"}'; repeatable
                           [TETHER_AGENT_ICE_SERVERS, JSON array or comma-separated urls] (default: none)
  --ice-host <addr>        extra host candidate address, e.g. 127.0.0.1; repeatable
                           [TETHER_AGENT_ICE_HOSTS, comma-separated]
  --ice-interface <ipv4>   bind ICE to this local IPv4 address [TETHER_AGENT_ICE_INTERFACE]
  --docker-socket <path>   Docker engine socket [TETHER_AGENT_DOCKER_SOCKET] (default: /var/run/docker.sock)
  --shell <path>           shell to start; repeatable, first found wins
                           [TETHER_AGENT_SHELLS, comma-separated] (default: /bin/bash, /bin/sh)
  --user <user>            user the exec runs as [TETHER_AGENT_USER] (default: the container's)
  --log-level <level>      debug, info, warn, error or silent [TETHER_AGENT_LOG_LEVEL] (default: info)
  --config <file.json>     JSON config file with the same keys as the schema, e.g.
                           {"signalingUrl": "...", "labels": {"tether.vplc": "true"}} [TETHER_AGENT_CONFIG]
  --help                   print this help
  --version                print the version
`;

export type CliRequest = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: AgentConfig };

type Partial = Record<string, unknown>;

const list = (value: string | undefined) =>
  value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);

function parseLabels(entries: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at < 0) labels[entry] = '';
    else labels[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return labels;
}

function parseIceServer(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return { urls: trimmed };
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    // left as text, the schema reports it as "expected object" at its place in the list
    return trimmed;
  }
}

function parseIceServers(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      return Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      return [trimmed];
    }
  }
  return (list(trimmed) ?? []).map(parseIceServer);
}

function defined(source: Partial): Partial {
  return Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined));
}

function fromEnv(env: NodeJS.ProcessEnv): Partial {
  const e = (name: string) => env[`TETHER_AGENT_${name}`];
  const labels = list(e('LABELS'));
  const ice = e('ICE_SERVERS');
  return defined({
    signalingUrl: e('SIGNALING_URL'),
    token: e('TOKEN'),
    agentId: e('ID'),
    name: e('NAME'),
    labels: labels ? parseLabels(labels) : undefined,
    iceServers: ice === undefined ? undefined : parseIceServers(ice),
    iceHosts: list(e('ICE_HOSTS')),
    iceInterface: e('ICE_INTERFACE'),
    dockerSocket: e('DOCKER_SOCKET'),
    shells: list(e('SHELLS')),
    user: e('USER'),
    logLevel: e('LOG_LEVEL'),
  });
}

function fromFile(path: string): Result<Partial, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    return err(`cannot read config file ${path}: ${(cause as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return err(`config file ${path} must hold a JSON object`);
    }
    return ok(value as Partial);
  } catch (cause) {
    return err(`config file ${path} is not valid JSON: ${(cause as Error).message}`);
  }
}

const num = (text: string | undefined) => (text === undefined ? undefined : /^\d+$/.test(text) ? Number(text) : text);

/** `90`, `90s`, `15m`, `2h`, `1d` (seconds by default) in milliseconds; the text itself when malformed. */
export function duration(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return text;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** The host name as an agent id: letters, digits, `_`, `.` and `-`, at most 64 characters. */
export function sanitizeAgentId(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
  return id.length > 0 ? id : 'tether-agent';
}

function defaults(): Partial {
  const host = hostname() || 'tether-agent';
  return {
    agentId: sanitizeAgentId(host),
    name: host.slice(0, 128),
    labels: DEFAULT_LABELS,
    iceServers: [],
    iceHosts: [],
    dockerSocket: '/var/run/docker.sock',
    shells: DEFAULT_SHELLS,
    logLevel: 'info',
    user: DEFAULT_EXEC_USER,
    users: {},
    stateDir: defaultStateDir(),
    lanEndpoints: [],
    requirePairing: 'auto',
    exposeNames: [],
    maxSessionsPerContainer: 4,
    idleTimeoutMs: 0,
    maxSessionMs: 0,
  };
}

/** Validates a configuration given as an object (programmatic use); defaults fill the gaps. */
export function resolveConfig(...layers: Partial[]): Result<AgentConfig, string> {
  const merged = Object.assign({}, defaults(), ...layers.map(defined)) as Partial;
  const parsed = AgentConfig.safeParse(merged);
  if (parsed.success) return ok(parsed.data);
  const lines = parsed.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join('.') : 'config';
    return `  ${where}: ${issue.message}`;
  });
  return err(`invalid configuration:\n${lines.join('\n')}`);
}

/** Reads flags, environment and config file into a validated configuration. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Result<CliRequest, string> {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'signaling-url': { type: 'string' },
        token: { type: 'string' },
        'agent-id': { type: 'string' },
        name: { type: 'string' },
        label: { type: 'string', multiple: true },
        'ice-server': { type: 'string', multiple: true },
        'ice-host': { type: 'string', multiple: true },
        'ice-interface': { type: 'string' },
        'docker-socket': { type: 'string' },
        shell: { type: 'string', multiple: true },
        user: { type: 'string' },
        'log-level': { type: 'string' },
        'state-dir': { type: 'string' },
        'lan-listen': { type: 'string' },
        'lan-endpoint': { type: 'string', multiple: true },
        'require-pairing': { type: 'string' },
        'expose-name': { type: 'string', multiple: true },
        'max-sessions-per-container': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'max-session-duration': { type: 'string' },
        'audit-log': { type: 'string' },
        'record-dir': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean' },
        version: { type: 'boolean' },
      },
    }).values;
  } catch (cause) {
    return err(`${(cause as Error).message}\nRun tether-agent --help for the options.`);
  }
  if (values.help) return ok({ kind: 'help' });
  if (values.version) return ok({ kind: 'version' });
  const str = (key: string) => values[key] as string | undefined;
  const many = (key: string) => values[key] as string[] | undefined;
  const labels = many('label');
  const iceServers = many('ice-server');
  const flags = defined({
    signalingUrl: str('signaling-url'),
    token: str('token'),
    agentId: str('agent-id'),
    name: str('name'),
    labels: labels ? parseLabels(labels) : undefined,
    iceServers: iceServers?.map(parseIceServer),
    iceHosts: many('ice-host'),
    iceInterface: str('ice-interface'),
    dockerSocket: str('docker-socket'),
    shells: many('shell'),
    user: str('user'),
    logLevel: str('log-level'),
    stateDir: str('state-dir'),
    lanListen: str('lan-listen'),
    lanEndpoints: many('lan-endpoint'),
    requirePairing: str('require-pairing'),
    exposeNames: many('expose-name'),
    maxSessionsPerContainer: num(str('max-sessions-per-container')),
    idleTimeoutMs: duration(str('idle-timeout')),
    maxSessionMs: duration(str('max-session-duration')),
    auditLog: str('audit-log'),
    recordDir: str('record-dir'),
  });
  const configPath = str('config') ?? env.TETHER_AGENT_CONFIG;
  let file: Partial = {};
  if (configPath !== undefined) {
    const read = fromFile(configPath);
    if (!read.ok) return read;
    file = read.value;
  }
  const config = resolveConfig(file, fromEnv(env), flags);
  return config.ok ? ok({ kind: 'run', config: config.value }) : config;
}
