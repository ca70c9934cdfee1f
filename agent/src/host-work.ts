/**
 * The host's own work beside a runtime's cores (docs/operations.md, "The host's own work, off the
 * runtime's cores"). A session kept to some CPUs (`tether.session-cpus`) still has the kernel work
 * for its I/O done by the host's unbound workqueues (writeback, most `kworker/u…`), which run on
 * the CPUs of /sys/devices/virtual/workqueue/cpumask: on a host not set up for a real-time
 * runtime, every CPU, the runtime's included. Measured (bench/control-loop.ts): a `dd` loop in a
 * session kept to CPU 1 moved a control loop's wake-up p99 on CPU 0 from 0.11 to 0.76 ms, and
 * 0.15 ms once that cpumask was CPU 1 only. The agent does not change the host's configuration;
 * it says so once, in its log, when a session is kept to some CPUs and the workqueues may run on
 * others.
 */
import { readFile } from 'node:fs/promises';
import { describeError } from './deadline.js';
import { createLogger } from './log.js';
import { cpuSet } from './session-standing.js';

const log = createLogger(import.meta.url);

/** Where the kernel says on which CPUs its unbound workqueues may run. */
export const WORKQUEUE_CPUMASK = '/sys/devices/virtual/workqueue/cpumask';

/** The CPUs of a kernel CPU mask (`3`, `ff`, `00000000,00000003`: hexadecimal, 32-bit groups); undefined when malformed. */
export function maskCpus(mask: string): number[] | undefined {
  const hex = mask.trim().replace(/,/g, '');
  if (!/^[0-9a-fA-F]{1,1024}$/.test(hex)) return undefined;
  const cpus: number[] = [];
  for (let digit = 0; digit < hex.length; digit++) {
    const value = parseInt(hex[hex.length - 1 - digit]!, 16);
    for (let bit = 0; bit < 4; bit++) if (value & (1 << bit)) cpus.push(digit * 4 + bit);
  }
  return cpus;
}

/**
 * The CPUs outside `sessionCpus` (a CPU list) on which the unbound workqueues of mask
 * `workqueueMask` may run: where the kernel's work for a session's I/O may land beside the
 * runtime. Empty when there are none, or when either cannot be read.
 */
export function workqueueCpusBeside(sessionCpus: string, workqueueMask: string): number[] {
  const session = cpuSet(sessionCpus);
  return session ? (maskCpus(workqueueMask) ?? []).filter((cpu) => !session.includes(cpu)) : [];
}

const warned = new Set<string>();

/**
 * Says once per CPU list, in the log, when the host's unbound workqueues may run outside the CPUs
 * sessions are kept to. Nothing when the mask cannot be read (no sysfs, another kernel).
 */
export async function noteHostWorkBeside(sessionCpus: string, cpumaskPath = WORKQUEUE_CPUMASK): Promise<number[]> {
  if (warned.has(sessionCpus)) return [];
  warned.add(sessionCpus);
  let mask: string;
  try {
    mask = await readFile(cpumaskPath, 'utf8');
  } catch (cause) {
    log.debug('workqueue cpumask unreadable', { path: cpumaskPath, error: describeError(cause) });
    return [];
  }
  const beside = workqueueCpusBeside(sessionCpus, mask);
  if (beside.length > 0) {
    log.warn("the host's unbound workqueues may run on CPUs sessions are kept off", {
      sessionCpus,
      workqueueMask: mask.trim(),
      besideSessions: beside.join(','),
      why: "the kernel's writeback for a session's I/O may run beside the runtime on those CPUs",
      see: `docs/operations.md, "The host's own work, off the runtime's cores" (${cpumaskPath})`,
    });
  }
  return beside;
}
