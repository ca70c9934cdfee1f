/**
 * The words a tab's banner shows for where its session stands: lost and reconnecting, gone,
 * exited, failed. One function of the tab's state, so that the texts live in one place.
 */
import type { ContainerFate } from '@tether/protocol';
import { containerFateText, hintFor } from '../terminal/error-hints';
import type { ReconnectState } from '../connection/reconnect-policy';
import { isLive, type TabState } from './tab-state';
import type { BannerContent } from './tab-status-view';
import type { SessionError } from '../session/terminal-session';

export interface BannerFacts {
  target: string;
  agentName: string;
  state: TabState;
  connectionLost: string | undefined;
  targetState: string | undefined;
  exitCode: number | null | undefined;
  /** what became of the container when the shell ended with it (the agent's `exit` says) */
  containerFate?: ContainerFate | undefined;
  lastError: SessionError | undefined;
  /** the session had opened (a shell ran) before it failed: "ended", not "could not open" */
  sessionOpened?: boolean | undefined;
  reconnect:
    | { since: number; reason: string; graceMs: number; state: ReconnectState | undefined; resumeAttempts: number; droppedInput: number }
    | undefined;
  now: number;
}

/** What to do once the shell ended because its container stopped, restarted or was removed. */
const CONTAINER_FATE_NEXT: Record<ContainerFate, string> = {
  stopped: 'Start the container on the host (if it is not restarting), then open a new session.',
  restarted: 'It runs again: open a new session for a new shell. The output stays readable here.',
  removed: 'It is no longer on the host; the output stays readable here.',
};

/** A sentence from the agent or the browser, without its final period, to go inside ours. */
function clause(text: string): string {
  return text.replace(/[.\s]+$/, '');
}

/** "12 s", "2 min 5 s" */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
}

/** "12 345": thin grouping, as the notice in the terminal shows byte counts. */
export function formatBytes(bytes: number): string {
  return String(bytes).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/** "14:03:12": the local time of day, as a banner says since when something holds. */
export function formatClock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

export function bannerFor(facts: BannerFacts): BannerContent | undefined {
  const where = `${facts.target} on ${facts.agentName}`;
  if (facts.lastError?.code === 'AGENT_STOPPED' && !isLive(facts.state)) {
    // The agent said so before it went: the shell is ended, not waiting anywhere.
    return {
      kind: 'error',
      title: `The agent ${facts.agentName} stopped; the shell was ended`,
      detail: `${clause(facts.lastError.message)}. The output above stays readable; open a new session once the agent is back.`,
      action: 'Open a new session',
    };
  }
  if (facts.state === 'reconnecting' && facts.reconnect) {
    const r = facts.reconnect;
    const attempt = Math.max(r.state?.attempt ?? 0, r.resumeAttempts, 1);
    // What the console knows: since when the agent is unreachable, and how long it would keep the
    // shell. Not whether the shell runs: the agent may have crashed, or restarted without it.
    const keeps =
      r.graceMs > 0
        ? `; the agent keeps the shell for up to ${formatDuration(r.since + r.graceMs - facts.now)} more if it is still running`
        : '';
    const left = ` ${facts.agentName} unreachable since ${formatClock(r.since)}${keeps}.`;
    const dropped = r.droppedInput > 0 ? ` (${formatBytes(r.droppedInput)} bytes of input dropped so far)` : '';
    const last = r.state?.lastError ?? r.reason;
    return {
      kind: 'info',
      title: `Connection lost — reconnecting (attempt ${attempt})… ${formatDuration(facts.now - r.since)}`,
      detail: `${clause(last)}.${left} Input is paused: keys typed now are dropped, not sent later${dropped}.`,
    };
  }
  if (facts.state === 'gone') {
    const code = facts.lastError?.code;
    return code === 'SESSION_FORBIDDEN'
      ? {
          kind: 'error',
          title: `The shell on ${facts.target} belongs to another console`,
          detail: `${clause(facts.lastError?.message ?? 'another console opened it')}. The output above stays readable.`,
          action: 'Open a new session',
        }
      : {
          kind: 'error',
          title: `The shell on ${facts.target} is gone: the agent restarted or the session expired`,
          detail: `${clause(facts.lastError?.message ?? 'the agent no longer holds this session')}. The output above stays readable.`,
          action: 'Open a new session',
        };
  }
  if (facts.connectionLost) {
    return {
      kind: 'error',
      title: `Connection to ${facts.agentName} lost`,
      detail: `${clause(facts.connectionLost)}. Check that the agent is running on its host and reachable, then Reconnect (this opens a new shell: the old one ended with the connection).`,
      action: 'Reconnect',
    };
  }
  // A container listed as restarting after the agent said it restarted is the same news, not a
  // stop: Docker lists it so between its runtime's end and its start (a restart policy's delay).
  const stopped =
    facts.targetState !== undefined &&
    facts.targetState !== 'running' &&
    !(facts.targetState === 'restarting' && facts.containerFate === 'restarted');
  // The device list's state of the container, when it says stopped, comes first (below): it is now.
  if (facts.state === 'exited' && facts.containerFate && !stopped) {
    const code = ` (exit code ${facts.exitCode ?? 'unknown'})`;
    return {
      kind: 'exit',
      title: `Container ${facts.target} ${containerFateText(facts.containerFate)}`,
      detail: `The shell ended with it${code}. ${CONTAINER_FATE_NEXT[facts.containerFate]}`,
      action: 'Open a new session',
    };
  }
  if (facts.state === 'exited' || (stopped && facts.state !== 'opening')) {
    const code = facts.exitCode === undefined ? '' : ` (exit code ${facts.exitCode ?? 'unknown'})`;
    return stopped
      ? {
          kind: 'exit',
          title: `Container ${facts.target} is ${facts.targetState}`,
          detail:
            facts.targetState === 'restarting'
              ? `The shell ended${code}. Docker starts the container again (its restart policy): open a new session once it runs.`
              : `The shell ended${code}. Start the container on the host, then open a new session.`,
          action: 'Open a new session',
        }
      : { kind: 'exit', title: `The shell exited${code}`, detail: `The output stays readable here.`, action: 'Open a new session' };
  }
  if ((facts.state === 'failed' || facts.state === 'closed') && facts.lastError?.code === 'SESSION_LIMIT') {
    // Reconnecting would be refused the same way: what helps is closing another of its sessions.
    return {
      kind: 'error',
      title: `${facts.target} has as many sessions as its agent allows`,
      detail: `${clause(facts.lastError.message)}. Close another session on ${facts.target}, then open a new one from the device list.`,
    };
  }
  if (facts.state === 'failed' || facts.state === 'closed') {
    const last = facts.lastError;
    const hint = last ? hintFor(last) : undefined;
    // The code goes to the detail, in brackets: the headline is words (a shell that ran for an hour
    // and then lost its Docker engine did not "fail to open").
    const title = facts.sessionOpened || !last ? `The session in ${where} ended` : `Could not open ${where}`;
    return {
      kind: 'error',
      title,
      detail: `${last?.message ?? 'the terminal channel closed'}${hint ? ` — ${hint}` : ''}${last ? ` (${last.code})` : ''}`,
      action: 'Reconnect',
    };
  }
  return undefined;
}
