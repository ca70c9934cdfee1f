#!/usr/bin/env node
// `npm start`: builds the renderer (Vite) and Electron's main and preload (esbuild), then runs the
// console in Electron. Arguments after `--` go to the console, e.g.
// `npm start -- --signal=http://127.0.0.1:7300 --token=…`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const run = (command, args) => {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

function electronBinary() {
  try {
    const path = createRequire(import.meta.url)('electron');
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch (error) {
    console.error(`start: ${error.message}`);
    return undefined;
  }
}

run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'renderer', '--logLevel', 'warn']);
run(process.execPath, ['electron/build.mjs']);
const electron = electronBinary();
if (!electron) {
  console.error(
    [
      'start: the Electron binary is not installed, so the desktop console cannot start here.',
      '  npm install does not download it (package.json allowScripts; the bootstrap of npm test and npm run demo skips it).',
      '  Where downloads work: `node node_modules/electron/install.js`, then `npm start` again.',
      '  Meanwhile the same console runs in Chromium: `npm run demo` serves it and prints its URL.',
    ].join('\n'),
  );
  process.exit(1);
}
const child = spawn(electron, ['.', ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
