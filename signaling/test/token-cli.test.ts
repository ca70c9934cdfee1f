/**
 * `tether-signaling token issue|revoke` on the built CLI (dist/cli.js), against a server the same
 * CLI runs: an issued token connects, and revoking it disconnects the live connection.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { nextEvent } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli.js');
const SECRET = 'cli-signing-secret-0123456789abcdef-0123';

function token(...args: string[]): { code: number; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [cli, 'token', ...args], {
    encoding: 'utf8',
    env: { ...process.env, TETHER_SIGNALING_TOKEN_SECRET: SECRET },
  });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

// The CLI is the one `npm run build` made before the tests (scripts/run-tests.mjs): rebuilding it
// here emptied dist/ under the other files that run the server from it at the same time.
before(() => {
  assert.ok(existsSync(cli), `${cli} is missing: run \`npm run build\` first`);
});

test('token --help prints the usage and exits 0, as the agent subcommands do', () => {
  for (const flag of ['--help', '-h']) {
    const help = token(flag);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /token issue --role agent\|console --org/);
  }
});

test('token issue prints a token; bad requests exit 2 with the reason', () => {
  const issued = token('issue', '--role', 'agent', '--org', 'acme', '--subject', 'plc-1', '--ttl', '2h');
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stdout, /^tst1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
  assert.match(issued.stderr, /agent plc-1 in org acme, expires/);
  assert.match(token('issue', '--role', 'admin', '--org', 'a', '--subject', 'b').stderr, /--role must be agent or console/);
  assert.equal(token('issue', '--role', 'console', '--subject', 'b').code, 2);
  assert.match(token('issue', '--role', 'console', '--org', 'a', '--subject', 'b', '--ttl', 'soon').stderr, /not a duration/);
  const noSecret = spawnSync(process.execPath, [cli, 'token', 'issue', '--role', 'console', '--org', 'a', '--subject', 'b'], {
    encoding: 'utf8',
    env: { ...process.env, TETHER_SIGNALING_TOKEN_SECRET: '' },
  });
  assert.equal(noSecret.status, 2);
  assert.match(noSecret.stderr, /no token secret/);
});

test('a token issued by the CLI connects to the CLI server; token revoke disconnects it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-signaling-cli-'));
  const revocations = join(dir, 'revoked.jsonl');
  const server = spawn(process.execPath, [cli, '--port', '0', '--host', '127.0.0.1', '--revocations', revocations], {
    env: { ...process.env, TETHER_SIGNALING_TOKEN_SECRET: SECRET, TETHER_SIGNALING_CONSOLE_TOKENS: '', TETHER_SIGNALING_AGENT_TOKENS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => server.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: server.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry['msg'] === 'signaling listening') resolve(entry['url'] as string);
    });
    server.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });

  const issued = token('issue', '--role', 'console', '--org', 'acme', '--subject', 'alice').stdout.trim();
  const socket = io(url, { auth: { role: 'console', token: issued }, transports: ['websocket'], reconnection: false });
  t.after(() => socket.disconnect());
  assert.deepEqual(await nextEvent(socket, 'presence:snapshot'), { seq: 0, agents: [] });

  const error = nextEvent(socket, 'signal:error', 5000);
  const revoked = token('revoke', issued, '--revocations', revocations);
  assert.equal(revoked.code, 0, revoked.stderr);
  const jti = /^revoked (\S+)\n$/.exec(revoked.stdout)?.[1];
  assert.ok(jti, revoked.stdout);
  assert.deepEqual(await error, { code: 'UNAUTHORIZED', message: `token ${jti} was revoked` });
  assert.equal(statSync(revocations).mode & 0o777, 0o600);
  assert.equal((JSON.parse(readFileSync(revocations, 'utf8').trim()) as { jti: string }).jti, jti);
  assert.match(token('revoke', 'not a token!', '--revocations', revocations).stderr, /neither a token id nor a tst1 token/);

  server.kill('SIGTERM');
  const [code] = await once(server, 'exit');
  assert.equal(code, 0);
});

test('token revoke takes a token id that begins with a dash, before or after its options', () => {
  const revocations = join(mkdtempSync(join(tmpdir(), 'tether-revoke-')), 'revoked.txt');
  const first = token('revoke', '-85eD_OG5eytE57i', '--revocations', revocations);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^revoked -85eD_OG5eytE57i\n$/);
  const second = token('revoke', `--revocations=${revocations}`, '--dashes-id');
  assert.equal(second.code, 0, second.stderr);
  assert.match(readFileSync(revocations, 'utf8'), /-85eD_OG5eytE57i[\s\S]*--dashes-id/);
  assert.equal(token('revoke', '-short', '--revocations', revocations).code, 2, 'still checked as a token id');
});
