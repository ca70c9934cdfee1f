/**
 * Structured logs: one JSON object per line on stdout, `{time, level, module, msg, ...fields}`
 * (the line itself is @tether/socket-bounds' `logLine`, shared with the signaling server). Each
 * module takes its own logger from `createLogger(import.meta.url)`, so the module name is derived
 * from the file and never typed by hand.
 */
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundedLineWriter, levelledLogger, type Logger, type LogLevel } from '@tether/socket-bounds';

export { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from '@tether/socket-bounds';

/** Where log lines go; tests replace it to read what the agent logged. */
export type LogSink = (line: string) => void;

let threshold: LogLevel = 'info';
/** stdout, where lines wait at most MAX_QUEUED_LOG_BYTES for a slow reader (`boundedLineWriter`). */
const stdout = boundedLineWriter('log', process.stdout);
let sink: LogSink = (line) => stdout(`${line}\n`);

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

/**
 * A logger named after the module; pass `import.meta.url`. In the bundle every module shares one
 * url, so build.mjs rewrites each `createLogger(import.meta.url)` to the module's file name.
 */
export function createLogger(source: string): Logger {
  return levelledLogger(
    moduleName(source),
    () => threshold,
    (line) => sink(line),
  );
}
