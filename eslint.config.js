// ESLint for the whole monorepo. The import-boundary rule keeps each folder in its own process
// (STYLE.md "The house"): a file imports only from its own process and from `@tether/protocol`
// (the two Node Socket.IO servers, signaling and the agent, also from `@tether/socket-bounds`),
// and never reaches into another package's sources by a relative path.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const otherPackages = (...folders) =>
  folders.map((folder) => ({
    group: [`**/${folder}/*`, `**/${folder}`, `../${folder}/**`, `../../${folder}/**`],
    message: `import across the process boundary: only @tether/protocol is shared (STYLE.md), and @tether/socket-bounds between the Node servers.`,
  }));

const protocolByPath = {
  group: ['**/protocol/src/**', '**/protocol/dist/**'],
  message: 'import the protocol by name, `@tether/protocol`, never by path.',
};

const socketBoundsByPath = {
  group: ['**/socket-bounds/src/**', '**/socket-bounds/dist/**'],
  message: 'import the bounds by name, `@tether/socket-bounds`, never by path.',
};

const nodeBuiltins = {
  group: ['node:*'],
  message: 'this code runs outside Node; no Node built-ins.',
};

const boundary = (patterns, paths = []) => ({
  'no-restricted-imports': ['error', { patterns, paths }],
});

const nodeModuleNames = [
  'fs',
  'path',
  'os',
  'child_process',
  'net',
  'http',
  'https',
  'crypto',
  'stream',
  'util',
  'events',
  'dgram',
  'tls',
  'zlib',
];

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'test-results/**', 'bench/results.json'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['protocol/src/**/*.ts'],
    rules: boundary(
      [...otherPackages('agent', 'signaling', 'socket-bounds', 'renderer', 'electron'), nodeBuiltins],
      [
        ...nodeModuleNames.map((name) => ({ name, message: 'protocol/ runs everywhere: no Node built-ins.' })),
        { name: 'socket.io', message: 'protocol/ has no runtime dependency on Socket.IO.' },
        { name: 'socket.io-client', message: 'protocol/ has no runtime dependency on Socket.IO.' },
        { name: 'werift', message: 'protocol/ has no runtime dependency on werift.' },
        { name: 'electron', message: 'protocol/ has no runtime dependency on Electron.' },
      ],
    ),
  },
  {
    // Shared by two processes, so it may import from neither; Socket.IO and Node only as types, so
    // that its one runtime dependency stays @tether/protocol.
    files: ['socket-bounds/src/**/*.ts'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...otherPackages('agent', 'signaling', 'renderer', 'electron'),
            protocolByPath,
            { group: ['node:*'], allowTypeImports: true, message: 'the bounds use Node only as types.' },
          ],
          paths: [
            ...nodeModuleNames.map((name) => ({ name, allowTypeImports: true, message: 'the bounds use Node only as types.' })),
            { name: 'socket.io', allowTypeImports: true, message: 'the bounds use Socket.IO only as types: the server is the caller’s.' },
            { name: 'engine.io', allowTypeImports: true, message: 'the bounds use engine.io only as types.' },
            { name: 'werift', message: 'the bounds never touch WebRTC.' },
            { name: 'dockerode', message: 'the bounds never touch Docker.' },
          ],
        },
      ],
    },
  },
  {
    files: ['agent/src/**/*.ts'],
    languageOptions: { globals: { ...globals.node } },
    rules: boundary([...otherPackages('signaling', 'renderer', 'electron'), protocolByPath, socketBoundsByPath]),
  },
  {
    files: ['signaling/src/**/*.ts'],
    languageOptions: { globals: { ...globals.node } },
    rules: boundary(
      [...otherPackages('agent', 'renderer', 'electron'), protocolByPath, socketBoundsByPath],
      [
        { name: 'werift', message: 'the signaling server never touches WebRTC media or data.' },
        { name: 'dockerode', message: 'the signaling server never touches Docker.' },
      ],
    ),
  },
  {
    // The agent and the node measure durations on the monotonic clock (performance.now()): a host's
    // wall clock is stepped (NTP after a week offline, a real-time clock reset at boot), and a
    // duration read off it runs backwards, so a wait never ends or ends at once. Date.now() is for
    // timestamps and for what is defined on the wall clock (a token's expiry, a certificate's dates).
    files: ['agent/src/**/*.ts', 'signaling/src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "BinaryExpression[operator=/^([-+<>]|<=|>=)$/] > CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'a duration on the wall clock breaks when the clock is stepped: use performance.now().',
        },
      ],
    },
  },
  {
    files: ['renderer/src/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: boundary(
      [...otherPackages('agent', 'signaling', 'socket-bounds', 'electron'), protocolByPath, nodeBuiltins],
      [
        ...nodeModuleNames.map((name) => ({ name, message: 'the renderer runs in the browser: no Node built-ins.' })),
        { name: 'electron', message: 'the renderer reaches the host only through the preload API (window.tether).' },
        { name: 'werift', message: 'the renderer uses Chromium’s own RTCPeerConnection.' },
      ],
    ),
  },
  {
    files: ['electron/**/*.ts'],
    languageOptions: { globals: { ...globals.node } },
    rules: boundary([...otherPackages('agent', 'signaling', 'socket-bounds', 'renderer'), protocolByPath]),
  },
  {
    files: ['**/test/**/*.ts', 'harness/**/*.ts', 'bench/**/*.ts', 'scripts/**'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
);
