/**
 * The agent's subcommands through the built CLI: `--help` of each, `consoles list|revoke` on a
 * state folder, and `pair` and `consoles revoke` acting through a running agent's control socket
 * or, with none, under the folder's lock and as its owner. Console ids are base64url and may begin
 * with '-' (a CI run once drew one): revoke must take them as ids.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { parsePairingToken } from '@tether/protocol';
import { PairingStore } from '../src/trust/pairings.js';
import { AgentProcess } from '../../harness/lan-agent.js';
import { TestConsole, until } from '../../harness/werift-console.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tether-commands-'));
chmodSync(work, 0o755); // mkdtemp's 0700 would keep the service user (nobody) out of its own folder
const stateDir = join(work, 'listed');
mkdirSync(stateDir, { mode: 0o700 });
const fingerprint = (byte: string) => Array.from({ length: 32 }, () => byte).join(':');
const consoles = ['-85eD_OG5eytE57izuVV5g', '--dashes', 'plain-id'].map((id, i) => ({
  id,
  name: `console ${i}`,
  publicKey: `key-${i}`,
  fingerprint: fingerprint(`A${i}`),
  enrolledAt: new Date().toISOString(),
}));
const hostile = {
  id: 'hostile-id',
  publicKey: 'key-h',
  fingerprint: fingerprint('B0'),
  enrolledAt: new Date().toISOString(),
  // clears the screen, retitles the window, a C1 CSI, a right-to-left override
  name: 'evil\x1b[2J\x1b]0;pwned\x07\u009b31m\u202egnp.exe',
};
writeFileSync(join(stateDir, 'consoles.json'), JSON.stringify({ consoles: [...consoles, hostile] }));

after(() => rmSync(work, { recursive: true, force: true }));

const cliRun = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

const revokedIds = () =>
  (JSON.parse(readFileSync(join(stateDir, 'consoles.json'), 'utf8')) as { consoles: { id: string; revokedAt?: string }[] }).consoles
    .filter((c) => c.revokedAt)
    .map((c) => c.id)
    .sort();

test('every subcommand answers --help with its usage and exit 0', () => {
  for (const args of [
    ['--help'],
    ['pair', '--help'],
    ['consoles', '--help'],
    ['consoles', 'list', '--help'],
    ['consoles', 'revoke', '--help'],
    ['install-service', '--help'],
    ['uninstall-service', '--help'],
  ]) {
    const result = cliRun(args);
    assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stdout, /^Usage: tether-agent/, args.join(' '));
  }
  const wrong = cliRun(['pair', '--bogus']);
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /Unknown option '--bogus'[\s\S]*tether-agent pair --help/);
});

test('--help names every environment variable the configuration reads', () => {
  const help = cliRun(['--help']).stdout;
  const source = readFileSync(fileURLToPath(new URL('../src/config-sources.ts', import.meta.url)), 'utf8');
  const read = [...source.matchAll(/\be\('([A-Z_]+)'\)/g)].map((m) => `TETHER_AGENT_${m[1]}`);
  assert.ok(read.length >= 10, `found the variables read: ${read.join(', ')}`);
  assert.deepEqual(
    read.filter((name) => !help.includes(name)),
    [],
    'read but not in --help',
  );
});

test('--help tells the exec user the agent uses and that a LAN endpoint alone is enough', () => {
  const help = cliRun(['--help']).stdout;
  assert.match(help, /--user <user>[\s\S]*default: 1000:1000/);
  assert.doesNotMatch(help, /the container's\)/);
  assert.doesNotMatch(help, /--signaling-url <url>[^\n]*\(required\)/);
  assert.match(help, /--signaling-url <url>[\s\S]*--lan-listen/);
});

test('consoles list prints a console name with escape sequences escaped, as text and as JSON', () => {
  const list = cliRun(['consoles', 'list', '--state-dir', stateDir]);
  assert.equal(list.status, 0, list.stderr);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(list.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/, 'no control character reaches the terminal');
  assert.ok(list.stdout.includes('evil\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u{202e}gnp.exe'), list.stdout);
  const json = cliRun(['consoles', 'list', '--json', '--state-dir', stateDir]);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(json.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  const parsed = JSON.parse(json.stdout) as { name: string }[];
  assert.equal(parsed.find((c) => c.name.startsWith('evil'))?.name, hostile.name, 'the JSON still parses to the exact name');
});

test('consoles revoke takes an id that begins with a dash, before or after --state-dir', () => {
  assert.match(
    execFileSync(process.execPath, [cli, 'consoles', 'revoke', '-85eD_OG5eytE57izuVV5g', '--state-dir', stateDir], { encoding: 'utf8' }),
    /^revoked -85eD_OG5eytE57izuVV5g \(console 0\)/,
  );
  assert.match(
    execFileSync(process.execPath, [cli, 'consoles', 'revoke', '--state-dir', stateDir, '--dashes'], { encoding: 'utf8' }),
    /^revoked --dashes/,
  );
  assert.deepEqual(revokedIds(), ['--dashes', '-85eD_OG5eytE57izuVV5g']);
  const list = execFileSync(process.execPath, [cli, 'consoles', 'list', '--state-dir', stateDir], { encoding: 'utf8' });
  assert.match(list, /^plain-id\s+active/m);
});

test('consoles revoke of an unknown id says so and changes nothing', () => {
  const result = cliRun(['consoles', 'revoke', '-nobody', '--state-dir', stateDir]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /-nobody/);
  assert.deepEqual(revokedIds(), ['--dashes', '-85eD_OG5eytE57izuVV5g']);
});

/** The `msg: control request` lines an agent logged. */
const controlRequests = (agent: AgentProcess) =>
  agent.logs
    .split('\n')
    .filter((l) => l.includes('"msg":"control request"'))
    .map((l) => JSON.parse(l) as { op: string; ok: boolean });

