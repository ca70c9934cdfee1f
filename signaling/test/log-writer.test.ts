/**
 * Log lines wait for stdout in memory up to a bound (`boundedLineWriter`, used by the signaling
 * node's and the agent's loggers): a log reader that stalls must not make a long-running process
 * grow without end. A real child process logs 20 MB while nothing reads its stdout; it holds no
 * more than the bound, drops and counts the rest, and says so once its reader is back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TIMEOUT_MS } from './support.js';

const flood = fileURLToPath(new URL('../../harness/log-flood.ts', import.meta.url));
const BOUND = 512 * 1024;
const LINES = 20_000;

test(
  'a stalled stdout holds at most the bound; the lines past it are counted and the count is logged',
  { timeout: TIMEOUT_MS * 2 },
  async () => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', flood, String(BOUND), String(LINES)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Nobody reads stdout until every line has been logged.
    child.stdout.pause();
    const report = await new Promise<{ written: number; mostQueued: number }>((resolve, reject) => {
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const line = stderr.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as { written: number; mostQueued: number });
      });
      child.on('exit', (code) => reject(new Error(`the child exited (${code}) before its report: ${stderr}`)));
    });
    assert.equal(report.written, LINES);
    // One turn's text (100 lines) may go in on top of a queue just under the bound.
    assert.ok(report.mostQueued <= BOUND + 110_000, `stdout held ${report.mostQueued} bytes for a bound of ${BOUND}`);

    const out: Buffer[] = [];
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Once the reader is back and the queue has drained, the count comes without another line
    // logged; then one more line, which must not be dropped.
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out.push(chunk);
        if (Buffer.concat(out.slice(-2)).includes('log lines dropped')) resolve();
      });
      child.stdout.resume();
    });
    child.stdin.write('x');
    assert.equal(await closed, 0);

    const lines = Buffer.concat(out).toString().split('\n').filter(Boolean);
    const numbered = lines.filter((l) => /^\d+ /.test(l)).map((l) => Number(l.split(' ')[0]));
    const notices = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string; dropped: number });
    assert.equal(notices.length, 1, lines.filter((l) => l.startsWith('{')).join('\n'));
    assert.equal(notices[0]!.level, 'warn');
    assert.match(notices[0]!.msg, /log lines dropped/);
    // Every line is either written, in order, or counted as dropped; the one after the stall is there.
    assert.ok(notices[0]!.dropped > 0);
    assert.equal(numbered.length - 1 + notices[0]!.dropped, LINES);
    assert.deepEqual(
      numbered,
      [...numbered].sort((a, b) => a - b),
    );
    assert.equal(numbered.at(-1), LINES);
  },
);

test('a process that stops while its stdout is stalled exits after the bounded wait, not never', { timeout: TIMEOUT_MS }, async () => {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', flood, String(BOUND), String(LINES), '300'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // Nothing ever reads stdout: the queued lines cannot be written, and the exit must not wait for them.
  child.stdout.pause();
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  child.stdout.destroy();
});
