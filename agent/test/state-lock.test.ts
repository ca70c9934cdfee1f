import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOCK_FILE, lockStateDir } from '../src/trust/state-lock.js';

test('one holder per state folder; release removes only our own lock', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tether-lock-')), 'state');
  const first = lockStateDir(dir);
  assert.ok(first.ok);
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`);
  const second = lockStateDir(dir, process.ppid);
  assert.ok(!second.ok && second.error.includes(`another tether-agent (pid ${process.pid})`), JSON.stringify(second));
  first.value.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  const third = lockStateDir(dir);
  assert.ok(third.ok);
  writeFileSync(join(dir, LOCK_FILE), '1\n'); // someone else's now
  third.value.release();
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), '1\n');
});

test("a dead process's lock is taken over", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-lock-'));
  const dead = spawn(process.execPath, ['-e', '']);
  await once(dead, 'exit');
  writeFileSync(join(dir, LOCK_FILE), `${dead.pid}\n`);
  const lock = lockStateDir(dir);
  assert.ok(lock.ok, lock.ok ? '' : lock.error);
  lock.value.release();
});
