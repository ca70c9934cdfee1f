/**
 * The revocation list: a JSON-lines file, one `{"jti": …, "revokedAt": …}` per revoked token,
 * appended by `tether-signaling token revoke`. The server reads it at start and again whenever its
 * modification time changes (polled, so a file that does not exist yet, or is replaced, is fine).
 */
import { appendFileSync, readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { z } from 'zod';
import { err, ok, type Result } from '@tether/protocol';
import type { Logger } from './log.js';

/** How often the file's modification time is checked. */
export const REVOCATIONS_POLL_MS = 250;

const Revocation = z.object({ jti: z.string().min(1).max(64), revokedAt: z.string().optional() });

/** Reads the revoked token ids; a missing file is an empty list, a bad line is reported and skipped. */
export function readRevocations(path: string, log?: Logger): Result<Set<string>, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return ok(new Set());
    return err(`cannot read revocations file ${path}: ${(cause as Error).message}`);
  }
  const revoked = new Set<string>();
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let parsed: z.ZodSafeParseResult<z.infer<typeof Revocation>>;
    try {
      parsed = Revocation.safeParse(JSON.parse(line));
    } catch (cause) {
      log?.warn('revocations file: line is not JSON; skipped', { path, line: index + 1, error: (cause as Error).message });
      return;
    }
    if (parsed.success) revoked.add(parsed.data.jti);
    else log?.warn('revocations file: line has no jti; skipped', { path, line: index + 1 });
  });
  return ok(revoked);
}

/** Appends one revocation (mode 0600 when the file is created). */
export function appendRevocation(path: string, jti: string, now = new Date()): Result<void, string> {
  try {
    appendFileSync(path, JSON.stringify({ jti, revokedAt: now.toISOString() }) + '\n', { mode: 0o600 });
    return ok(undefined);
  } catch (cause) {
    return err(`cannot write revocations file ${path}: ${(cause as Error).message}`);
  }
}

/** The revoked token ids, kept current with the file; `onRevoked` gets the ids added by a change. */
export class RevocationList {
  #revoked = new Set<string>();
  readonly #listener: ((current: Stats, previous: Stats) => void) | undefined;

  private constructor(
    private readonly path: string | undefined,
    private readonly log: Logger,
    onRevoked: (added: string[]) => void,
  ) {
    if (path === undefined) return;
    this.#listener = (current, previous) => {
      if (current.mtimeMs === previous.mtimeMs && current.size === previous.size) return;
      const read = readRevocations(path, log);
      if (!read.ok) {
        log.error('revocations not reloaded; the previous list stays in force', { reason: read.error });
        return;
      }
      const added = [...read.value].filter((jti) => !this.#revoked.has(jti));
      this.#revoked = read.value;
      log.info('revocations reloaded', { path, revoked: read.value.size, added: added.length });
      if (added.length > 0) onRevoked(added);
    };
    watchFile(path, { interval: REVOCATIONS_POLL_MS, persistent: false }, this.#listener);
  }

  /** Reads the file once and starts watching it; an error value when it cannot be read. */
  static open(path: string | undefined, log: Logger, onRevoked: (added: string[]) => void): Result<RevocationList, string> {
    // Watch first, then read: a revocation written in between is then not missed.
    const list = new RevocationList(path, log, onRevoked);
    const initial = path === undefined ? ok(new Set<string>()) : readRevocations(path, log);
    if (!initial.ok) {
      list.close();
      return initial;
    }
    list.#revoked = initial.value;
    return ok(list);
  }

  has(jti: string): boolean {
    return this.#revoked.has(jti);
  }

  get size(): number {
    return this.#revoked.size;
  }

  close(): void {
    if (this.path !== undefined && this.#listener) unwatchFile(this.path, this.#listener);
  }
}
