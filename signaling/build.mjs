#!/usr/bin/env node
// Bundles the CLI (dist/cli.js) and the library entry (dist/index.js) for Node ESM with everything
// inside: @tether/protocol, @tether/socket-bounds and zod (the registry has no @tether packages),
// and Socket.IO, Engine.IO and ws as patched in node_modules (patches/, applied at `npm ci`), the
// Redis adapter and ioredis; so the package has no runtime dependency, installs offline, and an
// installed server runs the same patched code as a clone. Then emits the library's declarations
// (dist/index.d.ts) with tsc.
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

// Each module names its logger from import.meta.url; in one bundle every module would share the
// bundle's URL, so give each source file a URL that keeps its own name.
const keepModuleNames = {
  name: 'keep-module-names',
  setup(b) {
    b.onLoad({ filter: /[\\/]signaling[\\/]src[\\/][^\\/]+\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const url = JSON.stringify(`tether:signaling/src/${basename(args.path)}`);
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

const common = {
  absWorkingDir: here,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['source'],
  // ws's optional native add-ons: it runs without them (and tries them only if installed).
  external: ['bufferutil', 'utf-8-validate'],
  // CommonJS dependencies in an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __tetherRequire } from 'node:module'; const require = __tetherRequire(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
  plugins: [keepModuleNames],
};

await rm(join(here, 'dist'), { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  banner: { js: `#!/usr/bin/env node\n${common.banner.js}` },
});
await build({ ...common, entryPoints: { index: 'src/index.ts' }, outdir: 'dist' });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const types = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.build.json')], { stdio: 'inherit' });
if (types.status !== 0) process.exit(types.status ?? 1);
