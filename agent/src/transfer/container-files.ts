/**
 * What a transfer does in the container, as the session's user, with nothing installed: a POSIX
 * shell and `cat` for files, `mv` and `rm` to put an upload in place or take it away, `tar` for a
 * directory download, `stat` or `ls` for a size when the container has them. The scripts are fixed
 * text; paths reach them as arguments only. Their exit codes are read by `commandError`.
 *
 * An upload is written to a temporary name in the target directory (`.tether-upload-<id>.part`),
 * and renamed over the final name only once its SHA-256 matched: a partial file never stands under
 * the final name, and a rename replaces a symbolic link rather than writing through it.
 */
import { readlink } from 'node:fs/promises';
import type Docker from 'dockerode';
import { err, ok, protocolError, type ListingEntry, type Result } from '@tether/protocol';
import { describeError } from '../deadline.js';
import { createLogger } from '../log.js';
import { SESSION_MARKER } from '../session-killer.js';
import { commandError, ContainerCommand } from './container-command.js';

const log = createLogger(import.meta.url);

/** The record separator that marks the end of a script's prelude on stdout or stderr. */
const READY = '\x1eREADY';
/** The record separator that marks, on stderr, that a download's command wrote its last byte. */
export const DONE = '\x1eDONE';

/**
 * $1 directory, $2 name, $3 temporary name, $4 overwrite (1 or 0). Prints the directory's physical
 * path, then READY once the temporary file exists, then writes stdin to it. An existing name is
 * refused unless overwriting, and overwriting needs write permission on the file itself, as `cp`
 * would: the rename alone would only need the directory's.
 */
export const UPLOAD_SCRIPT = [
  '[ -e "$1" ] || exit 3',
  '[ -d "$1" ] || exit 4',
  'cd -- "$1" 2>/dev/null || exit 5',
  '[ -d "$2" ] && exit 6',
  'if [ -e "$2" ] || [ -L "$2" ]; then [ "$4" = 1 ] || exit 7; [ -w "$2" ] || exit 11; fi',
  // In a subshell: a failed redirection of the special built-in `:` would end the script itself.
  '(set -C; : > "$3") 2>/dev/null || exit 5',
  `pwd -P; printf '${READY}\\n'`,
  'exec cat > "$3"',
].join('\n');

/**
 * $1 directory, $2 temporary name, $3 name, $4 overwrite, $5 the size offered: the rename, checked
 * again (the name may have appeared meanwhile), of a temporary file that holds exactly the bytes
 * offered (exit 12 otherwise: nothing is kept).
 */
export const COMMIT_SCRIPT = [
  'cd -- "$1" 2>/dev/null || exit 5',
  'n=$(stat -c %s -- "$2" 2>/dev/null) || n=$(wc -c < "$2") || n=-',
  '[ "$n" -eq "$5" ] 2>/dev/null || { rm -f -- "$2"; exit 12; }',
  'if [ -d "$3" ]; then rm -f -- "$2"; exit 6; fi',
  'if [ "$4" != 1 ] && { [ -e "$3" ] || [ -L "$3" ]; }; then rm -f -- "$2"; exit 7; fi',
  'mv -f -- "$2" "$3" || { s=$?; rm -f -- "$2"; exit $s; }',
].join('\n');

/** $1 directory, $2 temporary name. */
export const REMOVE_SCRIPT = 'cd -- "$1" 2>/dev/null && rm -f -- "$2"';

/**
 * $1 path. A file: READY file <size or -> on stderr, then its bytes on stdout. A directory:
 * READY directory - <its name> then a tar archive of `./<its name>`, taken from its physical path
 * (a symbolic link to a directory sends the directory, not the link).
 *
 * Once `cat` (or `tar`) has written its last byte, the script closes its stdout, says DONE <its
 * exit status> on stderr, and waits for the agent to end its stdin before it exits. The Docker
 * engine closes an exec's streams 2 seconds after its process exits, dropping what it still holds
 * (up to a few MiB when the agent reads slowly): the process must not exit before the agent has
 * stopped pausing its output (download.ts).
 */