test('with an agent running, pair and consoles revoke act through it: it writes its own files, and the token names its LAN endpoint', async () => {
  const dir = join(work, 'running');
  const agent = await AgentProcess.start(dir);
  try {
    const lock = readFileSync(join(dir, 'agent.lock'), 'utf8');
    const paired = cliRun(['pair', '--no-qr', '--state-dir', dir]);
    assert.equal(paired.status, 0, paired.stderr);
    assert.equal(paired.stderr, '', 'no warning: the agent listens on its LAN endpoint');
    const token = parsePairingToken(/tether\d+:[A-Za-z0-9_-]+/.exec(paired.stdout)?.[0] ?? '');
    assert.ok(token.ok, paired.stdout);
    assert.deepEqual(token.value.endpoints, [agent.url.replace('http://', '')], 'the endpoint the agent listens on');
    assert.equal(token.value.agentId, 'rules-agent');
    assert.equal(token.value.fingerprint, agent.fingerprint);
    assert.equal(readFileSync(join(dir, 'agent.lock'), 'utf8'), lock, "the agent's lock is untouched");

    // The console enrolls with it; revoking goes through the agent too.
    const c = await TestConsole.create();
    await c.open(agent.url);
    const ack = await c.enroll(token.value);
    assert.ok(ack.ok, JSON.stringify(ack));
    const listed = cliRun(['consoles', 'list', '--state-dir', dir]);
    assert.match(listed.stdout, /active/);
    const id = listed.stdout.split(/\s+/)[0]!;
    const revoked = cliRun(['consoles', 'revoke', id, '--state-dir', dir]);
    assert.equal(revoked.status, 0, revoked.stderr);
    c.close();
    // the agent's log arrives through a pipe: wait for the third line, then check all three
    await until(() => controlRequests(agent).length >= 3 || undefined, 'three control requests in the log');
    assert.deepEqual(
      controlRequests(agent).map((r) => `${r.op}:${r.ok}`),
      ['pair:true', 'consoles:true', 'revoke:true'],
    );
  } finally {
    await agent.stop();
  }
  assert.equal(existsSync(join(dir, 'agent.sock')), false, 'the socket goes with the agent');
});

