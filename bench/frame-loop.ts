/**
 * The send loop of bench/werift-sender.ts and bench/native-sender.ts, so that werift and the native
 * peer do the same work: 64 KiB frames (or MAX_FRAME_BYTES if smaller) as the agent's output
 * sender writes them, paused while the channel holds more than CHANNEL_BUFFER_HIGH_BYTES and resumed
 * when it falls to the low mark (which the caller sets on its channel).
 */
import { CHANNEL_BUFFER_HIGH_BYTES, MAX_FRAME_BYTES } from '@tether/protocol';

/** A data channel, whatever its stack's API. */
export interface FrameSink {
  bufferedAmount(): number;
  /** resolves once the channel's buffer has fallen to its low mark */
  lowered(): Promise<void>;
  send(frame: Buffer): void;
  close(): void;
}

const frame = Buffer.alloc(Math.min(MAX_FRAME_BYTES, 64 * 1024), 0x61);

/** `bytes` into `sink`, closed right after the last send if `close` (as a session that ends). */
export async function sendFrames(sink: FrameSink, bytes: number, close: boolean): Promise<{ ms: number; cpuMs: number }> {
  let sent = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (sent < bytes) {
    if (sink.bufferedAmount() > CHANNEL_BUFFER_HIGH_BYTES) {
      await sink.lowered();
      continue;
    }
    const n = Math.min(frame.length, bytes - sent);
    sink.send(n === frame.length ? frame : frame.subarray(0, n));
    sent += n;
  }
  // close() must still deliver what was queued before it.
  if (close) sink.close();
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}
