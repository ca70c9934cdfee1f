/**
 * A real coturn on 127.0.0.1 for the tests of werift's TURN client (agent/test/werift-turn-*.test.ts):
 * TURN REST API credentials from `secret` (as tether-signaling issues them), loopback peers
 * allowed, no TLS, DTLS or TCP relay. `args` add to that: `--no-tcp` or `--no-udp`, a short
 * `--stale-nonce`, `--verbose` for a log line per answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoopbackCoturn {
  port: number;
  /** every line it logged so far */
  lines: string[];
  stop(): Promise<void>;
}

export async function startLoopbackCoturn(secret: string, port: number, args: readonly string[] = []): Promise<LoopbackCoturn> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-coturn-'));
  const child: ChildProcess = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip',
      '127.0.0.1',
      '--relay-ip',
      '127.0.0.1',
      '--listening-port',
      String(port),
      '--use-auth-secret',
      '--static-auth-secret',
      secret,
      '--realm',
      'tether.test',
      '--allow-loopback-peers',
      '--no-tls',
      '--no-dtls',
      '--no-tcp-relay',
      '--no-cli',
      '--log-file',
      'stdout',
      '--simple-log',
      '--pidfile',
      join(dir, 'turnserver.pid'),
      '--userdb',
      join(dir, 'turndb'),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let rest = '';
    const onData = (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
      if (parts.some((line) => line.includes('Total General servers'))) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`turnserver exited with ${code}:\n${lines.slice(-40).join('\n')}`)));
  });
  return {
    port,
    lines,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** TURN REST API credentials (what tether-signaling issues): `<expiry>:<who>`, HMAC-SHA1 of it with the secret. */
export function turnRestCredentials(secret: string, who: string): { username: string; password: string } {
  const username = `${Math.floor(Date.now() / 1000) + 600}:${who}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
}
