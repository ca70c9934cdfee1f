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
    // One bundle for the product (xterm.js and its addons are most of it), loaded from disk or
    // loopback; the test and bench hooks are chunks of their own, imported only behind their flags.
    chunkSizeWarningLimit: 1500,
    // Fonts stay files: the CSP allows fonts from the app itself ('self'), not data: URLs.
    assetsInlineLimit: (file) => (/\.(woff2?|ttf|otf)$/.test(file) ? false : undefined),
  },
});
