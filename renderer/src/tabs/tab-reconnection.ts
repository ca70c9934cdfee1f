import { Emitter, type Disposable } from '../base/emitter';
import { resumeBackoffMs, type ReconnectState } from '../connection/reconnect-policy';
import { describeKeys } from '../session/input-ledger';
import type { ResumeInfo, TerminalSession } from '../session/terminal-session';
import type { FollowableConnection } from './followed-connection';
import { formatBytes, formatDuration, type BannerFacts } from './tab-banner';

/**
 * A tab's reconnection after its channel was lost: since when and why, the resume attempts with
 * backoff, the input dropped meanwhile, and the notices the terminal shows when a loss starts and
 * when it ends. It keeps its own state; the tab tells it what happened and listens to `onNotice`
 * and `onAttempt`.
 */
export class TabReconnection implements Disposable {
  /** while reconnecting: since when, why, and where the agent's reconnection stands */
  private loss: { since: number; reason: string; state: ReconnectState | undefined } | undefined;
  private attempts = 0;
  private dropped = 0;
  /** `dropped` when the current loss began: what this loss dropped is the difference */
  private droppedBefore = 0;
  private readonly undelivered: string[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastResumeAt = 0;
  private readonly noticeEmitter = new Emitter<string>();
  private readonly attemptEmitter = new Emitter<void>();
  /** One of the console's own lines for the tab's terminal. */
  readonly onNotice = this.noticeEmitter.event;
  /** A resume was sent (the attempt count changed). */
  readonly onAttempt = this.attemptEmitter.event;

  /** since when the current loss lasts; undefined when none is under way */
  get since(): number | undefined {
    return this.loss?.since;
  }

  /** Whether a loss is under way: from `begin` to `resumed` or `end`. */
  get reconnecting(): boolean {
    return this.loss !== undefined;
  }

  /** the agent's reconnection attempt, while reconnecting and while the agent's connection is being made again */
  get agentAttempt(): number | undefined {
    return this.loss?.state?.attempt;
  }

  /** resume attempts on the current loss (channel opened with `open {resume}`) */
  get resumeAttempts(): number {
    return this.attempts;
  }

  /** keystroke bytes dropped while reconnecting, over the tab's life */
  get droppedInput(): number {
    return this.dropped;
  }

  /** keystrokes sent just before a drop that never reached the shell, as text, one entry per resume */
  get undeliveredInput(): readonly string[] {
    return this.undelivered;
  }

  /**
   * The session detached: a new loss, counted from now (or `since`). Nothing when a loss is already
   * under way. `restart`: the console itself restarted and reopens the tab.
   */
  begin(reason: string, options: { since?: number; restart?: boolean } = {}): void {
    if (this.loss) return;
    this.attempts = 0;
    this.lastResumeAt = 0;
    this.loss = { since: options.since ?? Date.now(), reason, state: undefined };
    this.droppedBefore = this.dropped;
    this.noticeEmitter.fire(
      options.restart
        ? '[tether: the console restarted; taking the shell back — input is paused]'
        : `[tether: connection lost (${reason}); reconnecting — input is paused]`,
    );
  }

  /**
   * Resumes `session` on `route`, the connection the tab follows, once the backoff allows (at once on the first attempt). The tab
   * cancels (`cancel`, `end`) whenever it lets go of that session or that connection.
   */
  schedule(session: TerminalSession, route: FollowableConnection): void {
    if (this.timer !== undefined || !this.loss) return;
    if (route.stage.kind !== 'ready' || !session.detached || session.resuming) return;
    const wait = Math.max(0, this.lastResumeAt + resumeBackoffMs(this.attempts) - Date.now());
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (!this.loss || route.stage.kind !== 'ready') return;
        this.attempts += 1;
        this.lastResumeAt = Date.now();
        session.resume(route);
        this.attemptEmitter.fire();
      },
      this.attempts === 0 ? 0 : wait,
    );
  }

  /** Where the agent's reconnection stands, for the banner; false when not reconnecting. */
  setAgentState(state: ReconnectState | undefined): boolean {
    if (!this.loss) return false;
    this.loss.state = state;
    return true;
  }

  /** Keys typed while reconnecting were dropped. */
  inputDropped(bytes: number): void {
    this.dropped += bytes;
  }

  /** Stops a resume attempt that is waiting for its backoff. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The loss ends without a resume (the shell is gone, the tab gave up or starts anew). */
  end(): void {
    this.cancel();
    this.loss = undefined;
  }

  /** The shell was taken back: tells the user after how long, and what was lost on the way. */
  resumed(info: ResumeInfo): void {
    const after = this.loss ? formatDuration(Date.now() - this.loss.since) : '';
    const droppedNow = this.loss ? this.dropped - this.droppedBefore : 0;
    this.end();
    this.attempts = 0;
    if (info.restored) {
      // The agent replayed what it holds: the output before the restart and what came while the console was closed.
      const older = info.lost > 0 ? `; older output (${formatBytes(info.lost)} bytes) is no longer held by the agent` : '';
      this.noticeEmitter.fire(
        `[tether: the console restarted ${after} ago; the same shell goes on — above, its output as the agent kept it${older}]`,
      );
      return;
    }
    if (info.lost > 0) this.noticeEmitter.fire(`[tether: ${formatBytes(info.lost)} bytes of output were lost while disconnected]`);
    this.noticeEmitter.fire(`[tether: reconnected after ${after}; the same shell goes on]`);
    // The banner said it while it lasted; once it is gone, this line is what remains of it.
    if (droppedNow > 0)
      this.noticeEmitter.fire(
        `[tether: ${droppedNow === 1 ? '1 byte' : `${formatBytes(droppedNow)} bytes`} typed while reconnecting ${droppedNow === 1 ? 'was' : 'were'} not sent: type it again]`,
      );
    const undelivered = info.undelivered;
    if (undelivered) {
      this.undelivered.push(new TextDecoder().decode(undelivered.tail));
      const what = undelivered.bytes === 1 ? '1 byte' : `${formatBytes(undelivered.bytes)} bytes`;
      const was = undelivered.bytes === 1 ? 'was' : 'were';
      this.noticeEmitter.fire(
        `[tether: ${what} typed just before the drop never reached the shell and ${was} not sent again: ${describeKeys(undelivered.tail)}]`,
      );
    }
  }

  /** What the reconnecting banner shows; undefined when not reconnecting. */
  bannerFacts(graceMs: number): BannerFacts['reconnect'] {
    return this.loss ? { ...this.loss, graceMs, resumeAttempts: this.attempts, droppedInput: this.dropped } : undefined;
  }

  dispose(): void {
    this.cancel();
    this.noticeEmitter.dispose();
    this.attemptEmitter.dispose();
  }
}
