/**
 * One `docker exec` with a TTY: picks the shell, starts it at the console's size and hands back
 * the raw hijacked stream. With `Tty: true` the stream carries raw bytes, no multiplexing header.
 */
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { err, ok, protocolError, type Result } from '@tether/protocol';
import { attempt, containerPaused, describeError, engineGone, withDeadline, DOCKER_REQUEST_TIMEOUT_MS } from './deadline.js';
import type { ResolvedTarget } from './docker-targets.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

const EXIT_POLLS = 20;
const EXIT_POLL_MS = 100;
/**
 * Between asks for the host pid, which Docker sets a few milliseconds after start (later on a busy
 * engine). Nothing waits for it before `opened` (session-exec.ts learns it while the console
 * already has its tab); short sleeps still, as the kill and the journal wait for it: from
 * PID_POLL_MS, doubling up to PID_POLL_MAX_MS, until the exec runs or has ended, for at most
 * PID_WAIT_MS. Until session 16 it was 100 asks and an exec not yet running at the second ask
 * counted as ended: on a loaded CI machine a shell was left with no pid (tty-channel's tests).
 */
const PID_POLL_MS = 2;
const PID_POLL_MAX_MS = 50;
const PID_WAIT_MS = 10_000;
/**
 * Docker refuses to resize an exec of a paused container (409): the size is asked again after
 * RESIZE_RETRY_FIRST_MS, doubling up to RESIZE_RETRY_MAX_MS, for as long as the container stays
 * paused, so that a tab resized meanwhile has its size once the container runs again.
 */
const RESIZE_RETRY_FIRST_MS = 250;
const RESIZE_RETRY_MAX_MS = 10_000;

export interface ExecOptions {
  /** Shells to try, in order of preference. */
  shells: string[];
  cols: number;
  rows: number;
  /** Extra `NAME=value` entries for the process environment. */
  env: string[];
  user?: string | undefined;
  /** The command that runs the chosen shell (session-standing.ts); the shell alone when absent. */
  command?: ((shell: string) => string[]) | undefined;
}

export interface ExecHandle {
  readonly shell: string;
  /** The raw terminal stream: write input, read output. Ending it does not end the process. */
  readonly stream: Duplex;
  /**
   * The process id on the host (exec inspect `Pid`): asked of Docker until it says (it reports 0
   * for a moment after start), then remembered; 0 when it cannot tell, and asked again next time.
   */
  currentPid(): Promise<number>;
  readonly execId: string;
  /** Resizes the PTY; an error after the process ended is logged at debug level, not surfaced. */
  resize(cols: number, rows: number): Promise<void>;
  /** The exit code once the process ended; null when Docker cannot tell. */
  exitCode(): Promise<number | null>;
  /**
   * Whether Docker says the process still runs: after the stream ended, true means the engine cut
   * the stream (a restart with live-restore), not that the shell exited; null means the engine
   * could not be asked (it stopped or is restarting), so nobody can tell.
   */
  isRunning(): Promise<boolean | null>;
}

async function exists(container: Docker.Container, path: string): Promise<Result<boolean>> {
  try {
    const response = (await withDeadline(container.infoArchive({ path }), DOCKER_REQUEST_TIMEOUT_MS, `checking ${path}`)) as unknown;
    // The HEAD response is a stream: left unread, it holds its socket open.
    (response as { destroy?: () => void }).destroy?.();
    return ok(true);
  } catch (cause) {
    const status = (cause as { statusCode?: number }).statusCode;
    if (status === 404) return ok(false);
    return err(protocolError('EXEC_FAILED', `Could not look for ${path} in the container: ${describeError(cause)}`));
  }
}

/** The first shell of `shells` that exists in the container. */
export async function chooseShell(container: Docker.Container, shells: string[]): Promise<Result<string>> {
  for (const shell of shells) {
    const found = await exists(container, shell);
    if (!found.ok) return found;
    if (found.value) return ok(shell);
  }
  return err(protocolError('NO_SHELL', `None of ${shells.join(', ')} exists in the container.`));
}

