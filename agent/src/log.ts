/**
 * Structured logs: one JSON object per line on stdout, `{time, level, module, msg, ...fields}`.
 * Each module takes its own logger from `createLogger(import.meta.url)`, so the module name is
 * derived from the file and never typed by hand.
 */
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Where log lines go; tests replace it to read what the agent logged. */
export type LogSink = (line: string) => void;

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

let threshold: LogLevel = 'info';
let sink: LogSink = (line) => process.stdout.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Replaces the sink and returns the previous one. */
export function setLogSink(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

function moduleName(source: string): string {
  const path = source.startsWith('file:') ? fileURLToPath(source) : source;
  return basename(path).replace(/\.(ts|js|mjs)$/, '');
}

function serializable(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/**
 * A logger named after the module; pass `import.meta.url`. In the bundle every module shares one
 * url, so build.mjs rewrites each `createLogger(import.meta.url)` to the module's file name.
 */
export function createLogger(source: string): Logger {
  const module = moduleName(source);
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (rank[level] < rank[threshold]) return;
    const record: LogFields = { time: new Date().toISOString(), level, module, msg };
    if (fields) for (const [key, value] of Object.entries(fields)) record[key] = serializable(value);
    sink(JSON.stringify(record));
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}
