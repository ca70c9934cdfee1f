import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  // Workspace packages are bundled from their TypeScript sources (their `source` export condition).
  resolve: { conditions: ['source', 'browser', 'module', 'import', 'default'] },
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // One bundle (xterm.js and its addons are most of it), loaded from disk or loopback: no split.
    chunkSizeWarningLimit: 1500,
  },
});