export const DOWNLOAD_SCRIPT = [
  'p=$1',
  '[ -e "$p" ] || [ -L "$p" ] || exit 3',
  'if [ -d "$p" ]; then',
  '  cd -- "$p" 2>/dev/null && [ -r . ] || exit 5',
  '  r=$(pwd -P); b=${r##*/}; d=${r%/*}; [ -n "$d" ] || d=/; [ -n "$b" ] || b=.',
  '  cd -- "$d" 2>/dev/null || exit 5',
  '  command -v tar >/dev/null 2>&1 || exit 10',
  `  printf '${READY} directory - %s\\n' "$b" >&2`,
  '  tar -cf - "./$b"',
  'else',
  '  [ -f "$p" ] || exit 9',
  '  [ -r "$p" ] || exit 5',
  '  s=$(stat -c %s -- "$p" 2>/dev/null) || s=$(ls -ln -- "$p" 2>/dev/null | { read -r _ _ _ _ n _; echo "$n"; })',
  `  printf '${READY} file %s\\n' "\${s:--}" >&2`,
  '  cat < "$p"',
  'fi',
  's=$?',
  'exec >&-',
  `printf '${DONE} %s\\n' "$s" >&2`,
  'read -r _ || :',
  'exit "$s"',
].join('\n');

/**
 * $1 directory: its physical path, then `<kind><link><name>` for each entry (kind f, d or o;
 * link l or -), each followed by NUL, so that any name survives.
 */
export const LIST_SCRIPT = [
  '[ -e "$1" ] || exit 3',
  '[ -d "$1" ] || exit 4',
  'cd -- "$1" 2>/dev/null && [ -r . ] || exit 5',
  `printf '%s\\0' "$(pwd -P)"`,
  'for f in * .[!.]* ..?*; do',
  '  [ -e "$f" ] || [ -L "$f" ] || continue',
  '  k=o; [ -f "$f" ] && k=f; [ -d "$f" ] && k=d; l=-; [ -L "$f" ] && l=l',
  `  printf '%s%s%s\\0' "$k" "$l" "$f"`,
  'done',
].join('\n');

/**
 * $1 the session's marker (`TETHER_SESSION=<id>`): the working directory of the session's shell,
 * the marked process that leads its own Linux session, read as the session's own user from inside
 * the container: what the agent does when it may not read the host's /proc.
 */
export const CWD_SCRIPT = [
  'm=$1',
  'for e in /proc/[0-9]*/environ; do',
  '  p=${e#/proc/}; p=${p%/environ}',
  '  tr "\\0" "\\n" < "$e" 2>/dev/null | grep -qx -- "$m" || continue',
  '  read -r st < "/proc/$p/stat" || continue',
  '  set -- ${st##*) }',
  '  [ "$4" = "$p" ] || continue',
  '  cd -P "/proc/$p/cwd" 2>/dev/null && pwd -P && exit 0',
  'done',
  'exit 3',
].join('\n');

/** The output a listing reads at most; a directory of more is listed in part (`truncated`). */
const MAX_LISTING_OUTPUT_BYTES = 4 * 1024 * 1024;

export interface FileSession {
  container: Docker.Container;
  user: string | undefined;
  sessionId: string;
  /** the shell's host pid; 0 when Docker did not say */
  hostPid: number;
}

/** Runs a short script to its end and collects its stdout (at most `maxBytes`). */
async function run(
  session: FileSession,
  transferId: string,
  script: string,
  args: string[],
  maxBytes = 64 * 1024,
): Promise<Result<{ code: number | null; stdout: Buffer; stderr: string; cut: boolean }>> {
  const started = await ContainerCommand.start(session.container, { script, args, user: session.user, transferId, stdin: false });
  if (!started.ok) return started;
  const command = started.value;
  const chunks: Buffer[] = [];
  let size = 0;
  let cut = false;
  command.onStdout((chunk) => {
    if (cut) return;
    chunks.push(chunk);
    size += chunk.length;
    if (size > maxBytes) {
      cut = true;
      void command.kill();
    }
  });
  command.resume();
  const exit = await command.exited();
  return ok({ code: exit.code, stdout: Buffer.concat(chunks).subarray(0, maxBytes), stderr: exit.stderr, cut });
}

/**
 * The session's shell's working directory: from the host's /proc when the agent may read it,
 * else asked inside the container as the session's user.
 */
export async function shellCwd(session: FileSession, transferId: string): Promise<Result<string>> {
  if (session.hostPid > 0) {
    try {
      const cwd = await readlink(`/proc/${session.hostPid}/cwd`);
      // The kernel names a directory that was removed with a suffix; the shell's path is then gone.
      if (cwd.startsWith('/') && !cwd.endsWith(' (deleted)')) return ok(cwd);
    } catch (cause) {
      log.debug('shell cwd not readable from the host; asking in the container', {
        sessionId: session.sessionId,
        error: describeError(cause),
      });
    }
  }
  return containerCwd(session, transferId);
}

