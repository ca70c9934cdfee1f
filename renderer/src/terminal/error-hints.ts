import type { SessionError, SessionExit } from '../session/terminal-session';

/** What a user can try for each failure; the agent's own message says what happened. */
const HINTS: Partial<Record<SessionError['code'], string>> = {
  BAD_MESSAGE: 'the message was dropped; the session goes on',
  MESSAGE_TOO_LARGE: 'the message was dropped; the session goes on',
  UNSUPPORTED_PROTOCOL: 'update the console or the agent so that both speak tether-tty/1',
  UNKNOWN_TARGET:
    "check the container name against the agent's list; a container the agent's rules do not expose (the tether.vplc label or a name rule on the host) is refused the same way",
  TARGET_NOT_EXPOSED: "the agent's rules do not expose this container; add the tether.vplc label or a name rule on the host",
  TARGET_NOT_RUNNING: 'start (or unpause) the container, then open the tab again',
  NO_SHELL: 'the container has no usable shell; configure one in the agent',
  EXEC_FAILED: "the Docker engine refused the exec; see the agent's log",
  SESSION_NOT_FOUND: 'the shell is gone: the agent restarted or the session expired; open a new session',
  SESSION_FORBIDDEN: 'another console opened this session; open a new session',
  DOCKER_UNAVAILABLE: 'the agent cannot reach its Docker engine; check the engine on the host',
  UNAUTHORIZED: 'check the console token',
  AGENT_OFFLINE: 'the agent is not connected; wait for it to come back online',
  OPEN_TIMEOUT: 'the agent did not answer; close the tab and try again',
  CHANNEL_CLOSED: 'the connection to the agent ended; check the agent on its host, then Reconnect',
  CONNECTION_LOST: 'check that the agent is running on its host, then Reconnect',
  AUDIT_UNAVAILABLE: 'the agent cannot write its audit log (a full disk?); free space on its host, then try again',
  AGENT_STOPPED: 'open a new session once the agent is back',
  INTERNAL: "see the agent's log",
};

export function hintFor(error: SessionError): string | undefined {
  return HINTS[error.code];
}

export function sessionErrorText(error: SessionError): string {
  const hint = HINTS[error.code];
  return `[error ${error.code}] ${error.message}${hint ? ` — ${hint}` : ''}`;
}

/** What happened to a container, after its name: "stopped", "restarted", "was removed". */
export function containerFateText(fate: NonNullable<SessionExit['container']>): string {
  return fate === 'removed' ? 'was removed' : fate;
}

/** What the terminal prints when its shell ended: the exit code, and the container's fate when it ended with it. */
export function exitText(exit: SessionExit): string {
  const code = exit.code ?? 'unknown';
  if (!exit.container) return `process exited with code ${code}`;
  return `the container ${containerFateText(exit.container)}; the shell ended with it (code ${code})`;
}
