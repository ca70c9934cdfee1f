/**
 * `tether-agent`: reads the configuration, starts the agent, stops it cleanly on SIGTERM/SIGINT.
 * Exit codes: 0 after a clean stop; 1 when the start failed (one line on stderr says why) or the
 * stop left something undone (a session's processes, audit records); 2 for a bad configuration or
 * a state folder another agent holds; 128 + n for signal n received before the agent was ready.
 */
import { constants as osConstants } from 'node:os';
import { exitOnceWritten, SERVICE_EXIT_WRITE_WAIT_MS } from '@tether/socket-bounds';
import { isCommand } from './command-names.js';
import { installDebugStats } from './debug-stats.js';
import { HELP, loadConfig } from './config.js';
import { createLogger, setLogLevel } from './log.js';
import { AGENT_VERSION } from './version.js';

const log = createLogger(import.meta.url);

/** Runs the CLI; resolves with the exit code once the agent has stopped (or at once for --help). */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Loaded on demand: a subcommand does not load werift and Socket.IO, and prints in a fraction of a second.
  if (isCommand(argv))
    return (await import('./commands.js')).runCommand(argv, env, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
  const request = loadConfig(argv, env);
  if (!request.ok) {
    process.stderr.write(`tether-agent: ${request.error}\n`);
    return 2;
  }
  if (request.value.kind === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (request.value.kind === 'version') {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }
  const config = request.value.config;
  setLogLevel(config.logLevel);
  const { Agent } = await import('./agent.js');
  const agent = new Agent(config);
  const stopDebugStats = installDebugStats(env, () => agent.counts());
  let ready = false;
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info('signal received', { signal });
      stopDebugStats();
      // A stop before the agent served is no clean end: 128 + the signal's number, as a shell says.
      const early = !ready;
      void agent.stop(`signal ${signal}`).then((clean) => resolve(early ? 128 + (osConstants.signals[signal] ?? 0) : clean ? 0 : 1));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: reason }));
  const started = await agent.start();
  if (!started.ok) {
    // One line that says why, on stderr and in the log; a non-zero exit, so that a supervisor
    // (systemd's Restart=always) starts the agent again, and it comes back once the cause is gone.
    const reason = started.error.message.replace(/\s*\n\s*/g, '; ');
    log.error('agent failed to start', { code: started.error.code, error: reason });
    process.stderr.write(`tether-agent: ${reason}\n`);
    stopDebugStats();
    await agent.stop('start failed');
    // Another agent on the state folder is a configuration error, like a bad flag.
    return started.error.code === 'STATE_LOCKED' ? 2 : 1;
  }
  ready = true;
  return stopped;
}

void main(process.argv.slice(2), process.env).then(
  (code) => exitOnceWritten(code, SERVICE_EXIT_WRITE_WAIT_MS),
  (cause: unknown) => {
    process.stderr.write(`tether-agent: ${String(cause instanceof Error ? cause.message : cause).replace(/\s*\n\s*/g, '; ')}\n`);
    exitOnceWritten(1, SERVICE_EXIT_WRITE_WAIT_MS);
  },
);
