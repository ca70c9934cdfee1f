/**
 * The built agent's idle RSS under different node flags and environments, side by side: each
 * configuration started in turn (LAN endpoint, no console), RSS read from /proc 3 s after
 * `agent ready`, `rounds` times interleaved; the median of each.
 *
 *   node --conditions=source --import tsx bench/agent-idle-rss.ts [rounds] 'label|node flags|ENV=value ...|executable' ...
 *   (executable: another build's launcher, e.g. a script that runs node on an older dist/cli.js)
 *   e.g. bench/agent-idle-rss.ts 3 'unit|--max-semi-space-size=1|' 'arena2|--max-semi-space-size=1|MALLOC_ARENA_MAX=2'
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../harness/agent-process.js';
import { percentile, round } from './stats.js';

const rounds = Number(process.argv[2] ?? 3);
const configs = process.argv.slice(3).map((spec) => {
  const [label, flags = '', env = '', executable = ''] = spec.split('|');
  return {
    label: label!,
    executable: executable || undefined,
    nodeArgs: flags.split(' ').filter(Boolean),
    env: Object.fromEntries(
      env
        .split(' ')
        .filter(Boolean)
        .map((kv) => kv.split('=', 2) as [string, string]),
    ),
  };
});
const status = (pid: number, key: string) =>
  Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
const rss: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const c of configs) {
    const stateDir = mkdtempSync(join(tmpdir(), 'tether-idle-rss-'));
    const agent = await startAgent({
      lanListen: '127.0.0.1:0',
      agentId: `idle-${c.label}`,
      name: 'idle rss',
      stateDir,
      nodeArgs: c.nodeArgs,
      env: c.env,
      ...(c.executable ? { executable: c.executable } : {}),
      extraArgs: ['--log-level', 'info'],
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    (rss[c.label] ??= []).push(status(agent.pid, 'VmRSS'));
    process.kill(agent.pid, 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    rmSync(stateDir, { recursive: true, force: true });
  }
}
for (const c of configs)
  console.log(
    `${c.label.padEnd(16)} ${round(percentile(rss[c.label]!, 50), 1)} MB  (${rss[c.label]!.map((v) => round(v, 1)).join(', ')})  ${c.nodeArgs.join(' ')} ${JSON.stringify(c.env)}`,
  );
