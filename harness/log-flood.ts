/**
 * A child for signaling/test/log-writer.test.ts: writes `lines` numbered log lines of ~1 KB to
 * stdout through `boundedLineWriter` (bound `maxQueued` bytes), 100 a turn, as a busy server logs,
 * then says on stderr how much stdout held at most; after a byte on stdin, one more line, and it
 * exits once stdout has taken it.
 *
 *   node --conditions=source --import tsx harness/log-flood.ts <maxQueued> <lines>
 */
import { boundedLineWriter } from '@tether/socket-bounds';

const maxQueued = Number(process.argv[2]);
const lines = Number(process.argv[3]);
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
  process.stdin.once('data', () => {
    write(`${n} last\n`);
    process.stdout.write('', () => process.exit(0));
  });
};
turn();
