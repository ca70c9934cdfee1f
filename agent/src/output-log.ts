/** The first block of a session's log; each next block is twice the last, up to BLOCK_BYTES. */
const FIRST_BLOCK_BYTES = 4 * 1024;
/** The largest block: the log takes at most twice this beyond its capacity. */
const BLOCK_BYTES = 64 * 1024;

/**
 * The last `capacity` bytes of one session's output, numbered from the start of the session
 * (protocol/README.md, "Resume"). Output goes in as the exec stream produces it, whether or not a
 * console is attached; a sender reads it back from any offset still held. Older bytes drop out.
 *
 * The bytes are copied into blocks (4 KiB, then twice as large each time up to 64 KiB) rather than
 * kept as the chunks the exec stream delivered: those are often a hundred bytes or less (a PTY
 * read), and a megabyte of them was some 11,000 Buffer and ArrayBuffer objects per session, about
 * 2 MB of V8 heap beside the bytes themselves (agent/README.md, "Memory"). A block is never
 * written twice, so what `read` returns stays valid after later appends.
 */
export class OutputLog {
  /** Every block is full but the last, which holds `tailFill` bytes. */
  private blocks: Buffer[] = [];
  private tailFill = 0;
  /** Offset of the first byte of `blocks[0]`. */
  private blocksStart = 0;
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

  /** How many buffers hold the bytes. */
  get pieces(): number {
    return this.blocks.length;
  }

  /** Bytes of memory the blocks take: at most the capacity and two blocks more (the first and the last partly used). */
  get allocated(): number {
    let bytes = 0;
    for (const block of this.blocks) bytes += block.length;
    return bytes;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // A chunk larger than the capacity: only its end is kept, and nothing before it.
    const skipped = Math.max(0, chunk.length - this.capacity);
    if (skipped > 0) {
      this.blocks = [];
      this.tailFill = 0;
      this.blocksStart = this.last + skipped;
    }
    for (let at = skipped; at < chunk.length; ) {
      let tail = this.blocks.at(-1);
      if (!tail || this.tailFill === tail.length) {
        const size = Math.min(BLOCK_BYTES, Math.max(FIRST_BLOCK_BYTES, (tail?.length ?? 0) * 2));
        tail = Buffer.allocUnsafeSlow(size);
        this.blocks.push(tail);
        this.tailFill = 0;
      }
      const copied = chunk.copy(tail, this.tailFill, at);
      this.tailFill += copied;
      at += copied;
    }
    this.last += chunk.length;
    this.first = Math.max(this.first, this.last - this.capacity);
    while (this.blocks.length > 1 && this.blocksStart + this.blocks[0]!.length <= this.first) {
      this.blocksStart += this.blocks.shift()!.length;
    }
  }

  /** Up to `max` bytes from `offset`; empty at the end. `offset` must lie in [start, end]. */
  read(offset: number, max: number): Buffer {
    if (offset < this.first || offset > this.last) throw new RangeError(`offset ${offset} outside [${this.first}, ${this.last}]`);
    let wanted = Math.min(max, this.last - offset);
    if (wanted <= 0) return Buffer.alloc(0);
    // Walk back from the newest block: a live sender reads near the end.
    let index = this.blocks.length - 1;
    let at = this.last - this.tailFill;
    while (at > offset) at -= this.blocks[--index]!.length;
    const parts: Buffer[] = [];
    for (; wanted > 0; index++) {
      const block = this.blocks[index]!;
      const filled = index === this.blocks.length - 1 ? this.tailFill : block.length;
      const part = block.subarray(offset - at, Math.min(filled, offset - at + wanted));
      parts.push(part);
      wanted -= part.length;
      offset += part.length;
      at += block.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Where a console that has seen `received` bytes goes on from, and how many bytes it lost. */
  resumePoint(received: number): { from: number; lost: number } {
    const from = Math.max(received, this.first);
    return { from, lost: from - received };
  }
}
