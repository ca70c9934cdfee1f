/**
 * The agent's live sessions, on disk (`sessions.json` in the state folder, mode 0600): what a
 * restarted agent needs to end the shells its killed predecessor left running. A clean stop ends
 * every session itself; after SIGKILL, an OOM kill or a power cut, nothing else would, and the
 * shells would sit in their containers with nobody able to reach them.
 */
import { join } from 'node:path';
import type Docker from 'dockerode';
import { z } from 'zod';
import type { AuditLog } from './audit.js';
import { describeError } from './deadline.js';
import { createLogger } from './log.js';
import { hostSeesProcess, killSession } from './session-killer.js';
import { readJsonFile, writeJsonFile } from './trust/state-files.js';

const log = createLogger(import.meta.url);

const JournalEntry = z.object({
  sessionId: z.string().max(64),
  containerId: z.string().max(128),
  container: z.string().max(128),
  pid: z.number().int(),
  user: z.string().max(128).optional(),
  startedAt: z.string().max(64),
});
const JournalFile = z.array(JournalEntry).max(100_000);

export type JournalEntry = z.infer<typeof JournalEntry>;

export class SessionJournal {
  private readonly entries = new Map<string, JournalEntry>();
  readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'sessions.json');
  }

  add(entry: JournalEntry): void {
    this.entries.set(entry.sessionId, entry);
    this.write();
  }

  remove(sessionId: string): void {
    if (this.entries.delete(sessionId)) this.write();
  }

  private write(): void {
    try {
      writeJsonFile(this.path, [...this.entries.values()]);
    } catch (cause) {
      log.warn('cannot write the session journal', { path: this.path, error: describeError(cause) });
    }
  }

  /**
   * Ends the sessions a previous agent on this state folder left behind (it did not stop cleanly),
   * then starts the journal afresh. Returns how many it found still running.
   */
  async endLeftovers(docker: Docker, audit: AuditLog): Promise<number> {
    const read = readJsonFile(this.path, []);
    const parsed = read.ok ? JournalFile.safeParse(read.value) : undefined;
    if (!read.ok || !parsed?.success) {
      log.warn('session journal unreadable; ignored', { path: this.path, error: read.ok ? parsed?.error?.message : read.error });
      this.write();
      return 0;
    }
    let ended = 0;
    for (const entry of parsed.data) {
      const container = docker.getContainer(entry.containerId);
      try {
        const info = await container.inspect();
        if (!info.State.Running) continue; // its processes went with it
        const visible = await hostSeesProcess(entry.pid, entry.sessionId);
        const method = await killSession(container, entry.pid, entry.sessionId, visible, { user: entry.user });
        ended++;
        log.warn('session of a previous agent ended', { sessionId: entry.sessionId, container: entry.container, method });
        audit.record('session.end', { sessionId: entry.sessionId, container: entry.container, reason: 'agent restarted: the session did not survive', exitCode: null });
      } catch (cause) {
        if ((cause as { statusCode?: number }).statusCode === 404) continue; // the container is gone, and its processes
        // Docker unreachable or failing: keep the entry, so that a later start tries again.
        log.warn('cannot end a session of a previous agent yet', { sessionId: entry.sessionId, container: entry.container, error: describeError(cause) });
        this.entries.set(entry.sessionId, entry);
      }
    }
    this.write();
    return ended;
  }
}
