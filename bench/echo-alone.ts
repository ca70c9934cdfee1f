/**
 * Keystroke echo on its own, and what it costs the agent: a werift console (in this process) and
 * the built agent on loopback, `cat` in a test container; single keystrokes, each sent 3 ms after
 * the previous one came back (below the agent's 500 frames a second), then the same through plain `docker exec` (raw exec) in the same run.
 * Prints, per round, the echo p50/p99 and the CPU time per keystroke of the agent (from /proc) and
 * of this process (the console's werift), then the raw exec's echo.
 *
 *   npm run build && node --conditions=source --import tsx bench/echo-alone.ts [keystrokes] [rounds]
 *
 * The first round includes the JIT's warm-up; read the later ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startContainer, TEST_IMAGE_SH } from '../harness/docker.js';
import { AgentProcess, openTerminal, pairedConsole } from '../harness/lan-agent.js';
import { buildAgent, patchedWerift } from '../harness/patched-werift.js';
import { cpuSeconds } from './proc-cpu.js';
import { rawExecEcho } from './raw-exec.js';
import { percentile } from './stats.js';

const keystrokes = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);

await buildAgent();
const w = await patchedWerift();
const container = await startContainer({ image: TEST_IMAGE_SH, namePrefix: 'tether-bench-echo', labels: { 'tether.vplc': 'true' } });
const stateDir = mkdtempSync(join(tmpdir(), 'tether-bench-echo-'));
const agent = await AgentProcess.start(stateDir);
try {
  const { console: c, agentInfo } = await pairedConsole(agent);
  const t = await openTerminal(w, c, agentInfo, container.name);
  // Raw mode: cat gets and writes back every byte at once, and no line fills the terminal's
  // 4 KiB line buffer (in canonical mode the terminal stops echoing there).
  await t.run('stty raw -echo; echo stty-""done; cat', 'stty-done');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const f = (samples: number[]) => `${percentile(samples, 50).toFixed(2)} / ${percentile(samples, 99).toFixed(2)} ms`;
  for (let round = 1; round <= rounds; round++) {
    const latencies: number[] = [];
    const agentCpu = cpuSeconds(agent.child.pid!);
    const ownCpu = process.cpuUsage();
    for (let i = 0; i < keystrokes; i++) {
      const key = 0x61 + (i % 26);
      const echoed = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`keystroke ${i} of round ${round} not echoed within 10 s`)), 10_000);
        const subscription = t.tty.onMessage.subscribe((data: string | Buffer) => {
          if (typeof data !== 'string' && Buffer.from(data).includes(key)) {
            subscription.unSubscribe();
            clearTimeout(timer);
            resolve(performance.now());
          }
        });
      });
      const t0 = performance.now();
      t.tty.send(Buffer.from([key]));
      latencies.push((await echoed) - t0);
      // Under the agent's TTY_FRAMES_PER_SECOND (500), as any typist is: frames over it are dropped.
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const agentMs = ((cpuSeconds(agent.child.pid!) - agentCpu) * 1000) / keystrokes;
    const own = process.cpuUsage(ownCpu);
    const consoleMs = (own.user + own.system) / 1000 / keystrokes;
    console.log(
      `round ${round}, load ${loadavg()[0]!.toFixed(1)}: echo p50 / p99 ${f(latencies)}; CPU per keystroke: agent ${agentMs.toFixed(3)} ms, console ${consoleMs.toFixed(3)} ms`,
    );
  }
  console.log(`raw exec, load ${loadavg()[0]!.toFixed(1)}: echo p50 / p99 ${f(await rawExecEcho(container.id, keystrokes))}`);
  await t.close();
  c.close();
} finally {
  await agent.stop();
  await container.remove();
  rmSync(stateDir, { recursive: true, force: true });
}
