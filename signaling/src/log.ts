/**
 * Structured logs: one JSON object per line, `{time, level, module, msg, ...fields}` (the line is
 * @tether/socket-bounds' `logLine`, shared with the agent). Tokens never go into a log line;
 * callers pass only what identifies a connection.
 */
import { boundedLineWriter, levelledLogger, type Logger as LineLogger, type LogLevel } from '@tether/socket-bounds';

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

/**
 * Lines for stdout, written together once per turn of the event loop (and at exit): a line per
 * connection cost a reconnect storm or a mass departure a system call per client, in the middle of
 * the burst. Node writes what the pipe takes and queues the rest; past MAX_QUEUED_LOG_BYTES
 * waiting (a log reader that stalled), lines are dropped and counted rather than held
 * (`boundedLineWriter`). The lines keep their order; at most one turn's worth of them is lost if
 * the process is killed outright.
 */
class BatchedStdout {
  #lines: string[] = [];
  #scheduled = false;
  readonly #write = boundedLineWriter('signaling:log', process.stdout);

  constructor() {
    process.on('exit', () => this.flush());
  }

  write(line: string): void {
    this.#lines.push(line);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#lines.length === 0) return;
    const text = this.#lines.join('\n') + '\n';
    this.#lines = [];
    this.#write(text);
  }
}

let stdout: BatchedStdout | undefined;
const writeStdout = (line: string) => (stdout ??= new BatchedStdout()).write(line);

/** Writes the lines of this turn now (before an exit that waits for stdout to take them). */
export function flushLogs(): void {
  stdout?.flush();
}

export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? writeStdout;
  // The server's lines keep error stacks: an operator reads them, no console does.
  const make = (module: string): Logger => ({ ...levelledLogger(module, () => level, write, true), child: (name) => make(name) });
  return make(options.module ?? 'signaling');
}
