/**
 * `tether-agent install-service` and `uninstall-service`: the agent as a systemd service, done the
 * way distribution packages do it. The user comes from a sysusers.d entry (`systemd-sysusers`),
 * the unit is the shipped one (systemd/tether-agent.service) with ExecStart set to the absolute
 * paths of this Node.js and this installed agent (a bare command name is not a valid ExecStart,
 * and a PATH lookup would miss an npm prefix such as /opt or nvm's), and `systemctl` enables it.
 *
 * `--root <dir>` does the same inside another root file system (an image being built, a test):
 * the files, the user and the enablement land under it, and nothing is started.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { err, ok, type Result } from '@tether/protocol';
import { resolveConfig } from '../config.js';
import { fromFile } from '../config-sources.js';

export const SERVICE_NAME = 'tether-agent';
export const SERVICE_USER = 'tether-agent';
export const DOCKER_GROUP = 'docker';

/** Paths as the service sees them (under --root when one is given). */
const PATHS = {
  unit: '/etc/systemd/system/tether-agent.service',
  sysusers: '/etc/sysusers.d/tether-agent.conf',
  configDir: '/etc/tether-agent',
  config: '/etc/tether-agent/config.json',
  env: '/etc/tether-agent/agent.env',
  state: '/var/lib/tether-agent',
} as const;

/**
 * Folders the unit hides from the service (ProtectHome=yes, PrivateTmp=yes): an agent or a Node.js
 * installed there would not be found when the service starts.
 */
const HIDDEN_FROM_SERVICE = ['/home', '/root', '/run/user', '/tmp', '/var/tmp'];

const SYSUSERS = `# The tether-agent service's user, in the docker group (written by tether-agent install-service)
u ${SERVICE_USER} - "Tether agent" ${PATHS.state} /usr/sbin/nologin
m ${SERVICE_USER} ${DOCKER_GROUP}
`;

export const INSTALL_SERVICE_HELP = `Usage: tether-agent install-service [options]    (as root)

Installs this agent as the systemd service tether-agent: creates the user tether-agent in the
docker group (systemd-sysusers), its state folder ${PATHS.state} (mode 0700, owned by it), writes
${PATHS.config} and, for the token, ${PATHS.env} (mode 0600), writes
${PATHS.unit} with the absolute paths of this Node.js and this agent, then
enables and starts it. Safe to run again: an upgrade or a moved Node.js only rewrites the unit.

Options (written into ${PATHS.config}; the existing file's other keys are kept):
  --signaling-url <url>  signaling server URL
  --token <token>        agent token for the signaling server (written into ${PATHS.env})
  --lan-listen <h:p>     the agent's own LAN endpoint, e.g. 0.0.0.0:7301 (pairing needs it)
  --agent-id <id>        agent id (default: the host name)
  --name <name>          display name (default: the host name)
  --no-start             enable the service, but do not start it now
  --root <dir>           install into this root file system instead of /; nothing is started
  --help                 print this help
`;

export const UNINSTALL_SERVICE_HELP = `Usage: tether-agent uninstall-service [--purge] [--root dir]    (as root)

Stops and disables the systemd service tether-agent and removes its unit. The agent's identity,
its enrolled consoles, its configuration and its user stay, so that installing it again keeps
every paired console; --purge removes them too (${PATHS.state}, ${PATHS.configDir},
the user tether-agent).

Options:
  --purge                also remove the state folder, the configuration and the user
  --root <dir>           act on this root file system instead of /
  --help                 print this help
`;

export const installOptions = {
  'signaling-url': { type: 'string' },
  token: { type: 'string' },
  'lan-listen': { type: 'string' },
  'agent-id': { type: 'string' },
  name: { type: 'string' },
  'no-start': { type: 'boolean' },
  root: { type: 'string' },
  help: { type: 'boolean' },
} as const;

export const uninstallOptions = { purge: { type: 'boolean' }, root: { type: 'string' }, help: { type: 'boolean' } } as const;

interface Io {
  out(text: string): void;
  err(text: string): void;
}

interface Parsed<V> {
  values: V;
  positionals: string[];
}

type InstallValues = { [K in keyof typeof installOptions]?: (typeof installOptions)[K]['type'] extends 'boolean' ? boolean : string };
type UninstallValues = { purge?: boolean; root?: string; help?: boolean };

/** Runs a command; its output on failure is part of the error. */
function run(command: string, args: string[]): Result<string, string> {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) return err(`${command}: ${result.error.message}`);
  if (result.status !== 0)
    return err(`${command} ${args.join(' ')} failed (exit ${result.status}): ${(result.stderr || result.stdout).trim()}`);
  return ok(result.stdout);
}

/** True when systemd runs this machine (sd_booted()). */
const systemdRuns = () => existsSync('/run/systemd/system');

/** The `name:x:uid:gid:...` entry of a passwd or group file under `root`. */
function entry(root: string, file: 'passwd' | 'group', name: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(join(root, 'etc', file), 'utf8');
  } catch {
    return undefined;
  }
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name);
}

