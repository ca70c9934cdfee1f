/**
 * Records one terminal session as an asciicast v2 file (`asciinema play <file>`): a header line,
 * then `[seconds, "o", text]` for output and `[seconds, "r", "COLSxROWS"]` for resizes. Input, as
 * `[seconds, "i", text]`, only when the agent runs with `--record-input` (it holds passwords typed
 * at prompts that do not echo; the tab says that typing is recorded). Output and input bytes are
 * each decoded as a UTF-8 stream, so a character split across two frames stays whole. Recording never breaks the
 * session: a write that fails (a full disk), or a disk that cannot keep up, stops the recording
 * with a log line, and the file is cut back to its last whole line, so that what was recorded stays
 * a valid asciicast file (an empty one, without even its header, is removed).
 */
import { closeSync, ftruncate, mkdirSync, openSync, unlinkSync, write } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeError } from './deadline.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);
const writeAsync = promisify(write);
const truncateAsync = promisify(ftruncate);

/** Unwritten recording data beyond this stops the recording rather than grow the agent's memory. */
export const MAX_RECORDING_BACKLOG_BYTES = 8 * 1024 * 1024;

export interface RecordingInfo {
  sessionId: string;
  container: string;
  shell: string;
  cols: number;
  rows: number;
  /** whether what is typed is recorded too */
  input?: boolean;
}

/** `2025-01-31T10-20-30Z-plc-1-<session>.cast`: sorts by time, names the container, never collides. */
export function recordingFileName(info: RecordingInfo, now = new Date()): string {
  const time = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const container = info.container.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return `${time}-${container}-${info.sessionId}.cast`;
}

export class SessionRecorder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly inputDecoder = new TextDecoder('utf-8');
  private readonly started = performance.now();
  /** whole lines waiting to be written */
  private backlog: string[] = [];
  private backlogBytes = 0;
  /** bytes of the file that hold whole lines: where a failed write is cut back to */
  private committed = 0;
  private writing: Promise<void> | undefined;
  private stopped = false;
  private closed = false;
  /** why the recording stopped before the session ended; undefined while it records or after a normal close */
  stoppedBecause: string | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly sessionId: string,
    /** whether `input` records what is typed */
    readonly recordsInput: boolean,
  ) {}

  /** Opens `<dir>/<name>.cast` (mode 0600) and writes the header; undefined (logged) when it cannot. */
  static start(dir: string, info: RecordingInfo): SessionRecorder | undefined {
    const path = join(dir, recordingFileName(info));
    let fd: number;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = openSync(path, 'wx', 0o600);
    } catch (cause) {
      log.error('recording not started', { sessionId: info.sessionId, path, error: describeError(cause) });
      return undefined;
    }
    const recorder = new SessionRecorder(path, fd, info.sessionId, info.input === true);
    recorder.write({
      version: 2,
      width: info.cols,
      height: info.rows,
      timestamp: Math.floor(Date.now() / 1000),
      env: { TERM: 'xterm-256color', SHELL: info.shell },
      title: `${info.container} via tether`,
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
    const line = JSON.stringify(entry) + '\n';
    this.backlog.push(line);
    this.backlogBytes += Buffer.byteLength(line);
    if (this.backlogBytes > MAX_RECORDING_BACKLOG_BYTES)
      return this.stop('the disk is not keeping up', `${this.backlogBytes} bytes unwritten`);
    this.writing ??= this.drain();
  }

  /** Writes the backlog, one batch of whole lines at a time; a failure stops the recording. */
  private async drain(): Promise<void> {
    while (this.backlog.length > 0 && !this.stopped) {
      const batch = Buffer.from(this.backlog.join(''));
      this.backlog = [];
      this.backlogBytes = 0;
      try {
        for (let written = 0; written < batch.length; ) {
          written += (await writeAsync(this.fd, batch, written, batch.length - written, this.committed + written)).bytesWritten;
        }
        this.committed += batch.length;
      } catch (cause) {
        this.stop('write failed', describeError(cause));
        await this.cutBack();
      }
    }
    this.writing = undefined;
  }

  /** Output bytes as the console received them. */
  output(bytes: Uint8Array): void {
    if (this.stopped) return;
    const text = this.decoder.decode(bytes, { stream: true });
    if (text.length > 0) this.write([this.elapsed(), 'o', text]);
  }

  /** Input bytes as the shell was given them; nothing unless the recording takes input. */
  input(bytes: Uint8Array): void {
    if (this.stopped || !this.recordsInput) return;
    const text = this.inputDecoder.decode(bytes, { stream: true });
    if (text.length > 0) this.write([this.elapsed(), 'i', text]);
  }

  resize(cols: number, rows: number): void {
    this.write([this.elapsed(), 'r', `${cols}x${rows}`]);
  }

  private stop(why: string, detail: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stoppedBecause = `${why}: ${detail}`;
    this.backlog = [];
    this.backlogBytes = 0;
    log.error('recording stopped; the session goes on', {
      sessionId: this.sessionId,
      path: this.path,
      why,
      detail,
      keptBytes: this.committed,
    });
  }

  /**
   * Writes what the decoder holds and closes the file, cut back to its last whole line (removed
   * when not even the header was written). Never rejects. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.stopped) {
        const rest = this.decoder.decode();
        if (rest.length > 0) this.write([this.elapsed(), 'o', rest]);
        const typed = this.inputDecoder.decode();
        if (typed.length > 0 && this.recordsInput) this.write([this.elapsed(), 'i', typed]);
      }
      while (this.writing) await this.writing;
      this.stopped = true;
      this.closeFile();
      if (this.committed === 0) this.removeEmpty();
    })();
    return this.closing;
  }

  /** After a failed write: the file ends at its last whole line again, a valid recording. */
  private async cutBack(): Promise<void> {
    try {
      await truncateAsync(this.fd, this.committed);
    } catch (cause) {
      log.error('recording not cut back to its last whole line', {
        sessionId: this.sessionId,
        path: this.path,
        error: describeError(cause),
      });
    }
  }

  private closeFile(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch (cause) {
      log.error('recording not closed', { sessionId: this.sessionId, path: this.path, error: describeError(cause) });
    }
  }

  private removeEmpty(): void {
    try {
      unlinkSync(this.path);
      log.warn('empty recording removed: not even its header could be written', { sessionId: this.sessionId, path: this.path });
    } catch (cause) {
      log.error('empty recording not removed', { sessionId: this.sessionId, path: this.path, error: describeError(cause) });
    }
  }
}
