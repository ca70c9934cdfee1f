/**
 * The agent's state folder: identity, enrolled consoles, pending pairings, audit log. Files are
 * written whole to a temporary name and renamed (a reader never sees half a file), mode 0600, in a
 * folder of mode 0700.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { err, ok, type Result } from '@tether/protocol';
import { randomBytes } from 'node:crypto';

/** `/var/lib/tether-agent` for root, else `$XDG_STATE_HOME/tether-agent` or `~/.local/state/tether-agent`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/tether-agent';
  if (env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/')) return join(env.XDG_STATE_HOME, 'tether-agent');
  const home = env.HOME?.startsWith('/') ? env.HOME : homeOf();
  // A user without a home is a service account (a uid with no passwd entry throws in homedir()):
  // its folder is the service's.
  return home ? join(home, '.local', 'state', 'tether-agent') : '/var/lib/tether-agent';
}

function homeOf(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}

export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Reads a JSON file; `fallback` when it does not exist. */
export function readJsonFile(path: string, fallback: unknown): Result<unknown, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return ok(fallback);
    return err(`cannot read ${path}: ${(cause as Error).message}`);
  }
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (cause) {
    return err(`${path} is not valid JSON: ${(cause as Error).message}`);
  }
}

/** Replaces a file's content atomically, mode 0600. A write that fails (a full disk) leaves no temporary file behind. */
export function writeFileAtomic(path: string, content: string): void {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, content, { mode: 0o600 });
    renameSync(temp, path);
  } catch (cause) {
    rmSync(temp, { force: true });
    throw cause;
  }
}

export function writeJsonFile(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
