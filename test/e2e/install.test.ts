/**
 * The agent as a host gets it: `npm pack` of the agent, `npm install -g` of that tarball into an
 * empty prefix outside /usr (its dependencies from the npm registry, nothing from this repository),
 * and the installed `tether-agent` serving a terminal session to the console. Then
 * `tether-agent install-service` into a temporary root, as far as a machine whose pid 1 is not
 * systemd can check it: the user, the state folder and the enablement it made there, its unit
 * through `systemd-analyze verify` and `security`, and the unit's own environment and ExecStart
 * line run as the user it created, in the docker group; `pair` through that running service, and
 * `uninstall-service` undoing it. And the signaling server's tarball, installed offline (it
 * bundles its dependencies), relaying an agent's presence to a console.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureAgentBuilt, startAgent, type AgentProcess } from '../../harness/agent-process.js';
import { startStack, type Stack } from '../../harness/stack.js';

const run = promisify(execFile);
const agentDir = fileURLToPath(new URL('../../agent/', import.meta.url));

let stack: Stack;
let installed: AgentProcess | undefined;
let service: ChildProcess | undefined;
let work: string;
let prefix: string;

before(async () => {
  // Not under /tmp: the unit's PrivateTmp= would hide an agent installed there from the service,
  // and install-service refuses such a path.
  work = mkdtempSync('/opt/tether-install-');
  chmodSync(work, 0o755); // the service's user must reach the agent and its state folder
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
  // --ignore-scripts: the agent's prepack would rebuild dist/ (removing it first) under the feet of
  // the test files that run beside this one; `npm run build` has built it (ensureAgentBuilt above).
  const { stdout: packed } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], { cwd: agentDir });
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
    extraArgs: stack.exposeArgs,
  });
  const ui = await stack.openConsole();
  const tabId = await ui.openTargetByClick('installed-agent', container.name);
  await ui.waitForPrompt(tabId);
  await ui.typeLine(tabId, 'echo served-by-""installed-agent');
  await ui.waitForLine(tabId, 'served-by-installed-agent');
  assert.equal((await ui.tab(tabId)).state, 'open');
});

test('the packed signaling server installs offline (it has no dependencies: Socket.IO and its patches are bundled) and relays presence', async () => {
  const signalingDir = fileURLToPath(new URL('../../signaling/', import.meta.url));
  // --ignore-scripts, as for the agent: `npm run build` has built dist/.
  const { stdout: packed } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], { cwd: signalingDir });
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  const serverPrefix = join(work, 'signaling-prefix');
  // --offline: nothing may come from the registry, so nothing may be needed from it.
  await run('npm', ['install', '-g', '--offline', '--prefix', serverPrefix, '--no-audit', '--no-fund', join(work, filename)], {
    cwd: work,
    timeout: 120_000,
  });
  const manifest = JSON.parse(readFileSync(join(serverPrefix, 'lib', 'node_modules', '@tether', 'signaling', 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  assert.deepEqual(manifest.dependencies ?? {}, {}, 'no runtime dependency');
  assert.deepEqual(readdirSync(join(serverPrefix, 'lib', 'node_modules')), ['@tether'], 'nothing installed beside it');

  const consoleToken = 'install-console-token-0123456789';
  const agentToken = 'install-agent-token-0123456789';
  const server = spawn(join(serverPrefix, 'bin', 'tether-signaling'), ['--port', '0', '--host', '127.0.0.1'], {
    cwd: work,
    env: { ...process.env, TETHER_SIGNALING_CONSOLE_TOKENS: consoleToken, TETHER_SIGNALING_AGENT_TOKENS: agentToken },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /"msg":"signaling listening","url":"([^"]+)"/.exec(output);
        if (listening) resolve(listening[1]!.replace('localhost', '127.0.0.1'));
      });
      server.once('exit', (code) => reject(new Error(`tether-signaling exited with ${code}: ${output}`)));
    });
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const agent = await startAgent({
      signalingUrl: url,
      token: agentToken,
      agentId: 'behind-installed-signaling',
      name: 'behind the installed server',
    });
    try {
      // A console of the documented protocol: the snapshot lists the agent.
      const { io } = await import('socket.io-client');
      const socket = io(url, { auth: { role: 'console', token: consoleToken }, transports: ['websocket'], reconnection: false });
      try {
        const snapshot = await new Promise<{ agents: { agentId: string }[] }>((resolve, reject) => {
          socket.once('presence:snapshot', resolve);
          socket.once('connect_error', reject);
        });
        assert.ok(
          snapshot.agents.some((a) => a.agentId === 'behind-installed-signaling'),
          JSON.stringify(snapshot),
        );
      } finally {
        socket.disconnect();
      }
    } finally {
      await agent.stop();
    }
  } finally {
    server.kill('SIGTERM');
    if (server.exitCode === null) await once(server, 'exit');
  }
});

/** `Key=value` lines of a unit file, in order, comments and sections left out. */
function unitEntries(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}

