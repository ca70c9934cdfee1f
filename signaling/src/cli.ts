import { readFileSync } from 'node:fs';
import { exitOnceWritten, SERVICE_EXIT_WRITE_WAIT_MS } from '@tether/socket-bounds';
import packageJson from '../package.json' with { type: 'json' };
import { loadConfig, USAGE } from './config.js';
import { createJsonLogger, flushLogs, moduleName } from './log.js';
import { startSignalingServer } from './server.js';
import { runTokenCommand } from './token-command.js';

async function main(): Promise<void> {
  if (process.argv[2] === 'token') {
    process.exitCode = runTokenCommand(process.argv.slice(3), {
      env: process.env,
      readFile: (path) => readFileSync(path, 'utf8'),
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
    return;
  }
  const outcome = loadConfig(process.argv.slice(2), process.env, (path) => readFileSync(path, 'utf8'));
  switch (outcome.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'version':
      process.stdout.write(`${packageJson.version}\n`);
      return;
    case 'error':
      process.stderr.write(`tether-signaling: ${outcome.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
  }
  const { config } = outcome;
  const logger = createJsonLogger({ level: config.logLevel });
  const log = logger.child(moduleName(import.meta.url));
  for (const warning of outcome.warnings) log.warn(warning);

  const server = await startSignalingServer({ ...config, logger });
  log.info('signaling listening', {
    url: server.url,
    port: server.port,
    host: config.host,
    version: packageJson.version,
    cluster: config.redisUrl === undefined ? 'single node' : 'redis',
    redisAdapter: config.redisUrl === undefined ? undefined : (config.redisAdapter ?? 'sharded'),
    turnUrls: config.turn?.urls,
    turnTtlSeconds: config.turn?.ttlSeconds,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('second signal, exiting without a clean close', { signal });
      process.exit(1);
    }
    stopping = true;
    log.info('stopping', { signal });
    // The last lines go to stdout before the exit, which waits (a little) for a slow log reader.
    server.close().then(
      () => {
        flushLogs();
        exitOnceWritten(0, SERVICE_EXIT_WRITE_WAIT_MS);
      },
      (error: unknown) => {
        log.error('close failed', { error });
        flushLogs();
        exitOnceWritten(1, SERVICE_EXIT_WRITE_WAIT_MS);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  createJsonLogger().error('signaling failed to start', { error });
  process.exitCode = 1;
});
