/**
 * The JSON-lines log both Node servers write (the agent and `tether-signaling`): one object per
 * line, `{time, level, module, msg, ...fields}`. Each server decides where lines go and at what
 * level, and how a module gets its name; the shape of a line, the levels and their order are here,
 * once. No Node at run time: the caller passes the writer.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Each level's rank: a line is written when its rank is at least the threshold's. */
export const LOG_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/** The keys every line has; a field of the same name is written as `field.<name>` so it cannot overwrite them. */
const RESERVED = new Set(['time', 'level', 'module', 'msg']);

function serialize(value: unknown, stacks: boolean): unknown {
  if (value instanceof Error)
    return stacks ? { name: value.name, message: value.message, stack: value.stack } : { name: value.name, message: value.message };
  return value;
}

/** One log line (without its newline). `stacks`: errors among the fields keep their stack. */
export function logLine(level: Exclude<LogLevel, 'silent'>, module: string, msg: string, fields?: LogFields, stacks = false): string {
  const line: LogFields = { time: new Date().toISOString(), level, module, msg };
  for (const [key, value] of Object.entries(fields ?? {})) line[RESERVED.has(key) ? `field.${key}` : key] = serialize(value, stacks);
  return JSON.stringify(line);
}

/** A logger over `write`, with a threshold read at each line (so a caller may change it later). */
export function levelledLogger(module: string, threshold: () => LogLevel, write: (line: string) => void, stacks = false): Logger {
  const log = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
    if (LOG_RANK[level] < LOG_RANK[threshold()]) return;
    write(logLine(level, module, msg, fields, stacks));
  };
  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  };
}

/** Bytes of log lines that may wait for stdout to take them; past this, lines are dropped and counted. */
export const MAX_QUEUED_LOG_BYTES = 4 * 1024 * 1024;

/** What `boundedLineWriter` needs of stdout. */
export interface LineStream {
  readonly writableLength: number;
  write(text: string): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes log text (whole lines, each ending in a newline) to `stream` without letting it pile up
 * in memory. Node writes what a pipe takes at once and queues the rest, without bound: a reader
 * that stalls (journald under disk pressure, a `| less` left open) would make a long-running
 * process grow until the kernel killed it, and with it every session it serves. While more than
 * `maxQueued` bytes wait, lines are dropped and counted; once the queue is under the bound again
 * (or has drained, if nothing more is logged), a `warn` line says how many were lost.
 */
export function boundedLineWriter(module: string, stream: LineStream, maxQueued = MAX_QUEUED_LOG_BYTES): (text: string) => void {
  let dropped = 0;
  const notice = () => {
    if (dropped === 0) return;
    stream.write(
      `${logLine('warn', module, 'log lines dropped: stdout did not take them in time', { dropped, maxQueuedBytes: maxQueued })}\n`,
    );
    dropped = 0;
  };
  return (text) => {
    if (stream.writableLength > maxQueued) {
      if (dropped === 0) stream.once('drain', notice);
      for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) dropped++;
      return;
    }
    notice();
    stream.write(text);
  };
}

/** How long a service (the agent, a signaling node) waits at exit for its last log lines: a stuck journald must not hold a stop. */
export const SERVICE_EXIT_WRITE_WAIT_MS = 2000;

/**
 * Exits with `code` once stdout and stderr have taken what was written to them. Node writes to a
 * full pipe asynchronously, and `process.exit()` drops what is still queued: the last lines of a
 * process whose reader was slow at that moment (the output of `tether-exec … | grep`, a server's
 * last log lines) were lost. `maxWaitMs` bounds the wait, for a reader that may never come back (a
 * service stopping while journald is stuck); without it the wait ends only when the reader has
 * taken everything or gone away.
 */
export function exitOnceWritten(code: number, maxWaitMs?: number): void {
  const written = (stream: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      if (stream.destroyed || !stream.writable) return resolve();
      // Called after every write before it; with an error too (the reader went away).
      stream.write('', () => resolve());
    });
  const waits: Promise<unknown>[] = [Promise.all([written(process.stdout), written(process.stderr)])];
  if (maxWaitMs !== undefined) waits.push(new Promise((resolve) => setTimeout(resolve, maxWaitMs).unref()));
  void Promise.race(waits).then(() => process.exit(code));
}
