// Bundles Electron's main and preload with esbuild into electron/dist/ (CommonJS: a sandboxed
// preload cannot load ES modules). The renderer is built by Vite (renderer/).
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['electron'],
  sourcemap: true,
  logLevel: 'warning',
};
await build({ ...common, entryPoints: ['electron/main/index.ts'], outfile: 'electron/dist/main.cjs' });
await build({ ...common, entryPoints: ['electron/preload/index.ts'], outfile: 'electron/dist/preload.cjs' });
