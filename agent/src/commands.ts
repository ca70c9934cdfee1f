/**
 * The agent's subcommands: `pair`, `consoles list|revoke`, `install-service`, `uninstall-service`.
 * `pair` and `consoles` act through the running agent's control socket when an agent runs on the
 * state folder, and on the folder itself, under its lock, when none does.
 */
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import QRCode from 'qrcode';
import { encodePairingToken, LanEndpoint, ok, type Result } from '@tether/protocol';
import { endpointsFor } from './admin/agent-control.js';
import { askAgent, type ControlAnswer, type ControlRequest, type PairingGrant } from './admin/control-socket.js';
import { withIdleStateFolder } from './admin/offline-state.js';
import {
  installService,
  uninstallService,
  INSTALL_SERVICE_HELP,
  UNINSTALL_SERVICE_HELP,
  installOptions,
  uninstallOptions,
} from './admin/service.js';
import { terminalSafe, terminalSafeJson } from './admin/terminal-text.js';
import { duration } from './config.js';
import { ConsoleRegistry, type EnrolledConsole } from './trust/consoles.js';
import { loadIdentity } from './trust/identity.js';
import { PairingStore } from './trust/pairings.js';
import { RUNNING_AGENT_FILE, RunningAgent } from './running-agent.js';
import { defaultStateDir, readJsonFile } from './trust/state-files.js';

export const DEFAULT_LAN_PORT = 7301;

const STATE_DIR_HELP = `  --state-dir <dir>      the agent's state folder [TETHER_AGENT_STATE_DIR] (default: /var/lib/tether-agent
                         for root, which is the service's, else ~/.local/state/tether-agent)`;

export const PAIR_HELP = `Usage: tether-agent pair [options]

Prints a QR code and a pairing token for one console: one use, expires after --ttl. With an agent
running on the state folder, the agent creates the pairing (through agent.sock in that folder);
with none, the pairing is written into the folder, under its lock and as the folder's owner.
A console pairs through the agent's LAN endpoint: the agent must run with --lan-listen.

Options:
  --ttl <dur>            how long the token stays valid, e.g. 10m or 1h (default: 10m)
  --lan-endpoint <h:p>   endpoint the console should reach, e.g. 192.0.2.10:7301; repeatable
                         (default: the agent's --lan-endpoint, else its listening address)
${STATE_DIR_HELP}
  --agent-id <id>        the agent's id, when no agent has run on the folder yet
  --name <name>          the name shown in the console (default: the agent's)
  --no-qr                print the token without the QR code
  --help                 print this help
`;

export const CONSOLES_HELP = `Usage: tether-agent consoles list [--json] [--state-dir dir]
       tether-agent consoles revoke <console id> [--state-dir dir]

Lists the consoles enrolled with this agent, or revokes one (its connections close at once, and
it must pair again). A unique prefix of at least 6 characters names a console.

Options:
  --json                 list as JSON
${STATE_DIR_HELP}
  --help                 print this help
`;

/** Where text goes: `out` is the command's result, `err` errors and warnings. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Console ids are base64url, so one in 32 begins with '-', which parseArgs would read as an
 * option. After `consoles revoke`, the first argument that is not the command's own option is the
 * id, whatever it begins with: it is moved behind `--`.
 */
function idAfterRevoke(rest: string[]): string[] {
  if (rest[0] !== 'revoke') return rest;
  const args = rest.slice(1);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return rest;
    if (arg === '--state-dir') i++;
    else if (!arg.startsWith('--state-dir=') && arg !== '--json' && arg !== '--help')
      return ['revoke', ...args.slice(0, i), ...args.slice(i + 1), '--', arg];
  }
  return rest;
}

const stateDirOf = (values: { 'state-dir'?: string | undefined }, env: NodeJS.ProcessEnv) =>
  values['state-dir'] ?? env.TETHER_AGENT_STATE_DIR ?? defaultStateDir(env);

/** One line per console, every field made safe for the terminal. */
function consoleLine(c: EnrolledConsole): string {
  return `${terminalSafe(c.id)}  ${c.revokedAt ? 'revoked ' : 'active  '} ${terminalSafe(c.fingerprint)}  ${terminalSafe(c.name)}  (enrolled ${terminalSafe(c.enrolledAt)})\n`;
}

