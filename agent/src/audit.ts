/**
 * The audit log: one JSON object per line, appended, never rewritten (`--audit-log`, default
 * `audit.jsonl` in the state folder, mode 0600). Every session start and end, every refusal, every
 * pairing event. Terminal content is never written here.
 */
import { appendFileSync } from 'node:fs';
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
  | 'pairing.refused';

/** Who was on the other end, as far as the agent knows. */
export interface AuditPeer {
  path: 'lan' | 'cloud';
  /** the signaling server's connection id or the LAN socket id */
  connection: string;
  consoleId?: string | undefined;
  consoleName?: string | undefined;
  fingerprint?: string | undefined;
}

export class AuditLog {
  constructor(private readonly path: string | undefined) {}

  record(event: AuditEvent, fields: Record<string, unknown>): void {
    if (!this.path) return;
    const line = JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n';
    try {
      appendFileSync(this.path, line, { mode: 0o600 });
    } catch (cause) {
      log.error('audit log not written', { path: this.path, event, error: describeError(cause) });
    }
  }
}
