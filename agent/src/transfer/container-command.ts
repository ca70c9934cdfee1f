/**
 * One command of a transfer in the container: a `docker exec` without a TTY (so that bytes pass
 * unchanged), as the session's user, with its stdout as a stream the caller can pause, its stderr
 * kept as text, and its exit code. Every command carries its transfer's marker in its environment
 * (`TETHER_TRANSFER=<id>`), by which `kill` finds it.
 *
 * Without a TTY, Docker multiplexes stdout and stderr on one stream, each frame behind an 8-byte
 * header. docker-modem's `demuxStream` writes to its outputs without regard to backpressure, so a
 * download could not stop reading the container; the small demultiplexer here reads only while the
 * caller takes what it gets.
 */
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { ok, protocolError, type ProtocolError, type Result } from '@tether/protocol';
import { attempt, describeError, DOCKER_REQUEST_TIMEOUT_MS, engineGone, withDeadline } from '../deadline.js';
import { createLogger } from '../log.js';
import { killInContainer } from '../session-killer.js';

const log = createLogger(import.meta.url);

/** The variable that marks a transfer's processes: `TETHER_TRANSFER=<transfer id>`. */
export const TRANSFER_MARKER = 'TETHER_TRANSFER';

/** Stderr kept per command: enough for its error lines, bounded whatever the command prints. */
const MAX_STDERR_CHARS = 16 * 1024;
const EXIT_POLLS = 30;
const EXIT_POLL_MS = 100;

export interface CommandOptions {
  /** the script for `/bin/sh -c`, with its arguments as `$1`, `$2`, …; nothing is spliced into its text */
  script: string;
  args: string[];
  user: string | undefined;
  transferId: string;
  /** whether the command reads its stdin from the agent */
  stdin: boolean;
}

export interface CommandExit {
  /** null when Docker could not tell */
  code: number | null;
  stderr: string;
  /** Docker could not be asked for the exit code at all: the engine stopped or is restarting */
  engineGone?: boolean;
}

/** The exit code could not be asked for: the engine does not answer. */
const ENGINE_GONE = Symbol('engine gone');

export class ContainerCommand {
  private stderrText = '';
  private stdoutListener: ((chunk: Buffer) => void) | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private readonly exit: Promise<CommandExit>;
  private readonly stderrListeners = new Set<(text: string) => void>();

  private constructor(
    private readonly container: Docker.Container,
    private readonly exec: Docker.Exec,
    /** the raw hijacked stream: write stdin, read the multiplexed output */
    private readonly stream: Duplex,
    private readonly options: CommandOptions,
  ) {
    stream.on('data', (chunk: Buffer) => this.demux(chunk));
    const ended = new Promise<void>((resolve) => {
      stream.once('end', () => resolve());
      stream.once('close', () => resolve());
      stream.once('error', (cause) => {
        log.debug('transfer command stream error', { transferId: options.transferId, error: describeError(cause) });
        resolve();
      });
    });
    // Reading starts paused: the caller says when it takes the output.
    stream.pause();
    this.exit = ended
      .then(() => this.exitCode())
      .then((code) => ({ code: code === ENGINE_GONE ? null : code, stderr: this.stderrText, engineGone: code === ENGINE_GONE }));
  }

  static async start(container: Docker.Container, options: CommandOptions): Promise<Result<ContainerCommand>> {
    // In a paused container Docker runs nothing: TARGET_NOT_RUNNING (attempt), its terminal waits.
    const created = await attempt(
      container.exec({
        Cmd: ['/bin/sh', '-c', options.script, 'tether-transfer', ...options.args],
        AttachStdin: options.stdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Env: [`${TRANSFER_MARKER}=${options.transferId}`],
        ...(options.user ? { User: options.user } : {}),
      }),
      'TRANSFER_FAILED',
      'creating the transfer command',
    );
    if (!created.ok) return created;
    const exec = created.value;
    const started = await attempt(
      exec.start({ hijack: true, stdin: options.stdin }) as Promise<Duplex>,
      'TRANSFER_FAILED',
      'starting the transfer command',
    );
    if (!started.ok) return started;
    return ok(new ContainerCommand(container, exec, started.value, options));
  }

  /** Takes the command's stdout; reading starts with `resume`. */
  onStdout(listener: (chunk: Buffer) => void): void {
    this.stdoutListener = listener;
  }

