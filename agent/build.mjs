#!/usr/bin/env node
// Bundles the agent into dist/ for Node 20 (ESM): @tether/protocol, @tether/socket-bounds, zod,
// werift, socket.io and socket.io-client are inlined so that `npm install -g` of the tarball is all a
// host needs (the registry has no @tether packages); dockerode stays a real dependency (optional
// native modules). werift is patched at bundle time (WERIFT_PATCHES below); a patch whose text is
// not found fails the build, so a werift upgrade forces a review.
//
//   node agent/build.mjs                        build dist/cli.js and dist/index.js
//   node agent/build.mjs --if-stale             the same, only when dist/ is missing or older than its sources
//   node agent/build.mjs --werift-only <file>   bundle only the patched werift (for tests)
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** Packages not bundled: dockerode (optional native deps), and ws's optional native addons. */
const EXTERNAL = ['dockerode', 'bufferutil', 'utf-8-validate'];

export const WERIFT_PATCHES = [
  {
    why: 'werift #706: popMessages kept startPos after yielding a message, stranding the next complete message of the stream',
    find: 'pos = startPos;\n        yield [chunk.streamId, chunk.protocol, userData];',
    replace: 'pos = startPos;\n        startPos = void 0;\n        yield [chunk.streamId, chunk.protocol, userData];',
  },
  // Under loss the SCTP association can be established (the console's INIT came in) before
  // connect() gets to wait for it; werift then waits for a second "connected" event that never
  // comes, the peer stays "connecting" although its channels work, and the agent's connect timeout
  // closed a working terminal 30 s in (seen at 30 % loss, 300 ms delay: test/e2e/network-faults).
  {
    why: 'connectSctp must not wait for "connected" when the association is already established',
    find: 'await this.sctpTransport.sctp.stateChanged.connected.asPromise();\n    log35("sctp connected");',
    replace:
      'if (this.sctpTransport.sctp.associationState !== 4) await this.sctpTransport.sctp.stateChanged.connected.asPromise();\n' +
      '    log35("sctp connected");',
  },
  // A DTLS client whose ClientHello was retransmitted (a slow or loaded server) gets a second
  // HelloVerifyRequest; werift threw on it and failed the whole connection ("dtls failed"), seen
  // as agent-webrtc.test.ts timing out under load. The server's cookie is the same each time, and
  // the ClientHello with it is already on its way (and retransmitted by its own flight): ignore it.
  {
    why: 'DTLS client: a repeated HelloVerifyRequest is ignored, not a fatal error',
    find: 'if (this.dtls.flight === 3) throw new Error();',
    replace: 'if (this.dtls.flight === 3) return;',
  },
  // After a T3 timeout werift marks every chunk of its sent queue for retransmission, those the
  // peer has already acknowledged in a gap block too. Resending one of those adds it to the flight
  // size again, but no SACK takes it off (the cumulative ack skips chunks marked acked): flightSize
  // leaks. Once the leak reaches cwnd with nothing left in flight, no timer runs and no SACK comes:
  // the association never sends again (the `yes` stall of test/e2e/flood.test.ts; aiortc, which
  // werift follows, has the same bug: aiortc #1342). dcSCTP and Linux never resend gap-acked chunks.
  {
    why: 'SCTP: never retransmit a chunk the peer acknowledged in a gap block (it leaked flightSize and wedged the association)',
    find: 'for (const dataChunk of this.sentQueue) {\n      if (dataChunk.retransmit) {',
    replace:
      'for (const dataChunk of this.sentQueue) {\n' +
      '      if (dataChunk.retransmit && dataChunk.acked) dataChunk.retransmit = false;\n' +
      '      if (dataChunk.retransmit) {',
  },
  // werift sorts the out-of-order TSNs it holds with a bare sort(), which compares them as
  // strings: once they straddle a power of ten (999999999, 1000000000) or the 2^32 wrap, the
  // cumulative TSN stops advancing for good, and with it the peer's window: everything the console
  // sends (acks, keystrokes) stalls. TSNs are compared in serial-number order (RFC 1982) instead,
  // and a gap's offset is taken modulo 2^32 also across the wrap.
  {
    why: 'SCTP: a SACK lists the held TSNs in serial order, not as strings',
    find: '[...this.sackMisOrdered].sort().forEach((tsn) => {\n      const pos = (tsn - this.lastReceivedTsn) % SCTP_TSN_MODULO;',
    replace:
      '[...this.sackMisOrdered].sort((a, b) => a === b ? 0 : uint32Gt(a, b) ? 1 : -1).forEach((tsn) => {\n' +
      '      const pos = (tsn - this.lastReceivedTsn + SCTP_TSN_MODULO) % SCTP_TSN_MODULO;',
  },
  {
    why: 'SCTP: a FORWARD-TSN advances the cumulative TSN over held TSNs in serial order, not as strings',
    find: 'for (const tsn of [...this.sackMisOrdered].sort()) {',
    replace: 'for (const tsn of [...this.sackMisOrdered].sort((a, b) => a === b ? 0 : uint32Gt(a, b) ? 1 : -1)) {',
  },
  {
    why: 'SCTP: a received chunk advances the cumulative TSN over held TSNs in serial order, not as strings',
    find: 'for (const tsn2 of [...this.sackMisOrdered].sort()) {',
    replace: 'for (const tsn2 of [...this.sackMisOrdered].sort((a, b) => a === b ? 0 : uint32Gt(a, b) ? 1 : -1)) {',
  },
  {
    why: 'no STUN fallback when resolving the public address',
    find: 'stunServer ?? ["stun.l.google.com", 19302]',
    replace: 'stunServer',
  },
  {
    why: 'no STUN fallback in the ICE connection: only configured servers',
    find: 'this.stunServer = validateAddress(stunServer) ?? [\n      "stun.l.google.com",\n      19302\n    ];',
    replace: 'this.stunServer = validateAddress(stunServer);',
  },
  {
    why: 'no default STUN server in the peer connection configuration',
    find: 'iceServers: [{ urls: "stun:stun.l.google.com:19302" }],',
    replace: 'iceServers: [],',
  },
  // coturn makes a session's nonce stale after 600 s and answers the next request with an unsigned
  // 438 and a new nonce. Unpatched, werift drops that answer twice over (no MESSAGE-INTEGRITY), and
  // its retry would sign over the old MESSAGE-INTEGRITY and FINGERPRINT: its second Refresh (1000 s)
  // and ChannelBind time out and a relayed terminal stalls. Accepting an unsigned 401/438 is safe:
  // it only makes werift send the request again with the new nonce, signed with the same key; no
  // unsigned success is accepted. See docs/networks.md, "coturn's stale nonce, and werift".
  {
    why: 'TURN: an unsigned 401/438 (stale nonce) must reach the transaction, not fail the MESSAGE-INTEGRITY check (docs/networks.md)',
    find:
      'const verified = transaction.integrityKey ? parseMessage(data, transaction.integrityKey) : message;\n' +
      '          if (!verified) {\n' +
      '            log21("TURN STUN response failed MESSAGE-INTEGRITY check");',
    replace:
      'const errorCode = message.messageClass === 272 ? message.getAttributeValue("ERROR-CODE")?.[0] : void 0;\n' +
      '          const verified = transaction.integrityKey && errorCode !== 401 && errorCode !== 438 ? parseMessage(data, transaction.integrityKey) : message;\n' +
      '          if (!verified) {\n' +
      '            log21("TURN STUN response failed MESSAGE-INTEGRITY check");',
  },
  {
    why: 'TURN: a transaction must not ignore an unsigned 401/438 (stale nonce), or the request times out instead of being re-sent (docs/networks.md)',
    find:
      'if (this.integrityKey) {\n' +
      '      const hasIntegrity = message.attributesKeys.includes("MESSAGE-INTEGRITY") || message.attributesKeys.includes("MESSAGE-INTEGRITY-SHA256");',
    replace:
      'const errorCode = message.messageClass === 272 ? message.getAttributeValue("ERROR-CODE")?.[0] : void 0;\n' +
      '    if (this.integrityKey && errorCode !== 401 && errorCode !== 438) {\n' +
      '      const hasIntegrity = message.attributesKeys.includes("MESSAGE-INTEGRITY") || message.attributesKeys.includes("MESSAGE-INTEGRITY-SHA256");',
  },
  {
    why: 'TURN: the retry after a 401/438 must be signed afresh, not over the first attempt\'s MESSAGE-INTEGRITY and FINGERPRINT (docs/networks.md)',
    find: 'request.transactionId = randomTransactionId();\n        [message, address] = await this.request(request, this.server);',
    replace:
      'request.attributes = request.attributes.filter(([name]) => name !== "MESSAGE-INTEGRITY" && name !== "FINGERPRINT");\n' +
      '        request.transactionId = randomTransactionId();\n' +
      '        [message, address] = await this.request(request, this.server);',
  },
];

