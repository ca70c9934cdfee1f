/** Builds the console renderer with Vite when its bundle is missing or older than its sources. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const rendererRoot = fileURLToPath(new URL('../renderer', import.meta.url));
export const rendererDist = join(rendererRoot, 'dist');
const sources = [
  join(rendererRoot, 'src'),
  join(rendererRoot, 'index.html'),
  join(rendererRoot, 'vite.config.ts'),
  fileURLToPath(new URL('../protocol/src', import.meta.url)),
];

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, entry) => Math.max(newest, newestMtime(join(path, entry))), stat.mtimeMs);
}

export async function ensureRendererBuilt(): Promise<string> {
  const index = join(rendererDist, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources.map(newestMtime))) return rendererDist;
  const { build } = await import('vite');
  await build({ configFile: join(rendererRoot, 'vite.config.ts'), logLevel: 'warn' });
  return rendererDist;
}
