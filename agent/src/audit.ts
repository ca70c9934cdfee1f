/**
 * The audit log: one JSON object per line, appended, never rewritten (`--audit-log`, default
 * `audit.jsonl` in the state folder, mode 0600). Every session start and end, every refusal, every
 * pairing event. Terminal content is never written here.
 *
 * It is never corrupted and never silently incomplete. A record is written whole or not at all: a
 * write that fails half-way (a full disk) is cut back to where the record began. A record that
 * cannot be written is held in memory (and logged, so that the journal has it) and written, after
 * an `audit.gap` record that says since when and why, as soon as writing works again: the agent
 * tries again every AUDIT_RETRY_MS by itself. While records are held, `--audit-failure closed` (the
 * default) refuses new sessions with AUDIT_UNAVAILABLE; `open` lets them start.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { TokenBucket } from '@tether/protocol';
import { describeError } from './deadline.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

export type AuditEvent =
  | 'session.start'
  | 'session.end'
  | 'session.refused'
  | 'session.detach'
  | 'session.resume'
  | 'offer.refused'
  | 'console.authenticated'
  | 'console.refused'
  | 'console.revoked'
  | 'pairing.enrolled'
  | 'pairing.refused'
  | 'transfer'
  | 'audit.gap';

/** What the agent does while its audit log cannot be written: refuse new sessions, or let them start. */
export type AuditFailurePolicy = 'closed' | 'open';

/** How often the agent tries again to write held records. */
export const AUDIT_RETRY_MS = 1000;
/**
 * Held records beyond this many bytes are dropped (counted, and named by event in the gap record):
 * a disk that stays full must not grow the agent's memory without bound.
 */
export const MAX_HELD_AUDIT_BYTES = 1024 * 1024;

/** Who was on the other end, as far as the agent knows. */
export interface AuditPeer {
  path: 'lan' | 'cloud';
  /** the signaling server's connection id or the LAN socket id */
  connection: string;
  consoleId?: string | undefined;
  consoleName?: string | undefined;
  fingerprint?: string | undefined;
}

export interface AuditLogOptions {
  failure?: AuditFailurePolicy;
  retryMs?: number;
}

/** Why writing stopped, and what was held or dropped since. */
interface Outage {
  since: string;
  reason: string;
  held: string[];
  heldBytes: number;
  lost: number;
  lostEvents: Record<string, number>;
}

/** The refusals of unauthenticated parties written at once, and per second after that (AuditLog.refusal). */
export const REFUSAL_AUDIT_BURST = 100;
export const REFUSAL_AUDIT_PER_SECOND = 1;

export class AuditLog {
  private outage: Outage | undefined;
  private readonly refusals = new TokenBucket(REFUSAL_AUDIT_PER_SECOND, REFUSAL_AUDIT_BURST);
  private readonly refusalNotice = new TokenBucket(1 / 60, 1);
  private refusalsHeld: Record<string, number> = {};
  private retryTimer: NodeJS.Timeout | undefined;
  private checkedTail = false;
  /** the gap record for a partial record cut off the end of the log, until it is written */
  private tailNote: string | undefined;
  readonly failure: AuditFailurePolicy;
  private readonly retryMs: number;

  constructor(
    readonly path: string | undefined,
    options: AuditLogOptions = {},
  ) {
    this.failure = options.failure ?? 'closed';
    this.retryMs = options.retryMs ?? AUDIT_RETRY_MS;
  }

  /**
   * Writes one record; false when it could not be written now (it is held and written later, or,
   * beyond MAX_HELD_AUDIT_BYTES, counted as lost in the gap record).
   */
  record(event: AuditEvent, fields: Record<string, unknown>): boolean {
    if (!this.path) return true;
    const line = JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n';
    if (this.outage) this.flush();
    if (!this.outage) {
      const failed = this.append(line);
      if (failed === undefined) return true;
      this.outage = { since: new Date().toISOString(), reason: failed, held: [], heldBytes: 0, lost: 0, lostEvents: {} };
      log.error('audit log cannot be written; records are held until it can', { path: this.path, error: failed, failure: this.failure });
      this.scheduleRetry();
    }
    this.hold(event, line);
    return false;
  }

  /**
   * A refusal of someone not authenticated on the LAN: a pairing attempt, a LAN authentication.
   * Written within a budget (REFUSAL_AUDIT_BURST at once, REFUSAL_AUDIT_PER_SECOND after),
   * so that a flood of attempts cannot fill the disk, which with `--audit-failure closed` would
   * outlast the flood by refusing every session. Refusals over the budget are counted, by event,
   * in the next one written (`heldBack`) and in the agent's own log.
   */
  refusal(event: AuditEvent, fields: Record<string, unknown>): boolean {
    if (!this.refusals.take()) {
      this.refusalsHeld[event] = (this.refusalsHeld[event] ?? 0) + 1;
      if (this.refusalNotice.take())
        log.warn('refusals over the audit budget are counted, not written one by one', { held: this.refusalsHeld });
      return false;
    }
    const held = this.refusalsHeld;
    this.refusalsHeld = {};
    return this.record(event, Object.keys(held).length > 0 ? { ...fields, heldBack: held } : fields);
  }