/** The shell's working directory read inside the container (CWD_SCRIPT). */
export async function containerCwd(session: FileSession, transferId: string): Promise<Result<string>> {
  const ran = await run(session, transferId, CWD_SCRIPT, [`${SESSION_MARKER}=${session.sessionId}`]);
  if (!ran.ok) return ran;
  const cwd = ran.value.stdout.toString('utf8').replace(/\n$/, '');
  if (ran.value.code !== 0 || !cwd.startsWith('/')) {
    return err(protocolError('TRANSFER_FAILED', "The shell's working directory could not be read; give an absolute path."));
  }
  return ok(cwd);
}

export interface Listing {
  path: string;
  entries: ListingEntry[];
}

/** The entries of directory `dir`, as the session's user sees them. */
export async function listDirectory(session: FileSession, transferId: string, dir: string): Promise<Result<Listing & { cut: boolean }>> {
  const ran = await run(session, transferId, LIST_SCRIPT, [dir], MAX_LISTING_OUTPUT_BYTES);
  if (!ran.ok) return ran;
  if (ran.value.code !== 0 && !ran.value.cut) return err(commandError(ran.value, 'list', { dir, file: dir }));
  const records = ran.value.stdout.toString('utf8').split('\0');
  const path = records.shift() ?? dir;
  // The last record is cut short when the output was, or empty after the final NUL.
  records.pop();
  const kinds: Record<string, ListingEntry['kind']> = { f: 'file', d: 'directory', o: 'other' };
  const entries = records
    .filter((r) => r.length > 2)
    .map((r) => ({ name: r.slice(2), kind: kinds[r[0]!] ?? 'other', ...(r[1] === 'l' ? { link: true } : {}) }));
  return ok({ path: path || dir, entries, cut: ran.value.cut });
}

/** An upload in progress: the command writing the temporary file, and where it is. */
export interface UploadTarget {
  command: ContainerCommand;
  /** the directory's physical path */
  dir: string;
  temp: string;
}

/** The temporary name of transfer `transferId` in its target directory. */
export const tempName = (transferId: string): string => `.tether-upload-${transferId}.part`;

/** Starts writing an upload: the temporary file exists once this resolves ok, and stdin goes to it. */
export async function startUpload(
  session: FileSession,
  transferId: string,
  dir: string,
  name: string,
  overwrite: boolean,
): Promise<Result<UploadTarget>> {
  const temp = tempName(transferId);
  const started = await ContainerCommand.start(session.container, {
    script: UPLOAD_SCRIPT,
    args: [dir, name, temp, overwrite ? '1' : '0'],
    user: session.user,
    transferId,
    stdin: true,
  });
  if (!started.ok) return started;
  const command = started.value;
  let stdout = '';
  const ready = new Promise<string | undefined>((resolve) => {
    command.onStdout((chunk) => {
      stdout += chunk.toString('utf8');
      const at = stdout.indexOf(`\n${READY}\n`);
      if (at >= 0) resolve(stdout.slice(0, at));
    });
    void command.exited().then(() => resolve(undefined));
  });
  command.resume();
  const physical = await ready;
  if (physical === undefined) {
    const exit = await command.exited();
    return err(commandError(exit, 'write', { dir, file: joinPath(dir, name) }));
  }
  return ok({ command, dir: physical, temp });
}

/** Renames the finished temporary file to `name`; removes it when that fails. */
export async function commitUpload(
  session: FileSession,
  transferId: string,
  target: UploadTarget,
  name: string,
  overwrite: boolean,
  size: number,
): Promise<Result<void>> {
  const ran = await run(session, transferId, COMMIT_SCRIPT, [target.dir, target.temp, name, overwrite ? '1' : '0', String(size)]);
  if (!ran.ok) {
    await removeTemp(session, transferId, target);
    return ran;
  }
  return ran.value.code === 0
    ? ok(undefined)
    : err(commandError(ran.value, 'write', { dir: target.dir, file: joinPath(target.dir, name) }));
}

/** The first wait before a temporary file the engine could not remove is tried again; it doubles. */
export const REMOVE_RETRY_FIRST_MS = 2000;
/** The longest wait between two tries. */
export const REMOVE_RETRY_MAX_MS = 60_000;
/** How long a temporary file is tried again before the agent gives up (and says so). */
export const REMOVE_RETRY_FOR_MS = 10 * 60_000;