const failed = (e: { stdout: string; stderr: string; code: number }) => e;
const exitCode = (r: { stdout: string; stderr: string } | { code: number }) => ('code' in r ? r.code : 0);

test('install-service into a temporary root: user, state folder, a unit that verifies; it serves a session as that user, pair goes through it, uninstall-service undoes it', async () => {
  const installedDir = join(prefix, 'lib', 'node_modules', '@tether', 'agent');
  assert.ok(existsSync(join(installedDir, 'systemd', 'tether-agent.service')), 'the unit is in the npm package (package.json "files")');
  // Node.js, too, where nvm or a tarball would put it: outside /usr, so the unit cannot find it by PATH.
  const node = join(prefix, 'node', 'bin', 'node');
  mkdirSync(join(prefix, 'node', 'bin'), { recursive: true });
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  const cli = join(installedDir, 'dist', 'cli.js');

  // A root file system with the host's docker group, as on a host with the Docker engine.
  const root = join(work, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  const dockerGroup = (await run('getent', ['group', 'docker'])).stdout.trim();
  const dockerGid = dockerGroup.split(':')[2]!;
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc', 'group'), `root:x:0:\n${dockerGroup.split(':').slice(0, 3).join(':')}:\n`);
  const before = listTree(root);

  const installed = await run(
    node,
    [
      cli,
      'install-service',
      '--root',
      root,
      '--signaling-url',
      stack.signaling.url,
      '--token',
      stack.agentToken,
      '--lan-listen',
      '127.0.0.1:0',
      '--agent-id',
      'unit-agent',
      '--name',
      'agent from the unit',
    ],
    { cwd: work },
  );
  assert.match(installed.stdout, /user tether-agent \(uid \d+\) in the docker group/);

  // The user, in the docker group; its state folder; the configuration and the secret.
  const user = readFileSync(join(root, 'etc', 'passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('tether-agent:'))
    ?.split(':');
  assert.ok(user, 'the service user exists');
  const [uid, gid] = [Number(user[2]), Number(user[3])];
  assert.match(readFileSync(join(root, 'etc', 'group'), 'utf8'), /^docker:x:\d+:tether-agent$/m);
  const state = join(root, 'var', 'lib', 'tether-agent');
  const stateStat = statSync(state);
  assert.deepEqual([stateStat.uid, stateStat.gid, stateStat.mode & 0o777], [uid, gid, 0o700]);
  const etc = join(root, 'etc', 'tether-agent');
  assert.deepEqual(JSON.parse(readFileSync(join(etc, 'config.json'), 'utf8')), {
    signalingUrl: stack.signaling.url,
    lanListen: '127.0.0.1:0',
    agentId: 'unit-agent',
    name: 'agent from the unit',
  });
  assert.equal(statSync(join(etc, 'agent.env')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(etc, 'agent.env'), 'utf8'), `TETHER_AGENT_TOKEN=${stack.agentToken}\n`);

  // The unit: the shipped one with the absolute paths of this Node.js and this agent; enabled.
  const unitPath = join(root, 'etc', 'systemd', 'system', 'tether-agent.service');
  const unit = readFileSync(unitPath, 'utf8');
  const entries = unitEntries(unit);
  const get = (key: string) => entries.filter(([k]) => k === key).map(([, v]) => v);
  assert.deepEqual(get('ExecStart'), [`${node} ${cli}`]);
  assert.deepEqual(get('User'), ['tether-agent']);
  assert.deepEqual(get('SupplementaryGroups'), ['docker']);
  assert.deepEqual(get('StateDirectory'), ['tether-agent']);
  assert.deepEqual(get('Restart'), ['always']);
  assert.ok(
    lstatSync(join(root, 'etc', 'systemd', 'system', 'multi-user.target.wants', 'tether-agent.service')).isSymbolicLink(),
    'enabled',
  );
  const verify = await run('systemd-analyze', ['verify', unitPath], { cwd: work }).catch(failed);
  assert.equal('code' in verify ? verify.code : 0, 0, `systemd-analyze verify failed: ${verify.stderr}`);
  assert.equal(verify.stderr.trim(), '', 'systemd-analyze verify has no complaint');
  const security = await run('systemd-analyze', ['security', '--offline=yes', unitPath], { cwd: work }).catch(failed);
  const level = /Overall exposure level for tether-agent\.service: ([\d.]+) (\w+)/.exec(security.stdout + security.stderr);
  assert.ok(level, security.stdout + security.stderr);
  assert.ok(['PERFECT', 'SAFE', 'OK'].includes(level[2]!), `exposure ${level[1]} ${level[2]}`);

  // The service as systemd would start it: the unit's environment with /etc and /var/lib moved
  // under the root, and its ExecStart, as the user install-service made, with only the docker group.
  const moved = unitEntries(unit.replaceAll('/etc/tether-agent', etc).replaceAll('/var/lib/tether-agent', state));
  const movedValues = (key: string) => moved.filter(([k]) => k === key).map(([, v]) => v);
  // (systemd also sets HOME, USER and LOGNAME from the user's entry, which is not in this host's passwd)
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    HOME: state,
    USER: 'tether-agent',
    LOGNAME: 'tether-agent',
  };
  for (const value of movedValues('Environment')) env[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
  for (const file of movedValues('EnvironmentFile')) {
    for (const line of readFileSync(file.replace(/^-/, ''), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))) {
      env[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  const [command, ...args] = movedValues('ExecStart')[0]!.split(/\s+/);
  service = spawn('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, `--groups=${dockerGid}`, '--', command!, ...args], {
    cwd: state,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  service.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  service.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  while (!log.includes('"msg":"agent ready"') || !existsSync(join(state, 'agent.sock'))) {
    assert.ok(service.exitCode === null, `the agent exited: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(existsSync(join(state, 'identity.json')), 'the identity is in the state folder');

  // pair, as root, goes through the running service: every file in its folder stays the service's.
  const paired = await run(node, [cli, 'pair', '--no-qr', '--state-dir', state], { cwd: work });
  assert.match(paired.stdout, /tether\d+:[A-Za-z0-9_-]+/);
  assert.equal(paired.stderr, '', 'no warning: the service listens on its LAN endpoint');
  for (const file of readdirSync(state)) assert.deepEqual([file, statSync(join(state, file)).uid], [file, uid]);
  assert.match(log, /"msg":"control request","op":"pair","ok":true/);

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
  while ((await container.processes()).some((p) => !/sleep 2147483$/.test(p))) {
    await new Promise((r) => setTimeout(r, 250));
  }
  // The agent logs the close once its cleanup is done, which may be after the processes are gone.
  while (!/"msg":"session closed"/.test(log)) await new Promise((r) => setTimeout(r, 100));
  service.kill('SIGTERM');
  await once(service, 'exit');

  // uninstall-service: the unit and its enablement go, the identity and the user stay; --purge
  // removes those too, and the root is as it was (but for the backups and the lock file of the shadow tools).
  const kept = await run(node, [cli, 'uninstall-service', '--root', root], { cwd: work });
  assert.match(kept.stdout, /kept \/var\/lib\/tether-agent/);
  assert.equal(existsSync(unitPath), false);
  assert.equal(existsSync(join(root, 'etc', 'systemd', 'system', 'multi-user.target.wants', 'tether-agent.service')), false);
  assert.ok(existsSync(join(state, 'identity.json')));
  await run(node, [cli, 'uninstall-service', '--root', root, '--purge'], { cwd: work });
  assert.equal(existsSync(state), false);
  assert.doesNotMatch(readFileSync(join(root, 'etc', 'passwd'), 'utf8'), /tether-agent/);
  assert.doesNotMatch(readFileSync(join(root, 'etc', 'group'), 'utf8'), /tether-agent/);
  const left = listTree(root).filter(
    (p) => !before.includes(p) && !/^etc\/(passwd-|group-|shadow-?|gshadow-?|\.pwd\.lock)$/.test(p) && !/^(etc\/systemd|var)/.test(p),
  );
  assert.deepEqual(left, [], 'uninstall-service --purge leaves nothing of the service');
});

test('install-service refuses an agent the service could not see, and needs the docker group', async () => {
  // From the repository's own build: not an installed package.
  const root = join(work, 'refused-root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\n');
  const fromSource = await run(
    process.execPath,
    [join(agentDir, 'dist', 'cli.js'), 'install-service', '--root', root, '--lan-listen', '0.0.0.0:7301'],
    { cwd: work },
  ).catch(failed);
  const installedCli = join(prefix, 'lib', 'node_modules', '@tether', 'agent', 'dist', 'cli.js');
  const noDocker = await run(
    join(prefix, 'node', 'bin', 'node'),
    [installedCli, 'install-service', '--root', root, '--lan-listen', '0.0.0.0:7301'],
    { cwd: work },
  ).catch(failed);
  assert.equal(exitCode(noDocker), 1);
  assert.match(noDocker.stderr, /there is no docker group in .*\/etc\/group: install the Docker engine first/);
  assert.deepEqual(listTree(root), ['etc', 'etc/group'], 'nothing written');
  // The repository checkout itself is a real agent too; when it sits where the service cannot
  // see it (under /tmp, /root or /home), it is refused with the reason; elsewhere it passes this step.
  const hidden = ['/tmp/', '/root/', '/home/', '/var/tmp/'].some((dir) => agentDir.startsWith(dir) || process.execPath.startsWith(dir));
  if (hidden) {
    assert.equal(exitCode(fromSource), 1);
    assert.match(fromSource.stderr, /which the service cannot see/);
  } else assert.match(fromSource.stderr, /no docker group/);
});

/** Every path under `dir`, relative, sorted. */
function listTree(dir: string, base = ''): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true })
    .flatMap((e) => {
      const rel = base ? `${base}/${e.name}` : e.name;
      return e.isDirectory() ? [rel, ...listTree(dir, rel)] : [rel];
    })
    .sort();
}
