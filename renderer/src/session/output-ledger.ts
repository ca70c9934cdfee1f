/**
 * A session's output accounting across resumes (protocol/README.md, "Resume"): the byte offset the
 * console has taken (`received`, what it sends in `resume`), and which acknowledgements still
 * belong to the current channel.
 *
 * After a resume the agent counts everything up to `received` as acknowledged. Bytes taken before
 * the resume but parsed by xterm after it would otherwise be acknowledged a second time, so acks
 * are counted in taken bytes and only the part above the resume's floor is sent.
 */
export class OutputLedger {
  /** output bytes handed to the terminal, over the whole session */
  private taken = 0;
  /** bytes the agent dropped from its buffer before a resume could fetch them */
  private lostTotal = 0;
  /** bytes to drop from the next output: the agent resent some that were already taken */
  private skip = 0;
  /** output bytes reported parsed (through `ack`) */
  private parsed = 0;
  /** parsed bytes at or below this were covered by the agent's reset on the last resume */
  private ackFloor = 0;

  /** The offset of the next output byte in the agent's count: `resume.received`. */
  get received(): number {
    return this.taken + this.lostTotal;
  }

  get lost(): number {
    return this.lostTotal;
  }

  /** Output arrived; returns the part to show (all of it unless the agent resent bytes). */
  take(bytes: Uint8Array): Uint8Array {
    if (this.skip > 0) {
      const dropped = Math.min(this.skip, bytes.byteLength);
      this.skip -= dropped;
      bytes = bytes.subarray(dropped);
    }
    this.taken += bytes.byteLength;
    return bytes;
  }

  /** `opened.resumed`: output continues at `from`; what lies between `received` and it is gone. */
  resumedAt(from: number): { lost: number } {
    const received = this.received;
    const lost = Math.max(0, from - received);
    this.lostTotal += lost;
    this.skip = Math.max(0, received - from);
    this.ackFloor = this.taken;
    return { lost };
  }

  /** The terminal parsed `bytes` more; returns how many of them to acknowledge on the current channel. */
  parsedBytes(bytes: number): number {
    const before = this.parsed;
    this.parsed += bytes;
    return Math.max(0, this.parsed - Math.max(before, this.ackFloor));
  }
}
