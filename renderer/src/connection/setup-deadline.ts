import type { Disposable } from '../base/emitter';

/**
 * A setup that advances a stage (answer, ICE, DTLS and hello) gets another stage timeout, up to
 * this many in all: on a lossy, slow link (30 % loss, 600 ms round trip) DTLS retransmissions
 * alone can take 10 s, and killing a setup that progresses only starts the next from scratch.
 * A dead path makes no progress and still fails after one.
 */
export const MAX_SETUP_STAGE_TIMEOUTS = 3;

/**
 * How long a connection's setup may wait: each stage gets `stageTimeoutMs` from when it began, the
 * whole setup at most MAX_SETUP_STAGE_TIMEOUTS of them. `expired` gets the sentence to show.
 */
export class SetupDeadline implements Disposable {
  private startedAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly stageTimeoutMs: number,
    private readonly expired: (reason: string) => void,
  ) {}

  /** The setup begins now. */
  start(): void {
    this.startedAt = Date.now();
  }

  /**
   * A stage begins; `waitingFor` says what it waits for ("a network path (ICE)"), and `detail` is
   * read when the time is up (the ICE server's last error).
   */
  stage(waitingFor: string, detail: () => string | undefined): void {
    clearTimeout(this.timer);
    const left = this.startedAt + this.stageTimeoutMs * MAX_SETUP_STAGE_TIMEOUTS - Date.now();
    const wait = Math.max(0, Math.min(this.stageTimeoutMs, left));
    this.timer = setTimeout(() => {
      const more = detail();
      const seconds = Math.round((Date.now() - this.startedAt) / 1000);
      this.expired(
        `no connection to the agent within ${seconds} s: waited ${Math.round(wait / 1000)} s for ${waitingFor}${more ? `; ${more}` : ''}`,
      );
    }, wait);
  }

  /** No stage is waited for: the setup is done, or failed. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.clear();
  }
}
