#!/usr/bin/env node
// `npm run typecheck`: `tsc -p` for each process's project (each has its own libs and module
// resolution, so one program cannot check them all), several at a time: they are independent, and
// one tsc uses one core. Prints each project's errors when it is done; exits 1 if any has errors.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

/** Largest first, so that the last one to start is a short one. */
const PROJECTS = ['test', 'agent', 'test/unit/renderer', 'renderer', 'signaling', 'electron', 'protocol/test', 'socket-bounds', 'protocol'];

const concurrency = Math.max(1, Number(process.env.TETHER_TYPECHECK_CONCURRENCY) || availableParallelism());

function check(project) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', project, '--pretty'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ project, code: 1, output: `${output}${String(error)}\n` }));
    child.on('close', (code) => resolve({ project, code: code ?? 1, output }));
  });
}

const queue = [...PROJECTS];
const failed = [];
await Promise.all(
  Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let project = queue.shift(); project !== undefined; project = queue.shift()) {
      const { code, output } = await check(project);
      if (code !== 0) {
        failed.push(project);
        process.stdout.write(`typecheck: tsc -p ${project} failed:\n${output}`);
      } else if (output.trim()) process.stdout.write(output);
    }
  }),
);
if (failed.length > 0) {
  console.error(`typecheck: errors in ${failed.join(', ')}`);
  process.exit(1);
}