  /** Called with each piece of stderr as it arrives (also kept in `exited`'s `stderr`). */
  onStderr(listener: (text: string) => void): void {
    this.stderrListeners.add(listener);
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  /** Writes to the command's stdin; `done` runs once the bytes are handed to the Docker engine. */
  write(bytes: Buffer, done: (error?: Error | null) => void): void {
    this.stream.write(bytes, done);
  }

  /** Bytes written to stdin and not yet taken by the Docker engine's socket. */
  get pendingInput(): number {
    return this.stream.writableLength;
  }

  /** Ends the command's stdin (EOF): a `cat` then finishes its file and exits. */
  endInput(): void {
    this.stream.end();
  }

  /** Resolves once the command has ended, with its exit code and stderr. */
  exited(): Promise<CommandExit> {
    return this.exit;
  }

  /**
   * Ends the command now: its stream is cut, and its processes are killed by their marker, from the
   * host when the agent may read its /proc, else from inside the container as the same user.
   */
  async kill(): Promise<void> {
    this.stream.destroy();
    const marker = `${TRANSFER_MARKER}=${this.options.transferId}`;
    const info = await attempt(this.exec.inspect(), 'TRANSFER_FAILED', 'inspecting the transfer command');
    if (info.ok && !info.value.Running) return;
    const pid = info.ok ? info.value.Pid : 0;
    if (pid > 0 && (await killOnHostByMarker(pid, marker))) return;
    const found = await killInContainer(this.container, marker, this.options.user);
    if (found === undefined) log.warn('a transfer command could not be killed', { transferId: this.options.transferId });
  }

  private demux(chunk: Buffer): void {
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const kind = this.pending[0];
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      if (kind === 1) this.stdoutListener?.(payload);
      else if (kind === 2) this.takeStderr(payload.toString('utf8'));
    }
  }

  private takeStderr(text: string): void {
    if (this.stderrText.length < MAX_STDERR_CHARS) this.stderrText += text.slice(0, MAX_STDERR_CHARS - this.stderrText.length);
    for (const listener of this.stderrListeners) listener(text);
  }

  private async exitCode(): Promise<number | null | typeof ENGINE_GONE> {
    // The stream can end a moment before Docker records the exit: ask a few times.
    for (let tries = 0; tries < EXIT_POLLS; tries++) {
      let info;
      try {
        info = await withDeadline(this.exec.inspect(), DOCKER_REQUEST_TIMEOUT_MS, 'reading the exit code');
      } catch (cause) {
        // An exec the engine does not know is Docker not telling.
        return engineGone(cause) ? ENGINE_GONE : null;
      }
      if (!info.Running) return info.ExitCode;
      await new Promise((resolve) => setTimeout(resolve, EXIT_POLL_MS));
    }
    return null;
  }
}

/** SIGKILL to host process `pid` when its environment carries `marker` (never to a pid reused by another). */
async function killOnHostByMarker(pid: number, marker: string): Promise<boolean> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
    if (!environ.split('\0').includes(marker)) return false;
    process.kill(pid, 'SIGKILL');
    return true;
  } catch (cause) {
    log.debug('transfer command not killed from the host', { pid, error: describeError(cause) });
    return false;
  }
}

/**
 * What a transfer script's exit code means (the scripts in container-files.ts exit with these),
 * and for a plain failure of `cat`, `mv` or `tar`, what its stderr says. `dir` is the directory the
 * script works in, when it is not the file's own path.
 */
export function commandError(exit: CommandExit, what: 'read' | 'write' | 'list', paths: { dir?: string; file: string }): ProtocolError {
  const detail = exit.stderr
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('\x1e'))
    .slice(-3)
    .join(' ')
    .slice(0, 400);
  const dir = paths.dir ?? paths.file;
  const file = paths.file;
  if (exit.engineGone) {
    return protocolError(
      'TRANSFER_FAILED',
      `The Docker engine stopped answering (stopped or restarting?) while ${file} was ${what === 'write' ? 'written' : what === 'read' ? 'read' : 'listed'}; the transfer was ended${what === 'write' ? ' and nothing was kept under that name' : ''}.`,
    );
  }
  switch (exit.code) {
    case 3:
      return protocolError('FILE_NOT_FOUND', `${dir} does not exist in the container.`);
    case 4:
      return protocolError('BAD_PATH', `${dir} is not a directory.`);
    case 5:
      return protocolError(
        'PERMISSION_DENIED',
        what === 'write' ? `The session's user may not write in ${dir}.` : `The session's user may not ${what} ${dir}.`,
      );
    case 6:
      return protocolError('BAD_PATH', `${file} is a directory; a file cannot replace it.`);
    case 7:
      return protocolError('FILE_EXISTS', `${file} exists already.`);
    case 9:
      return protocolError('BAD_PATH', `${file} is neither a regular file nor a directory.`);
    case 10:
      return protocolError('TRANSFER_FAILED', 'The container has no `tar`, which a directory download needs.');
    case 11:
      return protocolError('PERMISSION_DENIED', `${file} exists and the session's user may not write it.`);
    case 12:
      return protocolError(
        'TRANSFER_FAILED',
        `${file} was not written whole in the container (its size differs from the bytes sent); it was not kept.`,
      );
  }
  if (/no space left|disk quota exceeded|file too large/i.test(detail)) {
    return protocolError(
      'NO_SPACE',
      `The container's filesystem is full: could not ${what} ${file} (${detail}). Nothing was left under the final name.`,
    );
  }
  if (/permission denied|operation not permitted|read-only file system/i.test(detail)) {
    return protocolError('PERMISSION_DENIED', `The session's user may not ${what} ${file} (${detail}).`);
  }
  const code = exit.code === null ? 'unknown' : String(exit.code);
  return protocolError('TRANSFER_FAILED', `Could not ${what} ${file} (exit ${code}${detail ? `: ${detail}` : ''}).`);
}
