/** A terminal's size as the user last set it, and as the agent last heard it (`open` or `resize`). */
export class PtySize {
  cols = 80;
  rows = 24;
  private sent = { cols: 0, rows: 0 };

  set(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
  }

  /** Whether the agent's PTY has another size than the one set last: a `resize` is due once open. */
  get unsent(): boolean {
    return this.cols !== this.sent.cols || this.rows !== this.sent.rows;
  }

  /** The size set last, now on its way to the agent. */
  markSent(): { cols: number; rows: number } {
    this.sent = { cols: this.cols, rows: this.rows };
    return this.sent;
  }
}
