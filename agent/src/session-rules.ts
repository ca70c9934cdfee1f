/**
 * What the agent allows a terminal session: the exec user, how many sessions one container may
 * have, and how long a session may sit idle or last at all. Shared by every peer of the agent.
 */
import { err, ok, protocolError, type Result } from '@tether/protocol';

/** Default exec user: not root. uid 1000 is the first ordinary user on most Linux images. */
export const DEFAULT_EXEC_USER = '1000:1000';
/** The container label that names the exec user for that container. */
export const USER_LABEL = 'tether.user';

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

  /** Counts a new session in `containerId`; SESSION_LIMIT when it already has the most allowed. */
  acquire(containerId: string, containerName: string): Result<() => void> {
    const count = this.open.get(containerId) ?? 0;
    const max = this.config.maxSessionsPerContainer;
    if (max > 0 && count >= max) {
      return err(protocolError('SESSION_LIMIT', `Container "${containerName}" already has ${count} session(s), the most this agent allows; close one first.`));
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
