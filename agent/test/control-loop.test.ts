/**
 * A debug shell never competes with the control loop on equal terms (issue 17), on the built agent,
 * real Docker and a werift console. A container with a memory limit runs a cyclic task (a 2 ms tick,
 * 1 ms of work, 160 MiB resident: a vPLC runtime) as its workload; a Tether session in it starts
 * two CPU hogs, an I/O hog and a memory hog. Behaviour only, never timings (the bench measures the
 * loop's lateness: bench/control-loop.ts): every process of the session, read from the host's
 * /proc, runs at nice 19 under SCHED_IDLE with idle I/O priority, oom_score_adj 1000 and on the
 * CPUs of the container's rule; the memory hog is the one the kernel kills, though the runtime is
 * the larger process, and the cyclic task lives on.
 *
 * Then the same as an unprivileged agent (the systemd unit's way), which cannot act on the host:
 * what the container's busybox can set holds, SCHED_IDLE does not, and the audit record says so;
 * and a rule that cannot be applied is told in the tab.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureDocker, type TestContainer } from '../../harness/docker.js';
import {
  calibrate,
  CPU_HOG,
  CyclicTask,
  ensureCyclicTaskBuilt,
  hostProcessFacts,
  IO_HOG,
  ioClass,
  MEMORY_HOG,
  oomKills,
  sessionProcesses,
  startLoopContainer,
  type HostProcessFacts,
} from '../../harness/control-loop.js';
import { AgentProcess, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { until } from '../../harness/werift-console.js';

type AuditLine = { event: string; sessionId?: string; [k: string]: unknown };
const auditOf = (stateDir: string): AuditLine[] =>
  readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditLine);
const startRecord = (stateDir: string, sessionId: string) =>
  auditOf(stateDir).find((l) => l.event === 'session.start' && l.sessionId === sessionId) as AuditLine & {
    standing: { wanted: Record<string, unknown>; holds: Record<string, unknown> | null; notApplied: string[]; onHost?: string[] };
  };

/** The container's memory limit and the runtime's resident memory: at the OOM, the hog is the smaller process. */
const MEMORY_LIMIT = '256m';
const RUNTIME_RESIDENT_MB = 160;
/** The last CPU: sessions are kept off the others, where the runtime runs. */
const SESSION_CPU = String(cpus().length - 1);
const SCHED_IDLE = 5;

function unprivilegedStateDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'tether-loop-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'state');
  mkdirSync(dir, { mode: 0o700 });
  execFileSync('chown', ['nobody:nogroup', dir]);
  return dir;
}

function unprivilegedPrefix(): string[] {
  const dockerGid = execFileSync('getent', ['group', 'docker'], { encoding: 'utf8' }).split(':')[2]!;
  return ['setpriv', '--reuid=nobody', '--regid=nogroup', `--groups=${dockerGid}`, '--'];
}