/** A path written into the unit: absolute, and nothing systemd would read as a specifier or a quote. */
const UNIT_SAFE_PATH = /^\/[A-Za-z0-9._+@/-]+$/;

/**
 * What the service will run: this Node.js and this agent's cli.js, both as real absolute paths,
 * and both where the service's user can read them.
 */
function execStart(): Result<{ node: string; cli: string }, string> {
  const node = realpathSync(process.execPath);
  const script = process.argv[1] ? realpathSync(process.argv[1]) : '';
  if (!script.endsWith(`${sep}dist${sep}cli.js`)) {
    return err(
      `install-service runs from an installed agent (…/dist/cli.js), not from ${script || 'here'}: npm install -g the agent's package first`,
    );
  }
  for (const path of [node, script]) {
    if (!UNIT_SAFE_PATH.test(path))
      return err(`${path} has characters a unit's ExecStart cannot take as they are; install Node.js and the agent under a plain path`);
    const hidden = HIDDEN_FROM_SERVICE.find((dir) => path === dir || path.startsWith(`${dir}/`));
    if (hidden) {
      return err(
        `${path} is under ${hidden}, which the service cannot see (ProtectHome/PrivateTmp): install ` +
          (path === node ? 'Node.js' : 'the agent') +
          ' outside it, e.g. npm install -g --prefix /usr/local <tarball>',
      );
    }
    // Every folder on the way must be searchable by others (the service's user owns none of them).
    for (let dir = dirname(path); dir !== '/'; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0)
        return err(`${dir} is not searchable by other users, so the service's user cannot reach ${path}`);
    }
  }
  if ((statSync(node).mode & 0o005) !== 0o005) return err(`${node} is not readable and executable by other users`);
  const dist = dirname(script);
  const unreadable = [dist, join(dist, 'chunks')]
    .filter(existsSync)
    .flatMap((dir) => readdirSync(dir).map((f) => join(dir, f)))
    .find((f) => (statSync(f).mode & 0o004) === 0);
  if (unreadable) return err(`${unreadable} is not readable by other users, so the service's user cannot load the agent`);
  return ok({ node, cli: script });
}

/** The shipped unit with its ExecStart set. */
function unitText(cli: string, node: string): Result<string, string> {
  const template = join(dirname(cli), '..', 'systemd', 'tether-agent.service');
  let text: string;
  try {
    text = readFileSync(template, 'utf8');
  } catch (cause) {
    return err(`cannot read the unit shipped with the agent (${template}): ${(cause as Error).message}`);
  }
  if (!/^ExecStart=.*$/m.test(text)) return err(`${template} has no ExecStart line`);
  return ok(text.replace(/^ExecStart=.*$/m, `ExecStart=${node} ${cli}`));
}

function writeFile(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
}

/** Owner and mode of the state folder and everything in it (files an older `pair` left as root). */
function ownState(dir: string, uid: number, gid: number): void {
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 }); // /var/lib: open to all, as on any host
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const walk = (path: string) => {
    chownSync(path, uid, gid);
    if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
}

function fail(io: Io, message: string): number {
  io.err(`tether-agent: ${message}\n`);
  return 1;
}

