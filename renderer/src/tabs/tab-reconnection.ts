import type { AgentConnection } from '../connection/agent-connection';
import type { Disposable } from '../base/emitter';
import { describeKeys } from '../session/input-ledger';
import { randomId } from '../base/random-id';
import { resumeBackoffMs, type ReconnectState } from '../connection/reconnect-policy';
import type { ResumeInfo } from '../session/session-resumes';
import { formatBytes, formatDuration, type BannerFacts } from './tab-banner';
import type { WebRtcTerminalSession } from '../session/webrtc-terminal-session';

/** Since when a tab's connection is lost, why, and where the agent's reconnection stands. */
export interface TabLoss {
  since: number;
  reason: string;
  state: ReconnectState | undefined;
}

/**
 * A tab's reconnection after its channel was lost: the resume attempts with backoff, the input
 * dropped meanwhile, and the notices the terminal shows when the loss starts and when it ends. The
 * tab decides when it is reconnecting; this part keeps the count and the clock.
 */
export class TabReconnection implements Disposable {
  /** while reconnecting: since when, why, and the agent's reconnection */
  lost: TabLoss | undefined;
  /** resume attempts on the current loss (channel opened with `open {resume}`) */
  resumeAttempts = 0;
  /** keystroke bytes dropped while reconnecting, over the tab's life */
  droppedInput = 0;
  /** keystrokes sent just before a drop that never reached the shell, as text, one entry per resume */
  readonly undeliveredInput: string[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastResumeAt = 0;

  /** `notice` writes one of the console's own lines into the tab's terminal. */
  constructor(private readonly notice: (line: string) => void) {}

  /** The session detached and the tab starts reconnecting: a new loss, counted from now. */
  begin(reason: string): void {
    this.resumeAttempts = 0;
    this.lastResumeAt = 0;
    this.lost = { since: Date.now(), reason, state: undefined };
    this.notice(`[tether: connection lost (${reason}); reconnecting — input is paused]`);
  }

  /**
   * Resumes `session` on `connection` once the backoff allows (at once on the first attempt).
   * `stillFollowed` says, when the timer fires, whether the tab still has that session and follows
   * that connection; `onAttempt` runs after each resume sent.
   */
  schedule(session: WebRtcTerminalSession, connection: AgentConnection, stillFollowed: () => boolean, onAttempt: () => void): void {
    if (this.timer !== undefined) return;
    if (connection.stage.kind !== 'ready' || !session.detached || session.resuming) return;
    const wait = Math.max(0, this.lastResumeAt + resumeBackoffMs(this.resumeAttempts) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!stillFollowed() || connection.stage.kind !== 'ready') return;
      this.resumeAttempts += 1;
      this.lastResumeAt = Date.now();
      session.resume(() => connection.openTerminalChannel(randomId(12)));
      onAttempt();
    }, this.resumeAttempts === 0 ? 0 : wait);
  }

  /** While reconnecting: where the agent's reconnection stands, for the banner; false when not reconnecting. */
  setAgentState(state: ReconnectState | undefined): boolean {
    if (!this.lost) return false;
    this.lost.state = state;
    return true;
  }

  /** Stops a resume attempt that is waiting for its backoff. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The shell was taken back: tells the user after how long, and what was lost on the way. */
  resumed(info: ResumeInfo): void {
    const after = this.lost ? formatDuration(Date.now() - this.lost.since) : '';
    this.lost = undefined;
    this.resumeAttempts = 0;
    if (info.lost > 0) this.notice(`[tether: ${formatBytes(info.lost)} bytes of output were lost while disconnected]`);
    this.notice(`[tether: reconnected after ${after}; the same shell goes on]`);
    const undelivered = info.undelivered;
    if (undelivered) {
      this.undeliveredInput.push(new TextDecoder().decode(undelivered.tail));
      const what = undelivered.bytes === 1 ? '1 byte' : `${formatBytes(undelivered.bytes)} bytes`;
      const was = undelivered.bytes === 1 ? 'was' : 'were';
      this.notice(`[tether: ${what} typed just before the drop never reached the shell and ${was} not sent again: ${describeKeys(undelivered.tail)}]`);
    }
  }

  /** What the reconnecting banner shows; undefined when not reconnecting. */
  bannerFacts(graceMs: number): BannerFacts['reconnect'] {
    return this.lost ? { ...this.lost, graceMs, resumeAttempts: this.resumeAttempts, droppedInput: this.droppedInput } : undefined;
  }

  dispose(): void {
    this.cancel();
  }
}
