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
  assert.match(readFileSync(join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid} [0-9a-f-]{36} \\d+\n$`));
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

const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};

test('a lock whose pid now belongs to another process (pid reused after a crash) is taken over', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-lock-'));
  // process.ppid is alive, but it is not the process that wrote this lock: another start time.
  writeFileSync(join(dir, LOCK_FILE), `${process.ppid} ${bootId()} 1\n`);
  const lock = lockStateDir(dir);
  assert.ok(lock.ok, lock.ok ? '' : lock.error);
  lock.value.release();
});

test('a lock from before a reboot is taken over, even when its pid is alive now', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-lock-'));
  writeFileSync(join(dir, LOCK_FILE), `${process.ppid} 00000000-0000-4000-8000-000000000000 ${startOf(process.ppid)}\n`);
  const lock = lockStateDir(dir);
  assert.ok(lock.ok, lock.ok ? '' : lock.error);
  lock.value.release();
});

test("a lock naming this process's own pid from an earlier start (pid 1 in a container) is taken over", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-lock-'));
  writeFileSync(join(dir, LOCK_FILE), `${process.pid} ${bootId()} 1\n`);
  const lock = lockStateDir(dir);
  assert.ok(lock.ok, lock.ok ? '' : lock.error);
  lock.value.release();
});

test('a live agent that wrote the pid only (older agents) still holds its lock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-lock-'));
  writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`);
  const lock = lockStateDir(dir);
  assert.ok(!lock.ok && lock.error.includes(`pid ${process.ppid}`), JSON.stringify(lock));
});

test('a state folder the agent cannot create is an error with a sentence, not an exception', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tether-lock-')), 'a-file');
  writeFileSync(file, '');
  const lock = lockStateDir(join(file, 'state'));
  assert.ok(!lock.ok && lock.error.startsWith('cannot use the state folder'), JSON.stringify(lock));
});
