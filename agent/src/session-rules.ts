/**
 * What the agent allows a terminal session: the exec user, its standing beside the container's
 * workload (priority, CPUs, memory and process caps; session-standing.ts), how many sessions one
 * container may have, and how long a session may sit idle or last at all. Shared by every peer of
 * the agent.
 */
import { err, ok, protocolError, type Result } from '@tether/protocol';
import { cpuSet, MIN_SESSION_MEMORY_BYTES, parseMemorySize, type SessionPriority, type SessionResources } from './session-standing.js';

/** Default exec user: not root. uid 1000 is the first ordinary user on most Linux images. */
export const DEFAULT_EXEC_USER = '1000:1000';
/** The container label that names the exec user for that container. */
export const USER_LABEL = 'tether.user';
/** The container labels that set its sessions' standing; a per-container rule in the config wins. */
export const STANDING_LABELS = {
  priority: 'tether.session-priority',
  cpus: 'tether.session-cpus',
  memory: 'tether.session-memory',
  processes: 'tether.session-processes',
} as const;

/** A container's rule for its sessions' standing, as the config file or labels give it. */
export interface StandingRule {
  priority?: SessionPriority | undefined;
  cpus?: string | undefined;
  /** bytes */
  memory?: number | undefined;
  processes?: number | undefined;
}

/** A container's sessions' standing, and the labels that were ignored because they were malformed. */
export interface ResolvedStanding {
  resources: SessionResources;
  ignored: string[];
}

export interface SessionRulesConfig {
  shells: string[];
  /** the exec user unless the container's `tether.user` label names another; `root` must be explicit */
  user: string;
  /** per container name, the exec user; wins over the label */
  users: Record<string, string>;
  /** 0: no limit */
  maxSessionsPerContainer: number;
  /** 0: never */
  idleTimeoutMs: number;
  /** 0: unlimited */
  maxSessionMs: number;
  recordDir?: string | undefined;
  /** how long a session whose channel was lost waits for a resume; 0: it ends at once */
  resumeGraceMs?: number;
  /** the agent's mark (session-killer.ts `agentTag`), put in every session's environment */
  agentTag?: string | undefined;
  /** every session's standing unless a container's rule or labels say otherwise; `idle` when absent */
  standing?: StandingRule & { priority: SessionPriority };
  /** per container name, its sessions' standing; wins over the labels, field by field */
  standingRules?: Record<string, StandingRule>;
  /** add asciicast `i` events (what was typed) to recordings */
  recordInput?: boolean;
}

/** A label's value as a standing rule field; undefined (and a note in `ignored`) when malformed. */
function fromLabels(labels: Record<string, string> | undefined, ignored: string[]): StandingRule {
  const rule: StandingRule = {};
  const value = (key: keyof typeof STANDING_LABELS) => labels?.[STANDING_LABELS[key]];
  const bad = (key: keyof typeof STANDING_LABELS, what: string) =>
    ignored.push(`label ${STANDING_LABELS[key]}=${JSON.stringify(value(key))} is not ${what}; ignored`);
  const priority = value('priority');
  if (priority !== undefined) {
    if (priority === 'idle' || priority === 'normal') rule.priority = priority;
    else bad('priority', 'idle or normal');
  }
  const cpus = value('cpus');
  if (cpus !== undefined) {
    if (cpuSet(cpus)) rule.cpus = cpus.trim();
    else bad('cpus', 'a CPU list such as 1 or 2-3');
  }
  const memory = value('memory');
  if (memory !== undefined) {
    const bytes = parseMemorySize(memory);
    if (bytes !== undefined && bytes >= MIN_SESSION_MEMORY_BYTES) rule.memory = bytes;
    else bad('memory', 'a size of at least 16m');
  }
  const processes = value('processes');
  if (processes !== undefined) {
    if (/^\d+$/.test(processes.trim()) && Number(processes) >= 1) rule.processes = Number(processes);
    else bad('processes', 'a number of processes');
  }
  return rule;
}

export class SessionRules {
  private readonly open = new Map<string, number>();

  constructor(readonly config: SessionRulesConfig) {}

  get shells(): string[] {
    return this.config.shells;
  }

  userFor(containerName: string, labels: Record<string, string> | undefined): string {
    return this.config.users[containerName] ?? labels?.[USER_LABEL] ?? this.config.user;
  }

  /** The standing of a session in this container: its rule, else its labels, else the agent's, field by field. */
  standingFor(containerName: string, labels: Record<string, string> | undefined): ResolvedStanding {
    const ignored: string[] = [];
    const named = this.config.standingRules?.[containerName] ?? {};
    const labelled = fromLabels(labels, ignored);
    const global = this.config.standing ?? { priority: 'idle' };
    const pick = <K extends keyof StandingRule>(key: K): StandingRule[K] => named[key] ?? labelled[key] ?? global[key];
    return {
      resources: { priority: pick('priority') ?? 'idle', cpus: pick('cpus'), memoryBytes: pick('memory'), processes: pick('processes') },
      ignored,
    };
  }

  /** Counts a new session in `containerId`; SESSION_LIMIT when it already has the most allowed. */
  acquire(containerId: string, containerName: string): Result<() => void> {
    const count = this.open.get(containerId) ?? 0;
    const max = this.config.maxSessionsPerContainer;
    if (max > 0 && count >= max) {
      return err(
        protocolError(
          'SESSION_LIMIT',
          `Container "${containerName}" already has ${count} session(s), the most this agent allows; close one first.`,
        ),
      );
    }
    this.open.set(containerId, count + 1);
    let released = false;
    return ok(() => {
      if (released) return;
      released = true;
      const left = (this.open.get(containerId) ?? 1) - 1;
      if (left <= 0) this.open.delete(containerId);
      else this.open.set(containerId, left);
    });
  }
}