/**
 * Removes an upload's temporary file (cancelled, failed, digest mismatch); logs when it cannot.
 * When the removal could not even be run (most often the engine stopped or is restarting, which is
 * why the transfer failed too), it is tried again, waiting 2 s and then twice as long each time,
 * for REMOVE_RETRY_FOR_MS: a restarted engine finds no `.part` file left by an upload it cut off.
 * A container removed meanwhile is tried the same way, and only costs those few requests.
 */
export async function removeTemp(session: FileSession, transferId: string, target: UploadTarget): Promise<void> {
  const ran = await run(session, transferId, REMOVE_SCRIPT, [target.dir, target.temp]);
  if (ran.ok && ran.value.code === 0) return;
  const fields = { transferId, dir: target.dir, temp: target.temp };
  if (ran.ok) {
    log.warn("an upload's temporary file could not be removed", { ...fields, error: ran.value.stderr.trim() });
    return;
  }
  log.warn("an upload's temporary file could not be removed; trying again while the engine does not answer", {
    ...fields,
    error: ran.error.message,
    retryForMs: REMOVE_RETRY_FOR_MS,
  });
  const giveUpAt = performance.now() + REMOVE_RETRY_FOR_MS;
  const retry = (waitMs: number) => {
    setTimeout(() => {
      void run(session, transferId, REMOVE_SCRIPT, [target.dir, target.temp]).then((again) => {
        if (again.ok && again.value.code === 0) log.info("an upload's temporary file was removed once the engine answered", fields);
        else if (again.ok) log.warn("an upload's temporary file could not be removed", { ...fields, error: again.value.stderr.trim() });
        else if (performance.now() + waitMs > giveUpAt)
          log.warn("gave up removing an upload's temporary file: the engine did not answer", { ...fields, error: again.error.message });
        else retry(Math.min(waitMs * 2, REMOVE_RETRY_MAX_MS));
      });
    }, waitMs).unref();
  };
  retry(REMOVE_RETRY_FIRST_MS);
}

/** A download in progress: its command (stdout paused until resumed), what it is and its size when known. */
export interface DownloadSource {
  command: ContainerCommand;
  kind: 'file' | 'directory';
  size: number | null;
  /** a directory's own name (its physical path's last component), which its archive holds */
  directoryName: string | undefined;
  /** stdout that arrived with the prelude, before the caller took the output: the first bytes */
  held: Buffer[];
  /** stderr that arrived after the prelude so far (a short file's DONE may come with it) */
  heldStderr: () => string;
}

/** Starts reading `path`: a file's bytes, or a directory as tar. */
export async function startDownload(session: FileSession, transferId: string, path: string): Promise<Result<DownloadSource>> {
  const started = await ContainerCommand.start(session.container, {
    script: DOWNLOAD_SCRIPT,
    args: [path],
    user: session.user,
    transferId,
    // The script waits for the end of its stdin before it exits (DOWNLOAD_SCRIPT).
    stdin: true,
  });
  if (!started.ok) return started;
  const command = started.value;
  let stderr = '';
  const ready = new Promise<string | undefined>((resolve) => {
    command.onStderr((text) => {
      stderr += text;
      const at = stderr.indexOf(`${READY} `);
      const end = at >= 0 ? stderr.indexOf('\n', at) : -1;
      if (end >= 0) resolve(stderr.slice(at + READY.length + 1, end));
    });
    void command.exited().then(() => resolve(undefined));
  });
  // Stdout waits (paused) for the caller; the prelude comes on stderr before any of it, but a
  // paused stream delivers neither: read until the prelude is in, holding stdout meanwhile.
  const held: Buffer[] = [];
  command.onStdout((chunk) => held.push(chunk));
  command.resume();
  const prelude = await ready;
  command.pause();
  if (prelude === undefined) {
    const exit = await command.exited();
    return err(commandError(exit, 'read', { file: path }));
  }
  const heldStderr = () => stderr.slice(stderr.indexOf('\n', stderr.indexOf(`${READY} `)) + 1);
  const [kind, size, ...name] = prelude.split(' ');
  const bytes = size !== undefined && /^\d+$/.test(size) ? Number(size) : null;
  const directory = kind === 'directory';
  return ok({
    command,
    kind: directory ? 'directory' : 'file',
    size: directory ? null : bytes,
    directoryName: directory ? name.join(' ') : undefined,
    held,
    heldStderr,
  });
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}