/**
 * Asks the running agent; when none runs on the folder, `offline` does the same on the folder.
 * Either way an error is a sentence for the operator.
 */
async function throughAgent<T>(
  stateDir: string,
  request: ControlRequest,
  pick: (answer: ControlAnswer) => T | undefined,
  offline: () => Promise<Result<T, string>>,
): Promise<Result<T, string>> {
  const asked = await askAgent(stateDir, request);
  if (!asked.ok)
    return asked.error.code === 'NOT_RUNNING' ? withIdleStateFolder(stateDir, offline) : { ok: false, error: asked.error.message };
  if (!asked.value.ok) return { ok: false, error: asked.value.error };
  const picked = pick(asked.value);
  return picked === undefined ? { ok: false, error: 'the agent gave an answer of another kind' } : ok(picked);
}

async function consoles(args: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const parsed = parse(
    idAfterRevoke(args),
    { 'state-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
    io,
    CONSOLES_HELP,
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const stateDir = stateDirOf(values, env);
  const [action, id, ...extra] = positionals;
  if (action === 'list' && id === undefined) {
    const asked = await askAgent(stateDir, { op: 'consoles' });
    // Reading needs no lock: the files are replaced whole, never edited in place.
    const all: Result<EnrolledConsole[], string> = asked.ok
      ? asked.value.ok && 'consoles' in asked.value
        ? ok(asked.value.consoles)
        : { ok: false, error: asked.value.ok ? 'the agent gave an answer of another kind' : asked.value.error }
      : asked.error.code === 'NOT_RUNNING'
        ? new ConsoleRegistry(stateDir).all()
        : { ok: false, error: asked.error.message };
    if (!all.ok) return fail(io, all.error, 1);
    if (values.json) io.out(terminalSafeJson(all.value) + '\n');
    else if (all.value.length === 0) io.err(`no console is enrolled with the agent of ${stateDir}\n`);
    else for (const c of all.value) io.out(consoleLine(c));
    return 0;
  }
  if (action === 'revoke' && id !== undefined && extra.length === 0) {
    const revoked = await throughAgent(
      stateDir,
      { op: 'revoke', id },
      (a) => ('revoked' in a ? a.revoked : undefined),
      async () => new ConsoleRegistry(stateDir).revoke(id),
    );
    if (!revoked.ok) return fail(io, revoked.error, 1);
    io.out(`revoked ${terminalSafe(revoked.value.id)} (${terminalSafe(revoked.value.name)})\n`);
    return 0;
  }
  return fail(
    io,
    action === undefined ? 'say list or revoke' : `unexpected ${positionals.map((p) => `'${terminalSafe(p)}'`).join(' ')}`,
    2,
    CONSOLES_HELP,
  );
}

async function pair(args: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const parsed = parse(
    args,
    {
      'state-dir': { type: 'string' },
      ttl: { type: 'string' },
      'lan-endpoint': { type: 'string', multiple: true },
      'agent-id': { type: 'string' },
      name: { type: 'string' },
      'no-qr': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    io,
    PAIR_HELP,
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) return fail(io, `pair takes no argument ('${terminalSafe(positionals[0]!)}')`, 2, PAIR_HELP);
  const ttl = duration(values.ttl ?? '10m');
  if (typeof ttl !== 'number' || ttl <= 0) return fail(io, `--ttl ${values.ttl} is not a duration (e.g. 10m)`, 2);
  const given = values['lan-endpoint'];
  const bad = given?.find((e) => !LanEndpoint.safeParse(e).success);
  if (bad) return fail(io, `--lan-endpoint ${terminalSafe(bad)} is not host:port`, 2);
  const stateDir = stateDirOf(values, env);

  const granted = await throughAgent(
    stateDir,
    { op: 'pair', ttlMs: ttl },
    (a) => ('pairing' in a ? { ...a.pairing, running: true } : undefined),
    () => pairOffline(stateDir, ttl, values, env),
  );
  if (!granted.ok) return fail(io, granted.error, granted.error.startsWith('--') ? 2 : 1);
  const grant = granted.value;
  if (values['agent-id'] !== undefined && values['agent-id'] !== grant.agentId) {
    return fail(io, `the agent on ${stateDir} is ${grant.agentId}, not ${values['agent-id']}; leave --agent-id out`, 2);
  }
  const name = (values.name ?? grant.name).slice(0, 64) || grant.agentId;
  const endpoints = (given ?? grant.endpoints).slice(0, 8);
  if (!grant.running) {
    io.err(
      `tether-agent: warning: no agent is running on ${stateDir}; a console can pair with this token once the agent runs there with --lan-listen\n`,
    );
  } else if (!grant.lanListening) {
    io.err(
      'tether-agent: warning: the agent is not listening on a LAN endpoint (it runs without --lan-listen, e.g. 0.0.0.0:7301), and a console pairs only through it: this token is of no use until it does\n',
    );
  }
  if (endpoints.length === 0) io.err('tether-agent: warning: the token names no endpoint; give one with --lan-endpoint host:port\n');
  const token = encodePairingToken({
    version: 1,
    pairingId: grant.pairingId,
    agentId: grant.agentId,
    name,
    endpoints,
    fingerprint: grant.fingerprint,
    secret: grant.secret,
    expiresAt: grant.expiresAt,
  });
  if (!values['no-qr']) io.out(await QRCode.toString(token, { type: 'terminal', small: true, errorCorrectionLevel: 'L' }));
  io.out(
    `\nPairing token for ${terminalSafe(name)} (one console, valid until ${new Date(grant.expiresAt).toISOString()}):\n\n${token}\n\n`,
  );
  io.out(`Agent fingerprint: sha-256 ${grant.fingerprint}\n`);
  if (endpoints.length > 0)
    io.out(`LAN endpoint${endpoints.length > 1 ? 's' : ''} in the token: ${endpoints.map(terminalSafe).join(', ')}\n`);
  return 0;
}

/** The pairing written into a folder no agent runs on; its LAN endpoint as the last run recorded it. */
async function pairOffline(
  stateDir: string,
  ttl: number,
  values: { 'agent-id'?: string | undefined; name?: string | undefined },
  env: NodeJS.ProcessEnv,
): Promise<Result<PairingGrant & { running: boolean }, string>> {
  const keys = await loadIdentity(stateDir);
  if (!keys.ok) return keys;
  const recorded = readJsonFile(join(stateDir, RUNNING_AGENT_FILE), {});
  const info = RunningAgent.partial().safeParse(recorded.ok ? recorded.value : {});
  const last = info.success ? info.data : {};
  const agentId = values['agent-id'] ?? env.TETHER_AGENT_ID ?? last.agentId;
  if (!agentId)
    return {
      ok: false,
      error: '--agent-id is needed: no agent has run on this state folder yet (the agent records its id there when it starts)',
    };
  const pending = new PairingStore(stateDir).create(ttl);
  if (!pending.ok) return pending;
  return ok({
    ...pending.value,
    agentId,
    name: values.name ?? env.TETHER_AGENT_NAME ?? last.name ?? agentId,
    fingerprint: keys.value.fingerprint,
    endpoints: last.lanPort !== undefined ? endpointsFor(last.lanHost, last.lanPort) : endpointsFor(undefined, DEFAULT_LAN_PORT),
    lanListening: false,
    running: false,
  });
}

/** Prints the error; with `help`, points to the command's --help (its first line names the command). */
function fail(io: CommandIo, message: string, code: number, help?: string): number {
  const command = help ? /^Usage: (tether-agent [a-z-]+)/.exec(help)?.[1] : undefined;
  io.err(`tether-agent: ${message}\n${command ? `Run ${command} --help for its usage.\n` : ''}`);
  return code;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with the command's help: the parsed values, or the exit code (0 for --help). */
function parse<O extends Options>(args: string[], options: O, io: CommandIo, help: string) {
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
    if ((parsed.values as { help?: boolean }).help) {
      io.out(help);
      return 0;
    }
    return parsed;
  } catch (cause) {
    return fail(io, (cause as Error).message, 2, help);
  }
}

export async function runCommand(argv: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'consoles') return consoles(rest, env, io);
  if (command === 'pair') return pair(rest, env, io);
  if (command === 'install-service') {
    const parsed = parse(rest, installOptions, io, INSTALL_SERVICE_HELP);
    return typeof parsed === 'number' ? parsed : installService(parsed, env, io);
  }
  const parsed = parse(rest, uninstallOptions, io, UNINSTALL_SERVICE_HELP);
  return typeof parsed === 'number' ? parsed : uninstallService(parsed, env, io);
}
