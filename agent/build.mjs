#!/usr/bin/env node
// Bundles the agent into dist/ for Node 20 (ESM): @tether/protocol, @tether/socket-bounds, zod,
// werift, socket.io, socket.io-client and dockerode are inlined so that `npm install -g` of the
// tarball is all a host needs (the registry has no @tether packages). The Docker transports the
// agent never uses are left out (UNUSED below): ssh2 (ssh:// hosts; 17 MB of WASM and an optional
// native module) and gRPC/protobuf (BuildKit sessions and builds). werift is bundled as installed: `npm ci` patches it in node_modules with
// patch-package (agent/patches, agent/WERIFT.md), and the build refuses a werift that lacks a patch.
//
//   node agent/build.mjs                        build dist/cli.js and dist/index.js
//   node agent/build.mjs --if-stale             the same, only when dist/ is missing or older than its sources
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { assertWeriftPatched } from './werift-patches.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** Packages not bundled: ws's optional native addons (ws runs without them). */
const EXTERNAL = ['bufferutil', 'utf-8-validate'];

/**
 * Modules that dockerode and docker-modem require but the agent never runs: an ssh:// Docker host,
 * BuildKit sessions and builds. Each is replaced by a stand-in that loads for free and throws, with
 * a clear message, only if called. Together they were about a third of the agent's idle memory.
 */
const UNUSED = ['ssh2', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs'];
const unusedModulesPlugin = {
  name: 'unused-modules',
  setup(build) {
    const filter = new RegExp(`^(${UNUSED.map((name) => name.replace(/[/.]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'unused-module' }));
    build.onLoad({ filter: /.*/, namespace: 'unused-module' }, (args) => ({
      loader: 'js',
      contents: `const fail = () => { throw new Error(${JSON.stringify(`${args.path} is not part of tether-agent: ssh:// Docker hosts and BuildKit are not supported`)}); };
const unusable = function () { return fail(); };
module.exports = new Proxy(unusable, { get: (target, key) => (key === '__esModule' || typeof key === 'symbol' ? undefined : unusable) });`,
    }));
  },
};

/** Each module's logger is named after its file; in one bundle `import.meta.url` cannot say which. */
const loggerNamePlugin = {
  name: 'logger-names',
  setup(build) {
    build.onLoad({ filter: /[\\/]agent[\\/]src[\\/][^\\/]+\.ts$/ }, async (args) => {
      const name = JSON.stringify(basename(args.path, '.ts'));
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replaceAll('createLogger(import.meta.url)', `createLogger(${name})`), loader: 'ts' };
    });
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['source'],
  external: EXTERNAL,
  logLevel: 'warning',
  legalComments: 'none',
  // ASCII: V8 keeps a script with any non-ASCII character as UTF-16, twice the memory.
  charset: 'ascii',
  minifyWhitespace: true,
  // Bundled CommonJS code calls require() for Node built-ins.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __tetherCreateRequire } from 'node:module';\nconst require = __tetherCreateRequire(import.meta.url);",
  },
};

export async function build() {
  assertWeriftPatched();
  // Chunk names carry a hash: without this, every earlier build's chunks stay in dist and ship in the package.
  await rm(join(here, 'dist'), { recursive: true, force: true });
  await esbuild.build({
    ...common,
    entryPoints: { cli: join(here, 'src/cli.ts'), index: join(here, 'src/index.ts'), 'tether-exec': join(here, 'exec/tether-exec.ts') },
    outdir: join(here, 'dist'),
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    plugins: [loggerNamePlugin, unusedModulesPlugin],
  });
}

/** Newest modification time under `path` (a file or a folder), in ms. */
async function newest(path) {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  const times = await Promise.all((await readdir(path)).map((name) => newest(join(path, name))));
  return Math.max(info.mtimeMs, ...times);
}

/**
 * Builds dist/ only when it is missing or older than what it is made of. Test files call this
 * rather than build(): they run side by side, and build() empties dist/ under the feet of the
 * agents the others run (`npm test` and scripts/run-tests.mjs build it before the files start).
 */
export async function buildIfStale() {
  const built = await newest(join(here, 'dist', 'cli.js'));
  const sources = await Promise.all(
    // werift as patched in place (a patch added or edited and applied), which the bundle carries.
    ['src', 'exec', 'build.mjs', 'package.json', '../protocol/src', '../socket-bounds/src', 'node_modules/werift/lib/index.mjs'].map((p) =>
      newest(join(here, p)),
    ),
  );
  if (built === 0 || built < Math.max(...sources)) await build();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    if (process.argv.includes('--if-stale')) await buildIfStale();
    else await build();
  } catch (error) {
    console.error(`agent build failed: ${error.message}`);
    process.exit(1);
  }
}
