/**
 * The agent's configuration: flags > environment > JSON config file > defaults, validated as a
 * whole by one schema (config-schema.ts). A bad configuration is an error value with a sentence
 * for the operator.
 */
import { parseArgs } from 'node:util';
import { err, ok, type Result } from '@tether/protocol';
import { AgentConfig, defaults, type ConfigLayer } from './config-schema.js';
import { defined, duration, fromEnv, fromFile, num, parseIceServer, parseLabels } from './config-sources.js';
import { byteSize } from './transfer/transfer-rules.js';

export { AgentConfig, DEFAULT_LABELS, DEFAULT_SHELLS, IceServerConfig, sanitizeAgentId, type ConfigLayer } from './config-schema.js';
export { duration } from './config-sources.js';

export const HELP = `Usage: tether-agent [options]

Serves terminals into this host's vPLC containers over WebRTC.

Options (environment variable in brackets; flags > environment > config file > defaults):
  --signaling-url <url>    signaling server URL [TETHER_AGENT_SIGNALING_URL]; give it, --lan-listen,
                           or both (LAN alone works offline)
  --token <token>          agent token for the signaling server [TETHER_AGENT_TOKEN]
                           (required with --signaling-url)
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
  --ice-transport-policy <p>  all, or relay: only TURN relay candidates [TETHER_AGENT_ICE_TRANSPORT_POLICY] (default: all)
  --docker-socket <path>   Docker engine socket [TETHER_AGENT_DOCKER_SOCKET] (default: /var/run/docker.sock)
  --shell <path>           shell to start; repeatable, first found wins
                           [TETHER_AGENT_SHELLS, comma-separated] (default: /bin/bash, /bin/sh)
  --user <user>            user[:group] the exec runs as, unless a container's tether.user label
                           says otherwise [TETHER_AGENT_USER] (default: 1000:1000; root only if named)
  --state-dir <dir>        identity, enrolled consoles, audit log; one running agent per folder
                           [TETHER_AGENT_STATE_DIR] (default: /var/lib/tether-agent for root,
                           else $XDG_STATE_HOME/tether-agent or ~/.local/state/tether-agent)
  --lan-listen <host:port> the agent's own LAN signaling endpoint, e.g. 0.0.0.0:7301; consoles
                           pair through it (off by default)
  --lan-endpoint <h:p>     endpoint printed in pairing tokens; repeatable
  --require-pairing <p>    auto, always or never (default: auto)
  --expose-name <glob>     also expose containers whose name matches; repeatable
  --max-sessions-per-container <n>  (default 4; 0: no limit)
  --idle-timeout <dur>     end a session after this long without input, e.g. 15m (default: off)
  --max-session-duration <dur>      end a session after this long (default: off)
  --resume-grace <dur>     keep a session whose connection was lost this long, for the console
                           to resume it; 0 ends it at once (default: 5m)
  --audit-log <file>       JSON-lines audit log (default: audit.jsonl in the state folder)
  --audit-failure <p>      closed: refuse new sessions while the audit log cannot be written;
                           open: let them start (default: closed)
  --record-dir <dir>       record every session as an asciicast v2 file here (default: off)
  --record-input           also record what is typed (asciicast "i" events), passwords included;
                           each tab says so (default: off; needs --record-dir)
  --session-priority <p>   idle: sessions run at nice 19, SCHED_IDLE where allowed, idle I/O
                           priority and oom_score_adj 1000; normal: as Docker starts them
                           [TETHER_AGENT_SESSION_PRIORITY] (default: idle)
  --session-cpus <list>    CPUs sessions may run on, e.g. 1 or 2-3 (default: any)
  --session-memory <size>  address space each session process may map, e.g. 512m (default: no cap)
  --session-processes <n>  processes the exec user may have (RLIMIT_NPROC) (default: no cap)
                           Per container: "sessionRules" in the config file, or the container's
                           tether.session-{priority,cpus,memory,processes} labels
  --transfers <mode>       file transfers: off, download (downloads only) or both (default: both);
                           per container: "transferRules" in the config file
  --transfer-max-size <n>  largest file moved, e.g. 500M or 2G; 0: no limit (default: 1G)
  --log-level <level>      debug, info, warn, error or silent [TETHER_AGENT_LOG_LEVEL] (default: info)
  --config <file.json>     JSON config file with the same keys as the schema, e.g.
                           {"signalingUrl": "...", "labels": {"tether.vplc": "true"}} [TETHER_AGENT_CONFIG]
  --help                   print this help
  --version                print the version

Commands (each answers --help):
  tether-agent pair [--ttl 10m]                 a pairing token and QR code for one console
  tether-agent consoles list [--json]           the enrolled consoles
  tether-agent consoles revoke <id>             revoke one
  tether-agent install-service [options]        install, enable and start the systemd service (root)
  tether-agent uninstall-service [--purge]      stop, disable and remove it (root)
`;

export type CliRequest = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: AgentConfig };

/** Validates a configuration given as an object (programmatic use); defaults fill the gaps. */
export function resolveConfig(...layers: ConfigLayer[]): Result<AgentConfig, string> {
  const merged = Object.assign({}, defaults(), ...layers.map(defined)) as ConfigLayer;
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
        'ice-transport-policy': { type: 'string' },
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
        'resume-grace': { type: 'string' },
        'audit-log': { type: 'string' },
        'audit-failure': { type: 'string' },
        'record-dir': { type: 'string' },
        'record-input': { type: 'boolean' },
        'session-priority': { type: 'string' },
        'session-cpus': { type: 'string' },
        'session-memory': { type: 'string' },
        'session-processes': { type: 'string' },
        transfers: { type: 'string' },
        'transfer-max-size': { type: 'string' },
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
    iceTransportPolicy: str('ice-transport-policy'),
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
    resumeGraceMs: duration(str('resume-grace')),
    auditLog: str('audit-log'),
    auditFailure: str('audit-failure'),
    recordDir: str('record-dir'),
    recordInput: values['record-input'] as boolean | undefined,
    sessionPriority: str('session-priority'),
    sessionCpus: str('session-cpus'),
    sessionMemory: str('session-memory'),
    sessionProcesses: num(str('session-processes')),
    transfers: str('transfers'),
    transferMaxBytes: byteSize(str('transfer-max-size')),
  });
  const configPath = str('config') ?? env.TETHER_AGENT_CONFIG;
  let file: ConfigLayer = {};
  if (configPath !== undefined) {
    const read = fromFile(configPath);
    if (!read.ok) return read;
    file = read.value;
  }
  const config = resolveConfig(file, fromEnv(env), flags);
  return config.ok ? ok({ kind: 'run', config: config.value }) : config;
}
