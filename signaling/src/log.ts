/**
 * Structured logs: one JSON object per line, `{time, level, module, msg, ...fields}` (the line is
 * @tether/socket-bounds' `logLine`, shared with the agent). Tokens never go into a log line;
 * callers pass only what identifies a connection.
 */
import { levelledLogger, type Logger as LineLogger, type LogLevel } from '@tether/socket-bounds';

export { isLogLevel, LOG_LEVELS, type LogFields, type LogLevel } from '@tether/socket-bounds';

export interface Logger extends LineLogger {
  /** The same sink and level, under another module name. */
  child(module: string): Logger;
}

export interface JsonLoggerOptions {
  level?: LogLevel;
  module?: string;
  /** Where lines go; stdout by default. */
  write?: (line: string) => void;
}

/** A module's log name, derived from its file URL: `.../signaling/src/relay.ts` → `signaling:relay`. */
export function moduleName(fileUrl: string): string {
  const file = fileUrl.split(/[\\/]/).pop() ?? fileUrl;
  return `signaling:${file.replace(/\.[cm]?[jt]s$/, '')}`;
}

export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  // The server's lines keep error stacks: an operator reads them, no console does.
  const make = (module: string): Logger => ({ ...levelledLogger(module, () => level, write, true), child: (name) => make(name) });
  return make(options.module ?? 'signaling');
}
