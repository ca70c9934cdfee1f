/**
 * The agent's live sessions, on disk (`sessions.json` in the state folder, mode 0600), and what a
 * restarted agent does with them: end the shells its killed predecessor left running. A clean stop
 * ends every session itself; after SIGKILL, an OOM kill or a power cut, nothing else would, and the
 * shells would sit in their containers with nobody able to reach them.
 *
 * The file is a hint, not the truth: a write that fails (a full disk) leaves it stale, listing
 * sessions that ended and missing ones that run. So a failed write is tried again until it works,
 * and at start the agent asks the processes themselves: every process a session starts carries the
 * session's and the agent's markers (session-killer.ts). A listed session with no process left is
 * not ended (or audited) again; a marked process that no entry lists is found and ended all the same.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { z } from 'zod';
import type { AuditLog } from './audit.js';
import { describeError, DOCKER_REQUEST_TIMEOUT_MS, withDeadline } from './deadline.js';
import type { DockerTargets } from './docker-targets.js';
import { createLogger } from './log.js';
import {
  AGENT_MARKER,
  hostProcesses,
  killInContainer,
  killOnHost,
  killSession,
  pidNamespaceOf,
  type HostProcess,
} from './session-killer.js';
import { readJsonFile, writeJsonFile } from './trust/state-files.js';

const log = createLogger(import.meta.url);

/** How often a journal that could not be written is tried again. */
export const JOURNAL_RETRY_MS = 2000;

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

/** What the restarted agent needs to find and end its predecessor's sessions. */
export interface LeftoverSearch {
  docker: Docker;
  audit: AuditLog;
  /** the agent's mark (`TETHER_AGENT`), the same as its predecessor's on this state folder */
  agentTag: string;
  /** the exposed containers, searched from inside (as their session user) where the host /proc cannot be used */
  targets?: DockerTargets | undefined;
  /** the user a session in this container runs as */
  userFor?: ((name: string, labels: Record<string, string>) => string) | undefined;
}

/** A running container as the host sees it: its pid namespace when the host /proc shows it. */
interface ContainerView {
  id: string;
  name: string;
  pidNamespace: string | undefined;
}

/** A session of the previous agent with processes still running. */
interface Leftover {
  sessionId: string;
  containerId: string;
  container: string;
  processes: number;
  foundBy: 'journal' | 'process marker';
}

export class SessionJournal {
  private readonly entries = new Map<string, JournalEntry>();
  private retryTimer: NodeJS.Timeout | undefined;
  /** the last write failed: the file is stale until a write works */
  private stale = false;
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

  /** Whether the file on disk says what runs; false while writes fail. */
  get upToDate(): boolean {
    return !this.stale;
  }