  /** Whether new sessions may start: the log is written, or the operator chose `--audit-failure open`. */
  get acceptsSessions(): boolean {
    if (this.failure === 'open' || !this.outage) return true;
    this.flush();
    return !this.outage;
  }

  /** Since when records could not be written (ISO time), or undefined while the log is written. */
  get unavailableSince(): string | undefined {
    return this.outage?.since;
  }

  /**
   * Tries once more to write what is held, and stops retrying. Returns true when nothing is left
   * unwritten; what is left is in the agent's own log.
   */
  close(): boolean {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.outage) this.flush();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.outage)
      log.error('audit records not written before the agent stopped; they are in this log only', {
        path: this.path,
        held: this.outage.held.length,
        lost: this.outage.lost,
        since: this.outage.since,
      });
    return !this.outage;
  }

  private hold(event: AuditEvent, line: string): void {
    const outage = this.outage!;
    const bytes = Buffer.byteLength(line);
    if (outage.heldBytes + bytes > MAX_HELD_AUDIT_BYTES) {
      outage.lost++;
      outage.lostEvents[event] = (outage.lostEvents[event] ?? 0) + 1;
      log.error('audit record dropped: too many held while the log cannot be written', { record: line.trimEnd() });
      return;
    }
    outage.held.push(line);
    outage.heldBytes += bytes;
    log.warn('audit record held: the log cannot be written now', { record: line.trimEnd() });
  }

  /**
   * Writes the gap record and the held records after it, in order, in one append: whole or not at
   * all, so that a gap record is always followed by every record it announces.
   */
  private flush(): void {
    const outage = this.outage;
    if (!outage || !this.path) return;
    const gap =
      JSON.stringify({
        time: new Date().toISOString(),
        event: 'audit.gap',
        since: outage.since,
        reason: outage.reason,
        delayed: outage.held.length,
        lost: outage.lost,
        ...(outage.lost > 0 ? { lostEvents: outage.lostEvents } : {}),
      }) + '\n';
    const failed = this.append(gap + outage.held.join(''));
    if (failed !== undefined) {
      log.debug('audit log still cannot be written', { path: this.path, error: failed, held: outage.held.length });
      return this.scheduleRetry();
    }
    this.outage = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    log.info('audit log written again', { path: this.path, since: outage.since, delayed: outage.held.length, lost: outage.lost });
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  /**
   * Appends `line` whole or not at all; the error in words when it could not. A partial write is cut
   * back to where the record began, so that the next record never lands on a fragment.
   */
  private append(line: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(this.path!, 'a+', 0o600);
    } catch (cause) {
      return describeError(cause);
    }
    let start = -1;
    try {
      start = fstatSync(fd).size;
      if (!this.checkedTail) {
        start = this.cutPartialTail(fd, start);
        this.checkedTail = true;
      }
      const bytes = Buffer.from((this.tailNote ?? '') + line);
      for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
      this.tailNote = undefined;
      return undefined;
    } catch (cause) {
      if (start >= 0) {
        try {
          ftruncateSync(fd, start);
        } catch (truncateError) {
          log.error('a partial audit record could not be removed', { path: this.path, error: describeError(truncateError) });
        }
      }
      return describeError(cause);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A log that does not end with a newline holds the start of a record that an agent (an older one,
   * or one killed mid-write) did not finish: it is cut off, and a gap record saying so goes before
   * the next record written. Returns the size after the cut.
   */
  private cutPartialTail(fd: number, size: number): number {
    if (size === 0) return size;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return size;
    const window = Buffer.alloc(Math.min(size, 64 * 1024));
    readSync(fd, window, 0, window.length, size - window.length);
    const newline = window.lastIndexOf(0x0a);
    const keep = newline < 0 ? size - window.length : size - window.length + newline + 1;
    ftruncateSync(fd, keep);
    log.warn('partial audit record removed', { path: this.path, bytes: size - keep });
    this.tailNote =
      JSON.stringify({
        time: new Date().toISOString(),
        event: 'audit.gap',
        reason: `a partial record of ${size - keep} bytes at the end of the log was removed (its write was cut off)`,
        delayed: 0,
        lost: 1,
      }) + '\n';
    return keep;
  }
}
