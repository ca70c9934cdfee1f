/**
 * The idle timeout and the maximum duration of one terminal session. Idle means no input from the
 * console (keys or resize) for the configured time. `onLimit` is called once, with the code the
 * console is told.
 */
import type { ErrorCode } from '@tether/protocol';

export class SessionLimits {
  private idleTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly maxSessionMs: number,
    private readonly onLimit: (code: Extract<ErrorCode, 'IDLE_TIMEOUT' | 'SESSION_EXPIRED'>, message: string) => void,
  ) {}

  /** Starts both clocks; called once the session is open. */
  start(): void {
    this.running = true;
    const max = this.maxSessionMs;
    if (max > 0)
      this.maxTimer = setTimeout(() => this.reached('SESSION_EXPIRED', `The session reached the agent's maximum of ${max / 1000} s.`), max);
    this.touch();
  }

  /** The console did something: the idle clock starts again. */
  touch(): void {
    const idle = this.idleTimeoutMs;
    if (idle <= 0 || !this.running) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.reached('IDLE_TIMEOUT', `No input for ${idle / 1000} s: the agent ended the session.`), idle);
  }

  private reached(code: 'IDLE_TIMEOUT' | 'SESSION_EXPIRED', message: string): void {
    this.dispose();
    this.onLimit(code, message);
  }

  dispose(): void {
    this.running = false;
    clearTimeout(this.idleTimer);
    clearTimeout(this.maxTimer);
  }
}
