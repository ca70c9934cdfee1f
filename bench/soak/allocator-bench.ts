/**
 * Does a memory setting cost the agent throughput? The built agent, once as it is and once with
 * the given environment (the systemd unit's `MALLOC_…` settings unless told), alternately: each
 * streams a file of base64 from a container to a werift console a few times. Reports wall-clock
 * MB/s and, steadier on a shared machine, the agent's CPU time per MB (/proc/<pid>/stat), and RSS.
 *   node --conditions=source --import tsx bench/soak/allocator-bench.ts [rounds] [MiB] [KEY=VALUE,…]
 * e.g. `3 16 MALLOC_TRIM_THRESHOLD_=131072` or `3 16 NODE_OPTIONS=--max-semi-space-size=4`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { patchedWerift } from '../../harness/patched-werift.js';
import { startAgent } from '../../harness/agent-process.js';
import { startContainer } from '../../harness/docker.js';
import { percentile, round } from '../stats.js';
import { enrollConsole, SoakPeer } from './soak-console.js';
import { unitAllocatorEnv } from './unit-env.js';

const rounds = Number(process.argv[2] ?? 3);
const mib = Number(process.argv[3] ?? 16);
const transfers = 3;
const cli = fileURLToPath(new URL('../../agent/dist/cli.js', import.meta.url));

/** user + system CPU time of a process in ms (fields 14 and 15 of /proc/<pid>/stat, in ticks of 10 ms) */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Sample {
  mbps: number;
  cpuMsPerMB: number;
  rssMB: number;
}

async function measure(env: Record<string, string>, container: string): Promise<Sample[]> {
  const runId = randomBytes(3).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), `tether-alloc-${runId}-`));
  const agent = await startAgent({
    lanListen: '127.0.0.1:0',
    agentId: `alloc-${runId}`,
    name: 'allocator bench',
    stateDir,
    env,
    extraArgs: ['--label', `tether.allocbench=${label}`, '--max-sessions-per-container', '0', '--log-level', 'info'],
  });
  try {
    const w = await patchedWerift();
    const enrolled = await enrollConsole(cli, stateDir, `http://127.0.0.1:${agent.lanPort}`);
    // Under load a first connection can fail its ICE checks; as in the soak, try again.
    const peer = await SoakPeer.connect(w, enrolled.console, enrolled.agent).catch(() =>
      SoakPeer.connect(w, enrolled.console, enrolled.agent),
    );
    const term = await peer.terminal(container);
    await term.prompt();
    await term.run(
      `test -s /tmp/alloc.txt || head -c ${mib * 786432} /dev/urandom | base64 > /tmp/alloc.txt; echo made-$((2+2))`,
      'made-4',
      120_000,
    );
    const samples: Sample[] = [];
    for (let i = 0; i < transfers; i++) {
      const [t0, c0, r0] = [performance.now(), cpuMs(agent.pid), term.received];
      await term.run(`cat /tmp/alloc.txt; echo END-$((${i}+1))`, `END-${i + 1}`, 300_000);
      const mb = (term.received - r0) / 1e6;
      samples.push({
        mbps: mb / ((performance.now() - t0) / 1000),
        cpuMsPerMB: (cpuMs(agent.pid) - c0) / mb,
        rssMB: agent.rssBytes() / 1e6,
      });
    }
    await term.close();
    await peer.close();
    enrolled.console.close();
    return samples;
  } finally {
    await agent.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const unit = process.argv[4]
  ? Object.fromEntries(process.argv[4].split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
  : unitAllocatorEnv();
if (Object.keys(unit).length === 0)
  throw new Error('nothing to compare: the unit sets no MALLOC_ variable; give KEY=VALUE,… as the third argument');
const label = randomBytes(3).toString('hex');
const container = await startContainer({ namePrefix: 'tether-alloc-bench', labels: { 'tether.allocbench': label } });
const results: Record<string, Sample[]> = { defaults: [], with: [] };
try {
  for (let r = 0; r < rounds; r++) {
    results.defaults!.push(...(await measure({}, container.name)));
    results.with!.push(...(await measure(unit, container.name)));
    console.log(`round ${r + 1}/${rounds} done`);
  }
} finally {
  await container.remove();
}
console.log(`with: ${JSON.stringify(unit)}; ${rounds} agents × ${transfers} transfers of ${mib} MiB of base64 each`);
for (const [name, samples] of Object.entries(results)) {
  const m = (key: keyof Sample) =>
    round(
      percentile(
        samples.map((s) => s[key]),
        50,
      ),
      2,
    );
  console.log(
    `${name.padEnd(9)} median ${m('mbps')} MB/s, ${m('cpuMsPerMB')} ms of agent CPU per MB, RSS after a transfer ${m('rssMB')} MB (max ${round(Math.max(...samples.map((s) => s.rssMB)), 1)})`,
  );
  console.log(`${''.padEnd(9)} CPU ms per MB: ${samples.map((s) => Math.round(s.cpuMsPerMB)).join(' ')}`);
}
process.exit(0);
