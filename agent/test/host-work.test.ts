/**
 * The host's own work beside a runtime's cores (agent/src/host-work.ts): the kernel's CPU masks
 * read, which of the unbound workqueues' CPUs lie outside those sessions are kept to, and the
 * agent's one log line about it, from a cpumask file of the test's own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { maskCpus, noteHostWorkBeside, workqueueCpusBeside } from '../src/host-work.js';

test('kernel CPU masks: hexadecimal, in 32-bit groups separated by commas', () => {
  assert.deepEqual(maskCpus('3\n'), [0, 1]);
  assert.deepEqual(maskCpus('2'), [1]);
  assert.deepEqual(maskCpus('ff'), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(maskCpus('00000001,00000004'), [2, 32]);
  assert.deepEqual(maskCpus('0'), []);
  assert.equal(maskCpus('0x3'), undefined);
  assert.equal(maskCpus(''), undefined);
});

test("the workqueues' CPUs outside those sessions are kept to", () => {
  assert.deepEqual(workqueueCpusBeside('1', '3'), [0], 'every CPU: the runtime on CPU 0 shares them');
  assert.deepEqual(workqueueCpusBeside('1', '2'), [], 'kept to the sessions CPU: nothing beside the runtime');
  assert.deepEqual(workqueueCpusBeside('2-3', 'f'), [0, 1]);
  assert.deepEqual(workqueueCpusBeside('not a list', 'f'), []);
});

test('the agent says it once per CPU list, and nothing when the mask cannot be read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-host-work-'));
  const mask = join(dir, 'cpumask');
  writeFileSync(mask, '3\n');
  assert.deepEqual(await noteHostWorkBeside('1', mask), [0]);
  assert.deepEqual(await noteHostWorkBeside('1', mask), [], 'said once');
  writeFileSync(mask, '2\n');
  assert.deepEqual(await noteHostWorkBeside('1,3', mask), [], 'kept to the sessions CPUs');
  assert.deepEqual(await noteHostWorkBeside('0', join(dir, 'absent')), []);
});