  /** Stops retrying a failed write (the agent stops; sessions are all ended by then). */
  close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.stale) this.write();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private write(): void {
    try {
      writeJsonFile(this.path, [...this.entries.values()]);
      if (this.stale) log.info('session journal written again', { path: this.path, sessions: this.entries.size });
      this.stale = false;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    } catch (cause) {
      if (!this.stale)
        log.warn('cannot write the session journal; trying again, and a restart asks the processes', {
          path: this.path,
          error: describeError(cause),
        });
      this.stale = true;
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.write();
      }, JOURNAL_RETRY_MS);
      this.retryTimer.unref();
    }
  }

  /**
   * Ends the sessions a previous agent on this state folder left behind (it did not stop cleanly):
   * those its journal lists that still have processes, and those only their processes' markers
   * tell of. Then starts the journal afresh. Returns how many sessions it ended.
   */
  async endLeftovers(search: LeftoverSearch): Promise<number> {
    const read = readJsonFile(this.path, []);
    const parsed = read.ok ? JournalFile.safeParse(read.value) : undefined;
    let listed: JournalEntry[] = [];
    if (read.ok && parsed?.success) listed = parsed.data;
    else
      log.warn('session journal unreadable; the processes alone tell what is left', {
        path: this.path,
        error: read.ok ? parsed?.error?.message : read.error,
      });
    let containers: ContainerView[];
    try {
      containers = await this.runningContainers(search.docker);
    } catch (cause) {
      // Docker unreachable or failing: keep the entries, so that a later start tries again.
      log.warn('cannot look for the sessions of a previous agent yet: Docker does not answer', {
        error: describeError(cause),
        listed: listed.length,
      });
      for (const entry of listed) this.entries.set(entry.sessionId, entry);
      this.write();
      return 0;
    }
    const host = await hostProcesses();
    const ended: Leftover[] = [];
    const byId = new Map(containers.map((c) => [c.id, c]));
    const handled = new Set<string>();
    // The host's view first: every marked process of this agent, in every container it shows.
    for (const container of containers.filter((c) => c.pidNamespace !== undefined)) {
      const inside = (host ?? []).filter((p) => p.pidNamespace === container.pidNamespace);
      const sessions = new Map<string, { sid: number }>();
      for (const p of inside) if (p.agent === search.agentTag && p.session) sessions.set(p.session, { sid: 0 });
      for (const entry of listed.filter((e) => e.containerId === container.id)) {
        if (hasProcess(inside, entry)) sessions.set(entry.sessionId, { sid: entry.pid });
        handled.add(entry.sessionId);
      }
      for (const [sessionId, { sid }] of sessions) {
        const killed = await killOnHost({ sid, sessionId, pidNamespace: container.pidNamespace });
        if (killed === undefined || killed.length === 0) continue;
        handled.add(sessionId);
        ended.push({
          sessionId,
          containerId: container.id,
          container: container.name,
          processes: killed.length,
          foundBy: listed.some((e) => e.sessionId === sessionId) ? 'journal' : 'process marker',
        });
      }
    }
    // Containers the host does not show (the agent unprivileged, or in another pid namespace):
    // their exposed ones searched from inside for the agent's marker, as their session user.
    const hidden = containers.filter((c) => c.pidNamespace === undefined);
    if (hidden.length > 0 && search.targets) {
      for (const container of hidden) {
        const target = await search.targets.resolve(container.id);
        if (!target.ok) continue;
        const user = search.userFor?.(target.value.name, target.value.labels);
        const found = await killInContainer(target.value.container, `${AGENT_MARKER}=${search.agentTag}`, user);
        for (const [sessionId, processes] of countBySession(found ?? [])) {
          handled.add(sessionId);
          ended.push({
            sessionId,
            containerId: container.id,
            container: container.name,
            processes,
            foundBy: listed.some((e) => e.sessionId === sessionId) ? 'journal' : 'process marker',
          });
        }
      }
    }
    // Listed sessions not handled yet: in hidden containers the marker search did not cover
    // (not exposed any more, or another user), by their own marker.
    for (const entry of listed) {
      if (handled.has(entry.sessionId)) continue;
      if (!byId.has(entry.containerId)) continue; // the container stopped or is gone, and its processes with it
      const result = await killSession(search.docker.getContainer(entry.containerId), entry.pid, entry.sessionId, false, {
        user: entry.user,
      });
      if (result.method === 'none') {
        log.warn('cannot end a session of a previous agent yet', { sessionId: entry.sessionId, container: entry.container });
        this.entries.set(entry.sessionId, entry);
        continue;
      }
      if (result.found > 0)
        ended.push({
          sessionId: entry.sessionId,
          containerId: entry.containerId,
          container: entry.container,
          processes: result.found,
          foundBy: 'journal',
        });
    }
    for (const leftover of ended) {
      log.warn('session of a previous agent ended', { ...leftover });
      search.audit.record('session.end', {
        sessionId: leftover.sessionId,
        container: leftover.container,
        reason: 'agent restarted: the session did not survive',
        exitCode: null,
        processes: leftover.processes,
        foundBy: leftover.foundBy,
      });
    }
    const gone = listed.filter((e) => !ended.some((l) => l.sessionId === e.sessionId) && !this.entries.has(e.sessionId)).length;
    if (gone > 0) log.info('sessions listed in the journal had no process left; not ended again', { sessions: gone });
    this.write();
    return ended.length;
  }

  /** The running containers, each with its pid namespace when the host /proc shows it. */
  private async runningContainers(docker: Docker): Promise<ContainerView[]> {
    const listed = await withDeadline(docker.listContainers(), DOCKER_REQUEST_TIMEOUT_MS, 'listing the running containers');
    const views: ContainerView[] = [];
    for (const info of listed) {
      let pid: number;
      try {
        pid = (await withDeadline(docker.getContainer(info.Id).inspect(), DOCKER_REQUEST_TIMEOUT_MS, 'inspecting a container')).State.Pid;
      } catch (cause) {
        log.debug('container not inspected', { id: info.Id.slice(0, 12), error: describeError(cause) });
        continue;
      }
      views.push({ id: info.Id, name: (info.Names[0] ?? info.Id).replace(/^\//, ''), pidNamespace: await hostView(info.Id, pid) });
    }
    return views;
  }
}

/**
 * The container's pid namespace when the host /proc shows its processes and their environments:
 * its init's cgroup names the container, and its environment can be read.
 */
async function hostView(containerId: string, initPid: number): Promise<string | undefined> {
  if (initPid <= 0) return undefined;
  try {
    const cgroup = await readFile(`/proc/${initPid}/cgroup`, 'utf8');
    if (!cgroup.includes(containerId)) return undefined;
    await readFile(`/proc/${initPid}/environ`);
  } catch (cause) {
    log.debug('the host does not show the container', { id: containerId.slice(0, 12), error: describeError(cause) });
    return undefined;
  }
  return pidNamespaceOf(initPid);
}

/** Whether a listed session still has a process: by its marker, or by its Linux session while its pid is not another process's. */
function hasProcess(inside: HostProcess[], entry: JournalEntry): boolean {
  const leader = inside.find((p) => p.pid === entry.pid);
  const bySid = entry.pid > 0 && (leader === undefined || leader.session === entry.sessionId);
  return inside.some((p) => p.session === entry.sessionId || (bySid && p.sid === entry.pid));
}

function countBySession(found: { session: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of found) if (p.session) counts.set(p.session, (counts.get(p.session) ?? 0) + 1);
  return counts;
}
