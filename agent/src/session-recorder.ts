/**
 * Records one terminal session as an asciicast v2 file (`asciinema play <file>`): a header line,
 * then `[seconds, "o", text]` for output and `[seconds, "r", "COLSxROWS"]` for resizes. Input is not
 * recorded (it holds passwords typed at prompts that do not echo). Output bytes are decoded as a
 * UTF-8 stream, so a character split across two frames stays whole. Recording never breaks the
 * session: a write that fails, or a disk that cannot keep up, stops the recording with a log line.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { describeError } from './deadline.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** Unwritten recording data beyond this stops the recording rather than grow the agent's memory. */
export const MAX_RECORDING_BACKLOG_BYTES = 8 * 1024 * 1024;

export interface RecordingInfo {
  sessionId: string;
  container: string;
  shell: string;
  cols: number;
  rows: number;
}

/** `2025-01-31T10-20-30Z-plc-1-<session>.cast`: sorts by time, names the container, never collides. */
export function recordingFileName(info: RecordingInfo, now = new Date()): string {
  const time = now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const container = info.container.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return `${time}-${container}-${info.sessionId}.cast`;
}

export class SessionRecorder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly started = performance.now();
  private stopped = false;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly stream: WriteStream,
    private readonly sessionId: string,
  ) {
    stream.on('error', (cause) => this.stop('write failed', describeError(cause)));
  }

  /** Opens `<dir>/<name>.cast` (mode 0600) and writes the header; undefined (logged) when it cannot. */
  static start(dir: string, info: RecordingInfo): SessionRecorder | undefined {
    const path = join(dir, recordingFileName(info));
    let stream: WriteStream;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      stream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    } catch (cause) {
      log.error('recording not started', { sessionId: info.sessionId, path, error: describeError(cause) });
      return undefined;
    }
    const recorder = new SessionRecorder(path, stream, info.sessionId);
    recorder.write({
      version: 2, width: info.cols, height: info.rows, timestamp: Math.floor(Date.now() / 1000),
      env: { TERM: 'xterm-256color', SHELL: info.shell }, title: `${info.container} via tether`,
    });
    return recorder;
  }

  get isRecording(): boolean {
    return !this.stopped;
  }

  private elapsed(): number {
    return Math.round(performance.now() - this.started) / 1000;
  }

  private write(entry: unknown): void {
    if (this.stopped) return;
    this.stream.write(JSON.stringify(entry) + '\n');
    if (this.stream.writableLength > MAX_RECORDING_BACKLOG_BYTES) this.stop('the disk is not keeping up', `${this.stream.writableLength} bytes unwritten`);
  }

  /** Output bytes as the console received them. */
  output(bytes: Uint8Array): void {
    if (this.stopped) return;
    const text = this.decoder.decode(bytes, { stream: true });
    if (text.length > 0) this.write([this.elapsed(), 'o', text]);
  }

  resize(cols: number, rows: number): void {
    this.write([this.elapsed(), 'r', `${cols}x${rows}`]);
  }

  private stop(why: string, detail: string): void {
    if (this.stopped) return;
    this.stopped = true;
    log.error('recording stopped; the session goes on', { sessionId: this.sessionId, path: this.path, why, detail });
    this.stream.destroy();
  }

  /** Writes what the decoder holds and closes the file. Never rejects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.stopped) return resolve();
      const rest = this.decoder.decode();
      if (rest.length > 0) this.write([this.elapsed(), 'o', rest]);
      this.stopped = true;
      this.stream.once('close', () => resolve());
      this.stream.end();
    });
    return this.closing;
  }
}
