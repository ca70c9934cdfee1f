/** CPU time of the processes the bench measures (agent, Chromium's renderer, Docker), from /proc. */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used; 0 once it is gone. Clock ticks of 1/100 s. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(entry), ppid, comm, cmdline });
    } catch {
      continue; // gone meanwhile
    }
  }
  return out;
}

/** Chromium renderer processes started by this process (Playwright's Chromium is its child). */
export function ownRendererPids(): number[] {
  const all = processes();
  const parent = new Map(all.map((p) => [p.pid, p.ppid]));
  const descends = (pid: number) => {
    for (let p: number | undefined = pid, hops = 0; p && hops < 20; p = parent.get(p), hops++) if (p === process.pid) return true;
    return false;
  };
  return all.filter((p) => p.cmdline.includes('--type=renderer') && descends(p.pid)).map((p) => p.pid);
}

/**
 * Docker's share of a container's I/O: the engine (dockerd, shared with whatever else uses it),
 * containerd, and the container's runc shim.
 */
export function dockerPids(containerId: string): number[] {
  return processes()
    .filter(
      (p) => p.comm === 'dockerd' || p.comm === 'containerd' || (p.comm.startsWith('containerd-shim') && p.cmdline.includes(containerId)),
    )
    .map((p) => p.pid);
}

/** CPU seconds used by `pids` (looked up again each time by `find`) while `body` runs. */
export async function cpuDuring<T>(find: () => number[], body: () => Promise<T>): Promise<{ value: T; cpuS: number }> {
  const pids = find();
  const before = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
  const value = await body();
  let cpuS = 0;
  for (const pid of new Set([...pids, ...find()])) cpuS += cpuSeconds(pid) - (before.get(pid) ?? 0);
  return { value, cpuS };
}
