import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { nextEvent } from './support.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const nodeArgs = ['--conditions=source', '--import', 'tsx', cli];

function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stderr: () => stderr };
}

test('refuses to start without tokens, exit code 2', async () => {
  const { child, stderr } = start(['--port', '0'], { TETHER_SIGNALING_CONSOLE_TOKENS: '', TETHER_SIGNALING_AGENT_TOKENS: '' });
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(stderr(), /no console token/);
});

test('logs JSON, says where it listens, serves, and closes on SIGTERM', async (t) => {
  const consoleToken = 'cli-console-token-0123456789';
  const { child } = start(['--port', '0', '--host', '127.0.0.1', '--agent-token', 'cli-agent-token-0123456789'], {
    TETHER_SIGNALING_CONSOLE_TOKENS: consoleToken,
  });
  t.after(() => child.kill('SIGKILL'));
  const lines: Record<string, unknown>[] = [];
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry['msg'] === 'signaling listening') resolve(entry['url'] as string);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });
  const url = await listening;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const socket = io(url, { auth: { role: 'console', token: consoleToken }, transports: ['websocket'], reconnection: false });
  t.after(() => socket.disconnect());
  assert.deepEqual(await nextEvent(socket, 'presence:snapshot'), { seq: 0, agents: [] });
  const ended = nextEvent(socket, 'disconnect');

  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  await ended;
  for (const entry of lines) {
    assert.equal(typeof entry['time'], 'string');
    assert.ok(['debug', 'info', 'warn', 'error'].includes(entry['level'] as string));
    assert.match(entry['module'] as string, /^signaling:/);
  }
  assert.ok(lines.some((entry) => entry['msg'] === 'console connected'));
  assert.ok(!JSON.stringify(lines).includes(consoleToken), 'tokens are never logged');
});

test('--version prints the package version', async () => {
  const { child } = start(['--version']);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.match(out, /^\d+\.\d+\.\d+\n$/);
});
