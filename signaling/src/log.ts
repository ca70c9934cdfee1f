/**
 * Structured logs: one JSON object per line, `{time, level, module, msg, ...fields}`.
 * Tokens never go into a log line; callers pass only what identifies a connection.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The same sink and level, under another module name. */
  child(module: string): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const RESERVED = new Set(['time', 'level', 'module', 'msg']);

export interface JsonLoggerOptions {
  level?: LogLevel;
  module?: string;
  /** Where lines go; stdout by default. */
  write?: (line: string) => void;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/** A module's log name, derived from its file URL: `.../signaling/src/relay.ts` → `signaling:relay`. */
export function moduleName(fileUrl: string): string {
  const file = fileUrl.split(/[\\/]/).pop() ?? fileUrl;
  return `signaling:${file.replace(/\.[cm]?[jt]s$/, '')}`;
}

function serialize(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

/**
 * Lines for stdout, written together once per turn of the event loop (and at exit). Node writes to
 * a pipe synchronously, a system call per write: a line per connection cost a reconnect storm or a
 * mass departure a system call per client, in the middle of the burst, and a reader slower than the
 * node blocked the node on each. The lines keep their order; at most one turn's worth of them is
 * lost if the process is killed outright.
 */
class BatchedStdout {
  #lines: string[] = [];
  #scheduled = false;

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
    process.stdout.write(text);
  }
}

let stdout: BatchedStdout | undefined;
const writeStdout = (line: string) => (stdout ??= new BatchedStdout()).write(line);

export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? 'info'];
  const write = options.write ?? writeStdout;
  const make = (module: string): Logger => {
    const log = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
      if (RANK[level] < threshold) return;
      const line: LogFields = { time: new Date().toISOString(), level, module, msg };
      for (const [key, value] of Object.entries(fields ?? {})) {
        line[RESERVED.has(key) ? `field.${key}` : key] = serialize(value);
      }
      write(JSON.stringify(line));
    };
    return {
      debug: (msg, fields) => log('debug', msg, fields),
      info: (msg, fields) => log('info', msg, fields),
      warn: (msg, fields) => log('warn', msg, fields),
      error: (msg, fields) => log('error', msg, fields),
      child: (name) => make(name),
    };
  };
  return make(options.module ?? 'signaling');
}