export function installService({ values, positionals }: Parsed<InstallValues>, env: NodeJS.ProcessEnv, io: Io): number {
  if (positionals.length > 0) return fail(io, `install-service takes no argument ('${positionals[0]}')`);
  if (process.getuid?.() !== 0) return fail(io, 'install-service must run as root (it creates a user and writes /etc)');
  const root = resolve(values.root ?? '/');
  const at = (path: string) => join(root, path);
  const step = (text: string) => io.out(`install-service: ${text}\n`);

  const exec = execStart();
  if (!exec.ok) return fail(io, exec.error);
  const unit = unitText(exec.value.cli, exec.value.node);
  if (!unit.ok) return fail(io, unit.error);
  if (!entry(root, 'group', DOCKER_GROUP)) {
    return fail(
      io,
      `there is no ${DOCKER_GROUP} group in ${at('/etc/group')}: install the Docker engine first (the agent reaches it through its socket, which that group may use)`,
    );
  }

  // The configuration: the existing file's keys, then the options; checked as the agent will check it.
  const configPath = at(PATHS.config);
  const existing = existsSync(configPath) ? fromFile(configPath) : ok({});
  if (!existing.ok) return fail(io, existing.error);
  const given = Object.fromEntries(
    Object.entries({
      signalingUrl: values['signaling-url'],
      lanListen: values['lan-listen'],
      agentId: values['agent-id'],
      name: values.name,
    }).filter(([, v]) => v !== undefined),
  );
  const config: Record<string, unknown> = { ...existing.value, ...given };
  const envPath = at(PATHS.env);
  const token = values.token ?? (existsSync(envPath) ? /^TETHER_AGENT_TOKEN=(.*)$/m.exec(readFileSync(envPath, 'utf8'))?.[1] : undefined);
  const checked = resolveConfig(config, token !== undefined ? { token } : {}, { stateDir: PATHS.state });
  if (!checked.ok) return fail(io, `${checked.error}\n(give --signaling-url with --token, or --lan-listen, or both)`);
  if (env.TETHER_AGENT_STATE_DIR || config.stateDir) step(`note: the service keeps its state in ${PATHS.state}, whatever stateDir says`);

  // The user, in the docker group.
  writeFile(at(PATHS.sysusers), SYSUSERS, 0o644);
  const users = run('systemd-sysusers', [...(root === '/' ? [] : [`--root=${root}`]), at(PATHS.sysusers)]);
  if (!users.ok) return fail(io, users.error);
  const user = entry(root, 'passwd', SERVICE_USER);
  if (!user) return fail(io, `systemd-sysusers did not create the user ${SERVICE_USER}`);
  const [uid, gid] = [Number(user[2]), Number(user[3])];
  step(`user ${SERVICE_USER} (uid ${uid}) in the ${DOCKER_GROUP} group (${PATHS.sysusers})`);

  ownState(at(PATHS.state), uid, gid);
  step(`state folder ${PATHS.state} (mode 0700, owned by ${SERVICE_USER})`);

  if (Object.keys(given).length > 0 || !existsSync(configPath)) {
    writeFile(configPath, JSON.stringify(config, null, 2) + '\n', 0o644);
    step(`configuration ${PATHS.config}`);
  }
  if (values.token !== undefined) {
    writeFile(envPath, `TETHER_AGENT_TOKEN=${values.token}\n`, 0o600);
    step(`token in ${PATHS.env} (mode 0600, read by systemd only)`);
  }
  writeFile(at(PATHS.unit), unit.value, 0o644);
  step(`unit ${PATHS.unit}: ExecStart=${exec.value.node} ${exec.value.cli}`);

  if (root !== '/' || !systemdRuns()) {
    const enabled = run('systemctl', [`--root=${root}`, 'enable', `${SERVICE_NAME}.service`]);
    if (!enabled.ok) return fail(io, enabled.error);
    step(root !== '/' ? `enabled in ${root}; not started (--root)` : 'enabled; systemd is not running here, so it starts at the next boot');
    return 0;
  }
  for (const args of [['daemon-reload'], ['enable', ...(values['no-start'] ? [] : ['--now']), `${SERVICE_NAME}.service`]]) {
    const done = run('systemctl', args);
    if (!done.ok) return fail(io, done.error);
  }
  if (values['no-start']) {
    step('enabled; start it with systemctl start tether-agent');
    return 0;
  }
  step('enabled and started; its log: journalctl -u tether-agent -f');
  step('pair a console: tether-agent pair');
  return 0;
}

export function uninstallService({ values, positionals }: Parsed<UninstallValues>, _env: NodeJS.ProcessEnv, io: Io): number {
  if (positionals.length > 0) return fail(io, `uninstall-service takes no argument ('${positionals[0]}')`);
  if (process.getuid?.() !== 0) return fail(io, 'uninstall-service must run as root');
  const root = resolve(values.root ?? '/');
  const at = (path: string) => join(root, path);
  const step = (text: string) => io.out(`uninstall-service: ${text}\n`);

  if (existsSync(at(PATHS.unit))) {
    const live = root === '/' && systemdRuns();
    const disabled = run('systemctl', [
      ...(live ? [] : [`--root=${root}`]),
      'disable',
      ...(live ? ['--now'] : []),
      `${SERVICE_NAME}.service`,
    ]);
    if (!disabled.ok) return fail(io, disabled.error);
    rmSync(at(PATHS.unit), { force: true });
    if (live) run('systemctl', ['daemon-reload']);
    step(`stopped, disabled and removed ${PATHS.unit}`);
  } else step(`no ${PATHS.unit}: the service is not installed`);

  if (!values.purge) {
    step(
      `kept ${PATHS.state} (identity, enrolled consoles, audit log), ${PATHS.configDir} and the user ${SERVICE_USER}; --purge removes them`,
    );
    return 0;
  }
  rmSync(at(PATHS.state), { recursive: true, force: true });
  rmSync(at(PATHS.configDir), { recursive: true, force: true });
  rmSync(at(PATHS.sysusers), { force: true });
  if (existsSync(dirname(at(PATHS.sysusers))) && readdirSync(dirname(at(PATHS.sysusers))).length === 0)
    rmSync(dirname(at(PATHS.sysusers)), { recursive: true });
  const rootArgs = root === '/' ? [] : ['--root', root];
  if (entry(root, 'passwd', SERVICE_USER)) {
    const removed = run('userdel', [...rootArgs, SERVICE_USER]);
    if (!removed.ok) return fail(io, removed.error);
  }
  if (entry(root, 'group', SERVICE_USER)) {
    const removed = run('groupdel', [...rootArgs, SERVICE_USER]);
    if (!removed.ok) return fail(io, removed.error);
  }
  step(`removed ${PATHS.state}, ${PATHS.configDir} and the user ${SERVICE_USER}`);
  return 0;
}
