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

/**
 * The node flags the unit gives the agent (`Environment=NODE_OPTIONS=…`, or the same line quoted
 * for systemd: `Environment="NODE_OPTIONS=--a --b"`), so that the bench and the soak run the agent
 * with the V8 settings it ships with.
 */
export function unitNodeArgs(text = readFileSync(unitPath, 'utf8')): string[] {
  for (const line of text.split('\n')) {
    const m = /^Environment=(?:"NODE_OPTIONS=([^"]*)"|NODE_OPTIONS=(.*))$/.exec(line.trim());
    if (m) return (m[1] ?? m[2] ?? '').split(/\s+/).filter(Boolean);
  }
  return [];
}
