/**
 * The agent as a host gets it: `npm pack` of the agent, `npm install -g` of that tarball into an
 * empty prefix (its dependencies from the npm registry, nothing from this repository), and the
 * installed `tether-agent` serving a terminal session to the console. Then its systemd unit, as
 * far as a machine whose pid 1 is not systemd can check it: `systemd-analyze verify`, and the
 * unit's own environment and ExecStart line run as an unprivileged user in the docker group.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureAgentBuilt, startAgent, type AgentProcess } from '../support/agent-process.js';
import { startStack, type Stack } from '../support/stack.js';

const run = promisify(execFile);
const agentDir = fileURLToPath(new URL('../../agent/', import.meta.url));

let stack: Stack;
let installed: AgentProcess | undefined;
let service: ChildProcess | undefined;
let work: string;
let prefix: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tether-install-'));
  prefix = join(work, 'prefix');
  ensureAgentBuilt();
  stack = await startStack({ name: 'install' });
});

after(async () => {
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    await once(service, 'exit');
  }
  await installed?.stop();
  await stack?.close();
  rmSync(work, { recursive: true, force: true });
});

const test = (name: string, body: () => Promise<void>) => it(name, { timeout: 600_000 }, () => stack.guarded(name, body)());

test('the packed agent installs with npm install -g into an empty prefix and serves a session', async () => {
  const { stdout: packed } = await run('npm', ['pack', '--pack-destination', work, '--json'], { cwd: agentDir });
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  const tarball = join(work, filename);
  assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);

  // An empty prefix, outside the repository: only the tarball and the registry can satisfy it.
  await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], {
    cwd: work,
    timeout: 540_000,
  });
  const installedDir = join(prefix, 'lib', 'node_modules', '@tether', 'agent');
  const manifest = JSON.parse(readFileSync(join(installedDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  assert.deepEqual(
    Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith('@tether/')),
    [],
    'the protocol is bundled, not a dependency a host would have to find',
  );
  const bin = join(prefix, 'bin', 'tether-agent');
  const { stdout: version } = await run(bin, ['--version'], { cwd: work });
  assert.match(version.trim(), /\d+\.\d+\.\d+/);

  const container = await stack.startContainer();
  installed = await startAgent({
    executable: bin,
    signalingUrl: stack.signaling.url,
    token: stack.agentToken,
    agentId: 'installed-agent',
    name: 'installed agent',
  });
  const ui = await stack.openConsole();
  const tabId = await ui.openTargetByClick('installed-agent', container.name);
  await ui.waitForPrompt(tabId);
  await ui.typeLine(tabId, 'echo served-by-""installed-agent');
  await ui.waitForLine(tabId, 'served-by-installed-agent');
  assert.equal((await ui.tab(tabId)).state, 'open');
});

/** `Key=value` lines of a unit file, in order, comments and sections left out. */
function unitEntries(text: string): Array<[string, string]> {
  return text.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}

