/**
 * A full disk, end to end on the built agent, real Docker and a werift console over the LAN
 * endpoint, with the agent's folders on a real 1 MB tmpfs that the test fills and frees (root:
 * `mount`):
 *
 * - an agent started on a full state folder exits 1 at once with a one-line reason, and starts
 *   once space is back (a supervisor's restart then works);
 * - a disk that fills during sessions (`--audit-failure open`) leaves an audit log whose every line
 *   parses, with every session's start and end, written after an `audit.gap` record, and
 *   recordings that are valid asciicast files;
 * - with `--audit-failure closed` (the default) new sessions are refused with AUDIT_UNAVAILABLE
 *   while the log cannot be written, and served again, without a restart, once it can;
 * - an agent killed while its session journal could not be written (stale: it lists a session
 *   that ended and misses one that runs) ends, once restarted, the running one and every process
 *   it started, and does not end the other again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { AgentProcess, cli, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { SmallDisk } from './support/small-disk.js';
import { until } from '../../harness/werift-console.js';

type Record = { event: string; sessionId?: string; [k: string]: unknown };

/** Every line of the audit log, parsed: a line that does not parse fails the test. */
function auditLines(path: string): Record[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line, i) => {
      try {
        return JSON.parse(line) as Record;
      } catch (cause) {
        throw new Error(`audit line ${i + 1} does not parse: ${line.slice(0, 200)}`, { cause });
      }
    });
}

/** Each session's events, in order. */
function eventsBySession(records: Record[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const r of records) if (r.sessionId) map.set(r.sessionId, [...(map.get(r.sessionId) ?? []), r.event]);
  return map;
}

/** Every line of an asciicast v2 file parses: a header, then `[time, type, data]` events. */
function assertValidCast(path: string): number {
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.pop(), '', `${path} ends with a newline`);
  const header = JSON.parse(lines[0]!) as { version: number };
  assert.equal(header.version, 2, path);
  for (const line of lines.slice(1)) {
    const event = JSON.parse(line) as unknown[];
    assert.ok(Array.isArray(event) && typeof event[0] === 'number' && typeof event[1] === 'string', `${path}: ${line.slice(0, 80)}`);
  }
  return lines.length - 1;
}

const sleeping = async (container: TestContainer, pattern: RegExp) => (await container.processes()).filter((p) => pattern.test(p));

/** Waits until the container has no process matching `pattern`; returns what is left after 20 s. */
async function gone(container: TestContainer, pattern: RegExp): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  let left = await sleeping(container, pattern);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = await sleeping(container, pattern);
  }
  return left;
}

