/**
 * The last `capacity` bytes of one session's output, numbered from the start of the session
 * (protocol/README.md, "Resume"). Output goes in as the exec stream produces it, whether or not a
 * console is attached; a sender reads it back from any offset still held. Older bytes drop out.
 */
export class OutputLog {
  private chunks: Buffer[] = [];
  /** Offset of the first byte still held. */
  private first = 0;
  /** Offset one past the last byte written: the session's output so far. */
  private last = 0;

  constructor(private readonly capacity: number) {}

  get start(): number {
    return this.first;
  }

  get end(): number {
    return this.last;
  }

  /** Bytes held now, never more than the capacity. */
  get size(): number {
    return this.last - this.first;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.last += chunk.length;
    let excess = this.size - this.capacity;
    while (excess > 0) {
      const head = this.chunks[0]!;
      if (head.length <= excess) {
        this.chunks.shift();
        this.first += head.length;
        excess -= head.length;
      } else {
        // Copy, so that the rest of a large chunk does not pin the whole of it.
        this.chunks[0] = Buffer.from(head.subarray(excess));
        this.first += excess;
        excess = 0;
      }
    }
  }

  /** Up to `max` bytes from `offset`; empty at the end. `offset` must lie in [start, end]. */
  read(offset: number, max: number): Buffer {
    if (offset < this.first || offset > this.last) throw new RangeError(`offset ${offset} outside [${this.first}, ${this.last}]`);
    const parts: Buffer[] = [];
    let wanted = Math.min(max, this.last - offset);
    if (wanted <= 0) return Buffer.alloc(0);
    // Walk back from the newest chunk: a live sender reads near the end.
    let index = this.chunks.length - 1;
    let at = this.last - this.chunks[index]!.length;
    while (at > offset) at -= this.chunks[--index]!.length;
    for (; wanted > 0 && index < this.chunks.length; index++) {
      const chunk = this.chunks[index]!;
      const part = chunk.subarray(offset - at, offset - at + wanted);
      parts.push(part);
      wanted -= part.length;
      at += chunk.length;
      offset += part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Where a console that has seen `received` bytes goes on from, and how many bytes it lost. */
  resumePoint(received: number): { from: number; lost: number } {
    const from = Math.max(received, this.first);
    return { from, lost: from - received };
  }
}
