/**
 * The allocator settings the shipped systemd unit gives the agent (`Environment=MALLOC_…` lines
 * of agent/systemd/tether-agent.service), so that the soak measures the agent's memory as it runs
 * in production rather than with glibc's defaults.
 */
import { readFileSync } from 'node:fs';

const unitPath = new URL('../../agent/systemd/tether-agent.service', import.meta.url);

/** `Environment=KEY=VALUE` lines of the unit whose key starts with `MALLOC_`. */
export function unitAllocatorEnv(text = readFileSync(unitPath, 'utf8')): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^Environment=(MALLOC_\w+)=(\S+)\s*$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}