test('the packed agent ships its systemd unit; it verifies, and its ExecStart serves a session as an unprivileged user', async () => {
  const installedDir = join(prefix, 'lib', 'node_modules', '@tether', 'agent');
  const shipped = join(installedDir, 'systemd', 'tether-agent.service');
  assert.ok(existsSync(shipped), 'the unit is in the npm package (package.json "files")');
  const original = readFileSync(shipped, 'utf8');
  const entries = unitEntries(original);
  const get = (key: string) => entries.filter(([k]) => k === key).map(([, v]) => v);
  assert.deepEqual(get('User'), ['tether-agent']);
  assert.deepEqual(get('SupplementaryGroups'), ['docker']);
  assert.deepEqual(get('StateDirectory'), ['tether-agent']);
  assert.deepEqual(get('Restart'), ['always']);

  // The host's paths, moved into this test's folder; the command found where npm put it.
  const etc = join(work, 'etc', 'tether-agent');
  const state = join(work, 'var', 'lib', 'tether-agent');
  const bin = join(prefix, 'bin', 'tether-agent');
  const unit = original
    .replaceAll('/etc/tether-agent', etc)
    .replaceAll('/var/lib/tether-agent', state)
    .replace(/^ExecStart=tether-agent/m, `ExecStart=${bin}`);
  const unitDir = join(work, 'unit');
  mkdirSync(unitDir, { recursive: true });
  writeFileSync(join(unitDir, 'tether-agent.service'), unit);
  const verify = await run('systemd-analyze', ['verify', join(unitDir, 'tether-agent.service')], { cwd: unitDir }).catch((e: { stdout: string; stderr: string; code: number }) => e);
  assert.equal('code' in verify ? verify.code : 0, 0, `systemd-analyze verify failed: ${verify.stderr}`);
  assert.equal(verify.stderr.trim(), '', 'systemd-analyze verify has no complaint');

  // What systemd would set up: the configuration, the secret in the environment file, and the
  // state folder (StateDirectory=) owned by the service's user, here `nobody`.
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, 'config.json'), JSON.stringify({
    signalingUrl: stack.signaling.url, agentId: 'unit-agent', name: 'agent from the unit',
    iceHosts: ['127.0.0.1'], iceInterface: '127.0.0.1', logLevel: 'debug',
  }));
  writeFileSync(join(etc, 'agent.env'), `TETHER_AGENT_TOKEN=${stack.agentToken}\n`, { mode: 0o600 });
  mkdirSync(join(state, '..'), { recursive: true });
  mkdirSync(state, { mode: 0o700 });
  const nobody = Number((await run('id', ['-u', 'nobody'])).stdout.trim());
  const nogroup = Number((await run('id', ['-g', 'nobody'])).stdout.trim());
  const dockerGid = (await run('getent', ['group', 'docker'])).stdout.split(':')[2]!;
  await run('chown', ['-R', `${nobody}:${nogroup}`, state]);
  chmodSync(work, 0o755); // mkdtemp's 0700 would keep `nobody` from the installed agent

  const moved = unitEntries(unit);
  const movedValues = (key: string) => moved.filter(([k]) => k === key).map(([, v]) => v);
  // systemd's environment for a service: its fixed PATH, then Environment= and EnvironmentFile=
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
  for (const value of movedValues('Environment')) env[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
  for (const file of movedValues('EnvironmentFile')) {
    for (const line of readFileSync(file.replace(/^-/, ''), 'utf8').split('\n').filter((l) => l.includes('='))) {
      env[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  const [command, ...args] = movedValues('ExecStart')[0]!.split(/\s+/);
  service = spawn('setpriv', [`--reuid=${nobody}`, `--regid=${nogroup}`, `--groups=${dockerGid}`, '--', command!, ...args], { cwd: state, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  service.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  service.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!log.includes('"msg":"agent ready"')) {
    assert.ok(service.exitCode === null, `the agent exited: ${log}`);
    assert.ok(Date.now() < deadline, `no "agent ready" within 30 s: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(existsSync(join(state, 'identity.json')), 'the identity is in the state folder');

  // A session through it, and once the tab is closed nothing left in the container, though the
  // agent cannot see or signal the session's processes from the host as that user.
  const container = await stack.startContainer();
  const ui = await stack.openConsole();
  const tabId = await ui.openTargetByClick('unit-agent', container.name);
  await ui.waitForPrompt(tabId);
  await ui.typeLine(tabId, 'sleep 4242 & echo served-by-""unit');
  await ui.waitForLine(tabId, /served-by-unit/);
  assert.ok((await container.processes()).some((p) => p.includes('sleep 4242')));
  await ui.closeByClick(tabId);
  const gone = Date.now() + 20_000;
  while ((await container.processes()).some((p) => !/sleep 2147483$/.test(p))) {
    assert.ok(Date.now() < gone, `processes left in the container: ${(await container.processes()).join(' | ')}\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.match(log, /"msg":"session closed"/);
});
