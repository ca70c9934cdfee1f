import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const logModule = fileURLToPath(new URL('../src/log.ts', import.meta.url));

test('stdout logs written together per turn keep their order and reach stdout, even when the process exits at once', () => {
  // A burst of lines in one turn, then more in the next, then process.exit before the next turn.
  const script = `
    import { createJsonLogger } from ${JSON.stringify(logModule)};
    const log = createJsonLogger({ level: 'info' });
    for (let i = 0; i < 500; i++) log.info('burst', { i });
    log.debug('below the level');
    setImmediate(() => {
      log.warn('next turn', { i: 500 });
      log.info('before exit', { i: 501 });
      process.exit(3);
    });
  `;
  const child = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(child.status, 3, child.stderr);
  const lines = child.stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { msg: string; i: number });
  assert.deepEqual(
    lines.map((line) => line.i),
    Array.from({ length: 502 }, (_, i) => i),
  );
  assert.equal(lines.filter((line) => line.msg === 'burst').length, 500);
  assert.equal(lines.at(-1)?.msg, 'before exit');
});