describe('a full disk (built agent, real Docker, a real tmpfs)', () => {
  let w: Werift;
  /** a fresh container per test: what one test leaves cannot fail the next */
  let plc: TestContainer;
  const containers: TestContainer[] = [];
  const disks: SmallDisk[] = [];
  const agents: AgentProcess[] = [];
  const mount = () => {
    const disk = SmallDisk.mount('1m');
    disks.push(disk);
    return disk;
  };
  const start = async (stateDir: string, args: string[] = []) => {
    const agent = await AgentProcess.start(stateDir, args);
    agents.push(agent);
    return agent;
  };

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
  });

  beforeEach(async () => {
    plc = await startContainer({ namePrefix: 'tether-full-disk' });
    containers.push(plc);
  });

  after(async () => {
    for (const agent of agents) if (agent.child.exitCode === null && agent.child.signalCode === null) await agent.stop();
    for (const disk of disks) disk.close();
    await Promise.all(containers.map((c) => c.remove()));
  });

  test('an agent started on a full state folder exits 1 at once with one line saying why, and starts once space is back', async () => {
    const disk = mount();
    const stateDir = join(disk.dir, 'state');
    const first = await start(stateDir);
    await first.stop();
    disk.fill();

    const child = spawn(
      process.execPath,
      [
        cli,
        '--lan-listen',
        '127.0.0.1:0',
        '--state-dir',
        stateDir,
        '--agent-id',
        'full-disk',
        '--ice-host',
        '127.0.0.1',
        '--ice-interface',
        '127.0.0.1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 1, `exit code; stderr: ${stderr}`);
    const lines = stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line: ${stderr}`);
    assert.match(lines[0]!, /^tether-agent: cannot .*: ENOSPC: no space left on device/);
    assert.deepEqual(
      readdirSync(stateDir).filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left',
    );

    disk.release();
    const again = await start(stateDir);
    await again.stop();
    assert.equal(again.child.exitCode, 0, 'a clean stop exits 0');
  });

  test('a disk that fills during sessions (--audit-failure open): every record written after a gap record, recordings valid', async () => {
    const disk = mount();
    const stateDir = mkdtempSync(join(tmpdir(), 'tether-full-state-'));
    const auditLog = join(disk.dir, 'audit.jsonl');
    const recordDir = join(disk.dir, 'casts');
    const agent = await start(stateDir, ['--audit-log', auditLog, '--record-dir', recordDir, '--audit-failure', 'open']);
    const { console: c, agentInfo } = await pairedConsole(agent);
    const sessions: string[] = [];
    disk.fill(64 * 1024);

    // The first session's recording takes the last 64 KiB.
    const big = await openTerminal(w, c, agentInfo, plc.name);
    sessions.push(big.first.sessionId as string);
    await big.run('head -c 100000 /dev/zero | tr "\\0" x; echo; echo filled-$((40+2))', 'filled-42');
    await until(() => /"msg":"recording stopped; the session goes on"/.test(agent.logs), 'the recording to stop on the full disk');
    // Sessions open and close while the log cannot be written (the records of the first ones may
    // still fit in the log file's last page).
    for (let i = 0; i < 40 && !/"msg":"audit log cannot be written/.test(agent.logs); i++) {
      const t = await openTerminal(w, c, agentInfo, plc.name);
      assert.equal(t.first.type, 'opened', `open mode serves sessions: ${JSON.stringify(t.first)}`);
      sessions.push(t.first.sessionId as string);
      await t.run(`echo during-$((${i}+1000))`, `during-${i + 1000}`);
      await t.close();
    }
    assert.match(agent.logs, /"msg":"audit log cannot be written/);
    for (let i = 0; i < 2; i++) {
      const t = await openTerminal(w, c, agentInfo, plc.name);
      assert.equal(t.first.type, 'opened', JSON.stringify(t.first));
      sessions.push(t.first.sessionId as string);
      await t.close();
    }
    await big.close();
    await until(() => (agent.logs.match(/"msg":"session closed"/g)?.length ?? 0) >= sessions.length, 'every session to end');

    disk.release();
    await until(() => /"msg":"audit log written again"/.test(agent.logs), 'the agent to write its log again by itself');
    const records = auditLines(auditLog);
    const gap = records.find((r) => r.event === 'audit.gap');
    assert.ok(gap, 'a gap record');
    assert.ok((gap.delayed as number) > 0 && gap.lost === 0, JSON.stringify(gap));
    assert.match(String(gap.reason), /ENOSPC/);
    const events = eventsBySession(records);
    for (const id of sessions)
      assert.deepEqual(
        events.get(id),
        ['session.start', 'session.end'],
        `session ${id} (${sessions.indexOf(id)} of ${sessions.length}): ${readFileSync(auditLog, 'utf8').slice(-3000)}`,
      );
    const bigEnd = records.find((r) => r.event === 'session.end' && r.sessionId === sessions[0]);
    assert.match(String(bigEnd?.recordingStopped), /write failed: ENOSPC/);
    const casts = readdirSync(recordDir);
    assert.ok(
      casts.some((f) => f.includes(sessions[0]!)),
      'the stopped recording is kept',
    );
    for (const file of casts) assertValidCast(join(recordDir, file));
    c.close();
  });

  test('--audit-failure closed: new sessions are refused with AUDIT_UNAVAILABLE while the log cannot be written, and served again once it can', async () => {
    const disk = mount();
    const stateDir = mkdtempSync(join(tmpdir(), 'tether-closed-state-'));
    const auditLog = join(disk.dir, 'audit.jsonl');
    const agent = await start(stateDir, ['--audit-log', auditLog]);
    const { console: c, agentInfo } = await pairedConsole(agent);
    disk.fill();

    let refused: Awaited<ReturnType<typeof openTerminal>> | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const t = await openTerminal(w, c, agentInfo, plc.name);
      if (t.first.type === 'error') refused = t;
      else await t.close();
    }
    assert.ok(refused, 'a session was refused');
    assert.equal(refused.first.code, 'AUDIT_UNAVAILABLE', JSON.stringify(refused.first));
    assert.equal(refused.first.fatal, true);
    const again = await openTerminal(w, c, agentInfo, plc.name);
    assert.equal(again.first.code, 'AUDIT_UNAVAILABLE', 'still refused while the disk is full');
    // The refused session's shell was started, then ended at once.
    assert.deepEqual(await gone(plc, /bash$/), [], 'no shell of a refused session runs');

    disk.release();
    const served = await openTerminal(w, c, agentInfo, plc.name);
    assert.equal(served.first.type, 'opened', `served again without a restart: ${JSON.stringify(served.first)}`);
    await served.run('echo back-$((40+2))', 'back-42');
    await served.close();
    await until(
      () => auditLines(auditLog).some((r) => r.event === 'session.end' && r.sessionId === served.first.sessionId),
      'the served session to end',
    );
    const records = auditLines(auditLog);
    assert.ok(
      records.some((r) => r.event === 'audit.gap'),
      'a gap record',
    );
    const refusals = records.filter((r) => r.event === 'session.refused' && r.code === 'AUDIT_UNAVAILABLE');
    assert.ok(refusals.length >= 2, `the refusals are audited too: ${refusals.length}`);
    assert.deepEqual(eventsBySession(records).get(served.first.sessionId as string), ['session.start', 'session.end']);
    c.close();
  });

  test('a crash while the session journal cannot be written: the restarted agent ends what runs, every process, and nothing twice', async () => {
    const disk = mount();
    const stateDir = join(disk.dir, 'state');
    const auditLog = join(mkdtempSync(join(tmpdir(), 'tether-journal-audit-')), 'audit.jsonl');
    const agent = await start(stateDir, ['--audit-log', auditLog]);
    const { console: c, agentInfo } = await pairedConsole(agent);
    const ended = await openTerminal(w, c, agentInfo, plc.name);
    await ended.run('echo listed-$((1+1))', 'listed-2');
    const endedId = ended.first.sessionId as string;
    assert.match(readFileSync(join(stateDir, 'sessions.json'), 'utf8'), new RegExp(endedId));

    disk.fill();
    await ended.close();
    await until(() => auditLines(auditLog).some((r) => r.event === 'session.end' && r.sessionId === endedId), 'the first session to end');
    const running = await openTerminal(w, c, agentInfo, plc.name);
    const runningId = running.first.sessionId as string;
    await running.run(
      'setsid sleep 3101 & nohup sleep 3102 >/dev/null 2>&1 & (sleep 3103 &); sleep 3104 & echo started-$((1+1))',
      'started-2',
    );
    assert.equal((await sleeping(plc, /sleep 310[1-4]/)).length, 4);
    const journal = readFileSync(join(stateDir, 'sessions.json'), 'utf8');
    assert.match(journal, new RegExp(endedId), 'the journal is stale: it still lists the ended session');
    assert.doesNotMatch(journal, new RegExp(runningId), 'the journal is stale: it misses the running session');
    assert.match(agent.logs, /"msg":"cannot write the session journal/);
    assert.deepEqual(
      readdirSync(stateDir).filter((f) => f.endsWith('.tmp')),
      [],
      'failed writes leave no temporary file',
    );

    agent.child.kill('SIGKILL');
    await once(agent.child, 'exit');
    await running.pc.close();
    c.close();
    assert.equal((await sleeping(plc, /sleep 310[1-4]/)).length, 4, "the dead agent's processes still run");

    disk.release();
    const restarted = await start(stateDir, ['--audit-log', auditLog]);
    assert.match(restarted.logs, /"msg":"session of a previous agent ended".*"foundBy":"process marker"/);
    assert.deepEqual(await gone(plc, /sleep 310[1-4]|bash$/), [], 'no process of the dead agent is left');
    const records = auditLines(auditLog);
    const ends = (id: string) => records.filter((r) => r.event === 'session.end' && r.sessionId === id);
    assert.equal(ends(endedId).length, 1, 'the session that had ended is not ended again');
    assert.equal(ends(runningId).length, 1);
    assert.match(String(ends(runningId)[0]!.reason), /agent restarted/);
    assert.equal(ends(runningId)[0]!.foundBy, 'process marker');
    assert.ok(existsSync(join(stateDir, 'sessions.json')));
    assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'sessions.json'), 'utf8')), [], 'the journal starts afresh');
  });
});