/** Asks `check` until it gives a value; fails with `what` after `ms`. */
async function waitFor<T>(check: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Types `command` and waits for `marker` in the output. Generously: a session at SCHED_IDLE gets a
 * CPU only when nothing else wants it, and other tests load this machine.
 */
async function typed(t: { tty: { send(data: Buffer): void }; term: { output(): string } }, command: string, marker: RegExp): Promise<void> {
  t.tty.send(Buffer.from(`${command}\n`));
  await until(() => marker.test(t.term.output()), `output ${marker}`, 120_000);
}

/** The session's processes once its hogs run: the shell, two `yes`, the I/O loop. */
function hogsRunning(sessionId: string): Promise<HostProcessFacts[]> {
  return waitFor(
    async () => {
      const found = await sessionProcesses(sessionId);
      return found.filter((p) => p.comm === 'yes').length === 2 && found.length >= 4 ? found : undefined;
    },
    'the hogs to start',
    120_000,
  );
}

/**
 * The process and its parents up to the container's init, each with its I/O class: a CI run saw
 * one session `sh` in class none (not reproduced since; this says which one, next time).
 */
function ancestry(pid: number): string {
  const chain: string[] = [];
  for (let current = pid; current > 1 && chain.length < 8; ) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${current}/stat`, 'utf8');
    } catch {
      chain.push(`${current} (gone)`);
      break;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    chain.push(`${current} ${comm} [${ioClass(current) ?? '?'}]`);
    current = ppid;
  }
  return chain.join(' ← ');
}

describe('a debug session yields to the control loop (built agent, real Docker, werift console)', () => {
  let w: Werift;
  let plc: TestContainer;
  let iterations: number;
  const containers: TestContainer[] = [];
  const agents: AgentProcess[] = [];

  before(async () => {
    ensureCyclicTaskBuilt();
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    plc = await startLoopContainer({
      namePrefix: 'tether-loop',
      memory: MEMORY_LIMIT,
      labels: { 'tether.vplc': 'true', 'tether.session-cpus': SESSION_CPU },
    });
    containers.push(plc);
    iterations = await calibrate(plc);
  });

  after(async () => {
    for (const agent of agents) await agent.stop();
    await Promise.all(containers.map((c) => c.remove()));
  });

  test("as root: every session process at nice 19, SCHED_IDLE, idle I/O, oom_score_adj 1000, on the rule's CPU; the memory hog is killed, the cyclic task lives", async () => {
    const loop = CyclicTask.start(plc, { iterations, cycles: 0, residentMb: RUNTIME_RESIDENT_MB });
    const runtimePid = await waitFor(() => loop.hostPid(), 'the cyclic task to start');
    const stateDir = mkdtempSync(join(tmpdir(), 'tether-loop-state-'));
    const agent = await AgentProcess.start(stateDir, ['--session-priority', 'idle']);
    agents.push(agent);
    const { console: c, agentInfo } = await pairedConsole(agent);
    const t = await openTerminal(w, c, agentInfo, plc.name);
    assert.equal(t.first.type, 'opened', JSON.stringify(t.first));
    assert.equal(t.first.notices, undefined, 'everything was applied: nothing to tell');
    const sessionId = t.first.sessionId as string;

    // The session's user cannot win its CPU priority back (it has no CAP_SYS_NICE).
    await typed(t, 'renice -n -19 -p $$; echo renice-ended-$((40+2))', /renice-ended-42/);
    assert.match(t.term.output(), /Permission denied/);
    const shell = await hostProcessFacts((await sessionProcesses(sessionId))[0]!.pid);
    assert.deepEqual([shell?.comm, shell?.nice, shell?.policy], ['sh', 19, SCHED_IDLE]);

    await typed(t, `${CPU_HOG} & ${CPU_HOG} & ${IO_HOG} & echo hogs-$((6*7))`, /hogs-42/);
    const processes = await hogsRunning(sessionId);
    for (const p of processes) {
      assert.deepEqual(
        { comm: p.comm, nice: p.nice, policy: p.policy, oomScoreAdj: p.oomScoreAdj, cpus: p.cpus },
        { comm: p.comm, nice: 19, policy: SCHED_IDLE, oomScoreAdj: 1000, cpus: SESSION_CPU },
        `session process ${p.pid}`,
      );
      const io = ioClass(p.pid);
      // a short-lived `dd` may be gone by now
      if (io !== undefined || (await hostProcessFacts(p.pid)) !== undefined)
        assert.equal(io, 'idle', `I/O class of ${p.comm} (${p.pid}); its ancestry: ${ancestry(p.pid)}`);
    }
    const runtime = await hostProcessFacts(runtimePid);
    assert.deepEqual([runtime?.nice, runtime?.policy, runtime?.oomScoreAdj], [0, 0, 0], 'the runtime keeps its standing');

    const killsBefore = oomKills(runtimePid);
    t.tty.send(Buffer.from(`${MEMORY_HOG}; echo memory-hog-ended-$?\n`));
    await until(() => t.term.output().includes('memory-hog-ended-137'), 'the memory hog to be killed (SIGKILL: 137)', 120_000);
    assert.ok(oomKills(runtimePid) > killsBefore, "the kernel's OOM killer killed it");
    const after = await hostProcessFacts(runtimePid);
    assert.ok(after && after.state !== 'Z', 'the cyclic task is alive');

    const audit = startRecord(stateDir, sessionId);
    assert.deepEqual(audit.standing.wanted, { priority: 'idle', cpus: SESSION_CPU });
    assert.deepEqual(audit.standing.notApplied, []);
    assert.deepEqual(audit.standing.onHost, ['SCHED_IDLE'], 'busybox has no chrt: the agent set SCHED_IDLE on the host');
    assert.equal(audit.inputRecorded, false);
    await t.close();
    c.close();
    const report = await loop.stop();
    assert.ok(report && report.cycles > 0, 'the cyclic task ran to its stop');
  });

  test('as an unprivileged agent (the systemd unit): busybox sets nice, idle I/O, oom_score_adj and the CPU; SCHED_IDLE is audited as not applied', async () => {
    const stateDir = unprivilegedStateDir();
    const agent = await AgentProcess.start(stateDir, ['--session-priority', 'idle'], unprivilegedPrefix());
    agents.push(agent);
    const { console: c, agentInfo } = await pairedConsole(agent);
    const t = await openTerminal(w, c, agentInfo, plc.name);
    assert.equal(t.first.type, 'opened', JSON.stringify(t.first));
    assert.equal(t.first.notices, undefined, 'SCHED_IDLE is "where allowed": no notice for it');
    const sessionId = t.first.sessionId as string;
    await typed(t, `${CPU_HOG} & ${CPU_HOG} & ${IO_HOG} & echo hogs-$((6*7))`, /hogs-42/);
    for (const p of await hogsRunning(sessionId)) {
      assert.deepEqual(
        { comm: p.comm, nice: p.nice, policy: p.policy, oomScoreAdj: p.oomScoreAdj, cpus: p.cpus },
        { comm: p.comm, nice: 19, policy: 0, oomScoreAdj: 1000, cpus: SESSION_CPU },
        `session process ${p.pid}`,
      );
    }
    const audit = startRecord(stateDir, sessionId);
    assert.deepEqual(audit.standing.notApplied, ['SCHED_IDLE']);
    assert.equal(audit.standing.onHost, undefined, 'the agent did not act on the host');
    assert.deepEqual(
      {
        nice: audit.standing.holds?.nice,
        policy: audit.standing.holds?.policy,
        io: audit.standing.holds?.io,
        oom: audit.standing.holds?.oomScoreAdj,
        cpus: audit.standing.holds?.cpus,
      },
      { nice: 19, policy: 'other', io: 'idle', oom: 1000, cpus: SESSION_CPU },
    );
    await t.close();
    c.close();
  });

  test('a rule that cannot be applied, and a malformed one, are told in the tab and audited; the session opens', async () => {
    const odd = await startLoopContainer({
      namePrefix: 'tether-loop-odd',
      memory: MEMORY_LIMIT,
      labels: { 'tether.vplc': 'true', 'tether.session-cpus': '4095', 'tether.session-memory': 'lots' },
    });
    containers.push(odd);
    const stateDir = mkdtempSync(join(tmpdir(), 'tether-loop-state-'));
    const agent = await AgentProcess.start(stateDir, ['--session-priority', 'idle']);
    agents.push(agent);
    const { console: c, agentInfo } = await pairedConsole(agent);
    const t = await openTerminal(w, c, agentInfo, odd.name);
    assert.equal(t.first.type, 'opened', JSON.stringify(t.first));
    const notices = t.first.notices as string[];
    assert.equal(notices.length, 1, JSON.stringify(notices));
    assert.match(notices[0]!, /could not be given .*label tether\.session-memory="lots" is not a size of at least 16m; ignored.*CPUs 4095/);
    const audit = startRecord(stateDir, t.first.sessionId as string);
    assert.deepEqual(
      audit.standing.notApplied.map((what) => what.replace(/ \(.*\)$/, '')),
      ['label tether.session-memory="lots" is not a size of at least 16m; ignored', 'CPUs 4095'],
    );
    await typed(t, 'echo still-$((40+2))', /still-42/);
    await t.close();
    c.close();
  });
});
