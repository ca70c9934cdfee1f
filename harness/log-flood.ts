/**
 * A child for signaling/test/log-writer.test.ts: writes `lines` numbered log lines of ~1 KB to
 * stdout through `boundedLineWriter` (bound `maxQueued` bytes), 100 a turn, as a busy server logs,
 * then says on stderr how much stdout held at most; after a byte on stdin, one more line, and it
 * exits once stdout has taken it. With `exitWaitMs`, it exits at once instead, as a stopping server
 * does (`exitOnceWritten` waiting at most that long for stdout).
 *
 *   node --conditions=source --import tsx harness/log-flood.ts <maxQueued> <lines> [exitWaitMs]
 */
import { boundedLineWriter, exitOnceWritten } from '@tether/socket-bounds';

const maxQueued = Number(process.argv[2]);
const lines = Number(process.argv[3]);
const exitWaitMs = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
const write = boundedLineWriter('flood', process.stdout, maxQueued);
const pad = 'x'.repeat(1000);
let n = 0;
let mostQueued = 0;
const turn = () => {
  let text = '';
  for (let i = 0; i < 100 && n < lines; i++) text += `${n++} ${pad}\n`;
  write(text);
  mostQueued = Math.max(mostQueued, process.stdout.writableLength);
  if (n < lines) return void setImmediate(turn);
  process.stderr.write(`${JSON.stringify({ written: n, mostQueued })}\n`);
  if (exitWaitMs !== undefined) return exitOnceWritten(0, exitWaitMs);
  process.stdin.once('data', () => {
    write(`${n} last\n`);
    process.stdout.write('', () => process.exit(0));
  });
};
turn();
