/**
 * A session's input accounting across resumes (protocol/README.md, "Resume"). Input is never sent
 * twice, so keys sent into a channel whose path then died may never reach the shell. On a resume
 * the agent says how many input bytes reached it (`opened.resumed.inputReceived`); the difference
 * from what the console sent is what was lost, and the tab tells the user exactly that, with the
 * keys themselves, so that nobody wonders at 2 a.m. whether their Enter landed.
 */

/** How many of the last bytes sent are kept, to show what did not arrive. */
export const INPUT_TAIL_BYTES = 1024;

/** Input sent but never received by the agent: how many bytes, and the last of them. */
export interface UndeliveredInput {
  bytes: number;
  /** the last `min(bytes, INPUT_TAIL_BYTES)` bytes that did not arrive */
  tail: Uint8Array;
}

export class InputLedger {
  /** input bytes handed to a channel since the last reconciliation, counted from the session start */
  private sentTotal = 0;
  private tail = new Uint8Array(0);

  /** `bytes` went into the channel. */
  record(bytes: Uint8Array): void {
    this.sentTotal += bytes.byteLength;
    if (bytes.byteLength >= INPUT_TAIL_BYTES) {
      this.tail = bytes.slice(bytes.byteLength - INPUT_TAIL_BYTES);
      return;
    }
    const keep = Math.min(this.tail.byteLength, INPUT_TAIL_BYTES - bytes.byteLength);
    const next = new Uint8Array(keep + bytes.byteLength);
    next.set(this.tail.subarray(this.tail.byteLength - keep));
    next.set(bytes, keep);
    this.tail = next;
  }

  /**
   * The agent holds `received` input bytes of this session. Returns what was sent and never
   * arrived (undefined when nothing), and takes the agent's count as the new starting point.
   */
  reconcile(received: number): UndeliveredInput | undefined {
    const missing = this.sentTotal - received;
    this.sentTotal = received;
    const tail = this.tail;
    this.tail = new Uint8Array(0);
    if (missing <= 0) return undefined;
    return { bytes: missing, tail: tail.slice(Math.max(0, tail.byteLength - missing)) };
  }
}

const NAMED: Record<number, string> = { 0x0d: '⏎', 0x0a: '↵', 0x09: '⇥', 0x7f: '⌫', 0x1b: '^[' };

/**
 * Keys as a person would name them, for the terminal notice: printable text as is, Enter as ⏎,
 * control keys as ^C, at most `maxChars` characters (the start cut with …).
 */
export function describeKeys(bytes: Uint8Array, maxChars = 60): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    out += NAMED[code] ?? (code < 0x20 ? `^${String.fromCharCode(code + 0x40)}` : char);
  }
  const chars = [...out];
  return chars.length > maxChars ? `…${chars.slice(chars.length - maxChars + 1).join('')}` : out;
}
