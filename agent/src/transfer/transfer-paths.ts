/**
 * The path rules of a transfer, checked before anything runs in the container. An upload's name
 * is one file name, never a path: `../x`, `/etc/x` or `a/b` in a name would put the file outside the
 * directory the user chose. A directory or a download path is the user's own choice, absolute or
 * relative to the shell's working directory, resolved lexically (`a/../b` is `b`); the container
 * then resolves symbolic links as the session's user, whose permissions decide what may be read
 * or written. Paths go to the container as arguments of a fixed script, never inside its text.
 */
import { posix } from 'node:path';
import { err, MAX_FILE_NAME_BYTES, MAX_FILE_PATH_BYTES, ok, protocolError, type Result } from '@tether/protocol';

/** `name` when it is one file name; BAD_PATH otherwise, saying why. */
export function checkFileName(name: string): Result<string> {
  const refuse = (why: string) =>
    err(protocolError('BAD_PATH', `"${name.slice(0, 128)}" is not a file name: ${why}. Name one file; choose its directory apart.`));
  if (name.length === 0) return refuse('it is empty');
  if (name.includes('\0')) return refuse('it contains a NUL character');
  if (name.includes('/')) return refuse('it contains "/"');
  if (name === '.' || name === '..') return refuse(`"${name}" is a directory reference`);
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) return refuse(`it is longer than ${MAX_FILE_NAME_BYTES} bytes`);
  return ok(name);
}

/** `path` made absolute against the shell's working directory `cwd`, normalized; BAD_PATH when it cannot be a path. */
export function resolvePath(cwd: string, path: string): Result<string> {
  if (path.length === 0 || path.includes('\0'))
    return err(protocolError('BAD_PATH', 'a path may be neither empty nor contain a NUL character'));
  const resolved = posix.resolve(cwd, path);
  if (Buffer.byteLength(resolved, 'utf8') > MAX_FILE_PATH_BYTES) {
    return err(protocolError('BAD_PATH', `the path is longer than ${MAX_FILE_PATH_BYTES} bytes`));
  }
  return ok(resolved);
}

/** The directory that holds `path` and its last component; `/` is itself, named `.`. */
export function splitPath(path: string): { parent: string; base: string } {
  if (path === '/') return { parent: '/', base: '.' };
  return { parent: posix.dirname(path), base: posix.basename(path) };
}

/** Whether `path` is absolute: then the shell's working directory is not needed. */
export const isAbsolute = (path: string): boolean => path.startsWith('/');