/** The exec's host pid; Docker reports 0 for a moment after start, so ask a few times. */
async function hostPid(exec: Docker.Exec): Promise<number> {
  const deadline = performance.now() + PID_WAIT_MS;
  for (let pause = PID_POLL_MS; ; pause = Math.min(pause * 2, PID_POLL_MAX_MS)) {
    const inspected = await attempt(exec.inspect(), 'EXEC_FAILED', 'inspecting the exec');
    if (!inspected.ok) {
      log.warn('exec started but inspect failed; killing will use the in-container fallback', { error: inspected.error.message });
      return 0;
    }
    const { Pid, Running, ExitCode } = inspected.value;
    if (Pid > 0) return Pid;
    // Not running and an exit code: it ended before its pid was read. Not running and none: it
    // has not started yet (a busy engine), and is asked again.
    if (!Running && ExitCode !== null && ExitCode !== undefined) return 0;
    if (performance.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  log.warn('exec pid unknown; killing will use the in-container fallback', { execId: exec.id });
  return 0;
}

export async function startExec(target: ResolvedTarget, options: ExecOptions): Promise<Result<ExecHandle>> {
  const shell = await chooseShell(target.container, options.shells);
  if (!shell.ok) return shell;
  const size: [number, number] = [options.rows, options.cols];
  const created = await attempt(
    target.container.exec({
      Cmd: options.command ? options.command(shell.value) : [shell.value],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: true,
      Env: ['TERM=xterm-256color', ...options.env],
      // Honoured from Docker API 1.42; older engines get the resize right after start below.
      ConsoleSize: size,
      ...(options.user ? { User: options.user } : {}),
    }),
    'EXEC_FAILED',
    'creating the exec',
  );
  if (!created.ok) return created;
  const exec = created.value;
  const startOptions = { hijack: true, stdin: true, Tty: true, ConsoleSize: size } as Docker.ExecStartOptions;
  const started = await attempt(exec.start(startOptions) as Promise<Duplex>, 'EXEC_FAILED', 'starting the exec');
  if (!started.ok) return started;
  const stream = started.value;
  let pid = 0;
  let asking: Promise<number> | undefined;

  let ended = false;
  stream.once('close', () => {
    ended = true;
  });
  // The size last asked for; a resize Docker refused because the container is paused is asked
  // again until it is applied, unless a later one was asked meanwhile or the exec ended.
  let wanted = 0;
  let retryWaitMs = RESIZE_RETRY_FIRST_MS;
  const resizeNow = async (cols: number, rows: number, asked: number) => {
    if (asked !== wanted || ended) return;
    try {
      await withDeadline(exec.resize({ w: cols, h: rows }), DOCKER_REQUEST_TIMEOUT_MS, 'resizing the exec');
      retryWaitMs = RESIZE_RETRY_FIRST_MS;
    } catch (cause) {
      const fields = { execId: exec.id, cols, rows, error: describeError(cause) };
      if (ended) log.debug('resize after exit ignored', fields);
      else if (containerPaused(cause)) {
        if (retryWaitMs === RESIZE_RETRY_FIRST_MS) log.info('resize waits for the container to be unpaused', fields);
        const wait = retryWaitMs;
        retryWaitMs = Math.min(retryWaitMs * 2, RESIZE_RETRY_MAX_MS);
        setTimeout(() => void queue(cols, rows, asked), wait).unref();
      } else log.warn('resize failed', fields);
    }
  };
  // One resize at a time, in the order asked: the first (below) is not waited for, and a console's
  // resize right after `opened` must not reach Docker before it and be undone by it.
  let resizing = Promise.resolve();
  const queue = (cols: number, rows: number, asked: number): Promise<void> =>
    (resizing = resizing.then(() => resizeNow(cols, rows, asked)));
  const resize = (cols: number, rows: number): Promise<void> => {
    retryWaitMs = RESIZE_RETRY_FIRST_MS;
    return queue(cols, rows, ++wanted);
  };
  // For engines before API 1.42, which ignore ConsoleSize; not waited for: a round trip to dockerd
  // that `opened` need not wait for (the shell gets its size all the same).
  void resize(options.cols, options.rows);
  return ok({
    shell: shell.value,
    stream,
    execId: exec.id,
    resize,
    currentPid() {
      if (pid > 0) return Promise.resolve(pid);
      asking ??= hostPid(exec).then((found) => {
        pid = found;
        asking = undefined;
        return found;
      });
      return asking;
    },
    async exitCode() {
      // The stream can end a moment before Docker records the exit: ask a few times.
      for (let tries = 0; tries < EXIT_POLLS; tries++) {
        const info = await attempt(exec.inspect(), 'EXEC_FAILED', 'reading the exit code');
        if (!info.ok) {
          log.warn('exit code unknown', { execId: exec.id, error: info.error.message });
          return null;
        }
        if (!info.value.Running) return info.value.ExitCode;
        await new Promise((resolve) => setTimeout(resolve, EXIT_POLL_MS));
      }
      log.warn('exec still running after its stream ended', { execId: exec.id });
      return null;
    },
    async isRunning() {
      try {
        return (await withDeadline(exec.inspect(), DOCKER_REQUEST_TIMEOUT_MS, 'inspecting the exec')).Running;
      } catch (cause) {
        // An exec the engine does not know does not run; with no engine, nobody can tell.
        return engineGone(cause) ? null : false;
      }
    },
  });
}