test('pair warns when the running agent has no LAN endpoint to pair through', async () => {
  const dir = join(work, 'cloud-only');
  const child = spawn(
    process.execPath,
    [cli, '--signaling-url', 'http://127.0.0.1:9', '--token', 't', '--state-dir', dir, '--agent-id', 'cloud-only'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    while (!existsSync(join(dir, 'agent.sock'))) {
      assert.equal(child.exitCode, null, log);
      await new Promise((r) => setTimeout(r, 50));
    }
    const paired = cliRun(['pair', '--no-qr', '--state-dir', dir]);
    assert.equal(paired.status, 0, paired.stderr);
    assert.match(paired.stderr, /warning: the agent is not listening on a LAN endpoint/);
    assert.match(paired.stdout, /tether2:/);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});

test('with no agent running, pair writes under the state lock: another holder of the lock makes it refuse', async () => {
  const dir = join(work, 'idle');
  mkdirSync(dir, { mode: 0o700 });
  const paired = cliRun(['pair', '--no-qr', '--state-dir', dir, '--agent-id', 'idle-agent']);
  assert.equal(paired.status, 0, paired.stderr);
  assert.match(paired.stderr, /warning: no agent is running on/);
  assert.equal(existsSync(join(dir, 'agent.lock')), false, 'the lock is released');
  const pending = () => (JSON.parse(readFileSync(join(dir, 'pairings.json'), 'utf8')) as { pairings: unknown[] }).pairings.length;
  assert.equal(pending(), 1);

  // A process that holds the lock and has no control socket: an agent that cannot be asked.
  const stateLock = fileURLToPath(new URL('../src/trust/state-lock.ts', import.meta.url));
  const holder = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const { lockStateDir } = await import(${JSON.stringify(stateLock)}); lockStateDir(${JSON.stringify(dir)}); console.log('held'); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await once(holder.stdout, 'data');
    for (const args of [
      ['pair', '--no-qr'],
      ['consoles', 'revoke', 'anything'],
    ]) {
      const refused = cliRun([...args, '--state-dir', dir]);
      assert.equal(refused.status, 1, refused.stdout);
      assert.match(refused.stderr, new RegExp(`the agent running on .* \\(pid ${holder.pid}\\) does not answer on agent.sock`));
    }
    assert.equal(pending(), 1, 'nothing was written beside the holder');
  } finally {
    holder.kill();
    await once(holder, 'exit');
  }
});

test('as root, pair on a state folder owned by the service user leaves only files that user owns', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root, to run pair for another user');
  const dir = join(work, 'service');
  mkdirSync(dir, { mode: 0o700 });
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const nogroup = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
  chownSync(dir, nobody, nogroup);
  const paired = cliRun(['pair', '--no-qr', '--state-dir', dir, '--agent-id', 'service-agent']);
  assert.equal(paired.status, 0, paired.stderr);
  const files = readdirSync(dir);
  assert.ok(files.includes('pairings.json') && files.includes('identity.json'), files.join(' '));
  for (const file of files) assert.deepEqual([file, statSync(join(dir, file)).uid], [file, nobody]);
});

test('as root, pair refuses to create the state folder of a service that is not installed', (t) => {
  if (process.getuid?.() !== 0) return t.skip('the refusal is for root, whose default is the service folder');
  const result = cliRun(['pair', '--no-qr', '--state-dir', join(work, 'absent')]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /there is no agent state folder at .*absent: install the agent as a service first/);
  assert.equal(existsSync(join(work, 'absent')), false);
});

test('an unreadable pairings file is reported to the console without a host path', () => {
  const dir = join(work, 'damaged');
  mkdirSync(dir);
  writeFileSync(join(dir, 'pairings.json'), '{not json');
  const spent = new PairingStore(dir).spend(
    'agent',
    { pairingId: 'AAAAAAAAAAA', publicKey: 'k', fingerprint: fingerprint('C0'), consoleName: 'c', proof: 'p' },
    'console',
  );
  assert.ok(!spent.ok);
  assert.equal(spent.error.code, 'INTERNAL');
  assert.ok(!spent.error.message.includes(dir) && !spent.error.message.includes('/'), spent.error.message);
});