/** Applies every patch exactly once; throws when one does not apply or Google STUN remains. */
export function patchWerift(source) {
  let text = source;
  for (const patch of WERIFT_PATCHES) {
    const count = text.split(patch.find).length - 1;
    if (count !== 1) {
      throw new Error(`werift patch not applicable (${count} matches): ${patch.why}. Review agent/build.mjs against the new werift.`);
    }
    text = text.replace(patch.find, () => patch.replace);
  }
  if (text.includes('stun.l.google.com')) throw new Error('werift still mentions stun.l.google.com after patching');
  return text;
}

const weriftPlugin = {
  name: 'werift-patches',
  setup(build) {
    build.onLoad({ filter: /[\\/]werift[\\/]lib[\\/]index\.mjs$/ }, async (args) => ({
      contents: patchWerift(await readFile(args.path, 'utf8')),
      loader: 'js',
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
  // Bundled CommonJS code calls require() for Node built-ins.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __tetherCreateRequire } from 'node:module';\nconst require = __tetherCreateRequire(import.meta.url);",
  },
};

export async function build() {
  // Chunk names carry a hash: without this, every earlier build's chunks stay in dist and ship in the package.
  await rm(join(here, 'dist'), { recursive: true, force: true });
  await esbuild.build({
    ...common,
    entryPoints: { cli: join(here, 'src/cli.ts'), index: join(here, 'src/index.ts'), 'tether-exec': join(here, 'exec/tether-exec.ts') },
    outdir: join(here, 'dist'),
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    plugins: [weriftPlugin, loggerNamePlugin],
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
    ['src', 'build.mjs', 'package.json', '../protocol/src', '../socket-bounds/src'].map((p) => newest(join(here, p))),
  );
  if (built === 0 || built < Math.max(...sources)) await build();
}

export async function buildWeriftOnly(outfile) {
  await esbuild.build({
    ...common,
    stdin: { contents: "export * from 'werift';", resolveDir: here, loader: 'js' },
    outfile,
    plugins: [weriftPlugin],
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--werift-only');
  try {
    if (at > 0) await buildWeriftOnly(process.argv[at + 1] ?? join(here, 'dist-test/werift.mjs'));
    else if (process.argv.includes('--if-stale')) await buildIfStale();
    else await build();
  } catch (error) {
    console.error(`agent build failed: ${error.message}`);
    process.exit(1);
  }
}
