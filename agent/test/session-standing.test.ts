/**
 * A session's standing (session-standing.ts): the rule's parts, the report the exec's script writes
 * first on the terminal and the agent takes off the stream, what is assessed as missing; then real
 * execs in the busybox and bash test images (the agent runs as root here, so it completes on the
 * host what busybox cannot set): inherited by every child, `normal` leaves Docker's standing, and
 * the caps hold (a memory hog fails inside its cap, a fork loop stops at the process cap).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerTargets } from '../src/docker-targets.js';
import { setLogLevel } from '../src/log.js';
import { SessionExec } from '../src/session-exec.js';
import { DEFAULT_EXEC_USER, SessionRules, type SessionRulesConfig } from '../src/session-rules.js';
import {
  assessStanding,
  cpuSet,
  parseMemorySize,
  parseStandingReport,
  readStandingReport,
  standingCommand,
  standingNotice,
  type SessionResources,
  type Standing,
} from '../src/session-standing.js';
import { ensureDocker, startContainer, TEST_IMAGE_BASH, TEST_IMAGE_SH, type TestContainer } from '../../harness/docker.js';
import { hostProcessFacts, ioClass } from '../../harness/control-loop.js';

setLogLevel(process.env['TEST_LOG'] === 'debug' ? 'debug' : 'warn');

const REPORT = '\x1b]7773;tether-standing;nice=19;policy=5;io=idle;oom=1000;cpus=1;as=65536;nproc=64\x07';
const IDLE: SessionResources = { priority: 'idle' };
const HOLDS_IDLE: Standing = {
  nice: 19,
  policy: 'idle',
  io: 'idle',
  oomScoreAdj: 1000,
  cpus: '0-1',
  memoryBytes: 'unlimited',
  processes: 'unlimited',
};

describe('session standing: the rule, the report, the assessment', () => {
  test('CPU lists and memory sizes parse; anything else does not', () => {
    assert.deepEqual(cpuSet('0-2,5'), [0, 1, 2, 5]);
    assert.deepEqual(cpuSet('3,1,1'), [1, 3]);
    for (const bad of ['', 'a', '2-1', '1,', '-1', '1 2', '5000']) assert.equal(cpuSet(bad), undefined, bad);
    assert.equal(parseMemorySize('256m'), 256 * 1024 ** 2);
    assert.equal(parseMemorySize('1G'), 1024 ** 3);
    assert.equal(parseMemorySize('65536KiB'), 64 * 1024 ** 2);
    assert.equal(parseMemorySize(4096), 4096);
    for (const bad of ['lots', '', '12q', '-5m', 0, 1.5]) assert.equal(parseMemorySize(bad), undefined, String(bad));
  });

  test('the script runs in the shell when it is a POSIX one, else in /bin/sh; the shell is what it execs', () => {
    assert.deepEqual(
      standingCommand('/bin/bash', IDLE).filter((_, i) => i !== 2),
      ['/bin/bash', '-c', '/bin/bash', 'idle', '', '', ''],
    );
    assert.deepEqual(
      standingCommand('/usr/bin/zsh', { priority: 'normal', cpus: '1', memoryBytes: 64 * 1024 ** 2, processes: 9 }).filter(
        (_, i) => i !== 2,
      ),
      ['/bin/sh', '-c', '/usr/bin/zsh', 'normal', '1', '65536', '9'],
    );
  });

  // The host's shells, with its util-linux and root: the script itself, in every POSIX shell a
  // container is likely to have (Debian's dash, bash, busybox ash), reports what it set, read back.
  const hostShells: [string, string[]][] = [
    ['dash', ['/bin/dash']],
    ['bash', ['/bin/bash']],
    ['busybox ash', ['/bin/busybox', 'sh']],
  ];
  for (const [name, interpreter] of hostShells) {
    test(`the script in ${name}: it sets and reports priority, CPUs and caps; at normal priority it reads the I/O class back`, (t) => {
      if (!existsSync(interpreter[0]!)) return t.skip(`${interpreter[0]} is not on this host`);
      if (process.getuid?.() !== 0) return t.skip('needs root for SCHED_IDLE on the host');
      const run = (resources: SessionResources, edit = (script: string) => script) => {
        const [, , original, , ...args] = standingCommand('/bin/sh', resources);
        const script = edit(original!);
        const result = spawnSync(interpreter[0]!, [...interpreter.slice(1), '-c', script, '/bin/true', ...args], { encoding: 'latin1' });
        assert.equal(result.status, 0, result.stderr);
        // eslint-disable-next-line no-control-regex -- the report is an escape sequence
        const match = /^\x1b\]7773;tether-standing;([^\x07]*)\x07$/.exec(result.stdout);
        assert.ok(match, `the report alone on stdout: ${JSON.stringify(result.stdout)}`);
        return parseStandingReport(match[1]!);
      };
      const capped: SessionResources = { priority: 'idle', cpus: '0', memoryBytes: 64 * 1024 ** 2, processes: 50 };
      const standing = run(capped);
      assert.deepEqual(standing, {
        nice: 19,
        policy: 'idle',
        io: 'idle',
        oomScoreAdj: 1000,
        cpus: '0',
        memoryBytes: 64 * 1024 ** 2,
        processes: 50,
      });
      assert.deepEqual(assessStanding(capped, standing), []);
      // Where /proc/self/limits cannot be read, the shell is asked.
      const asked = run(capped, (script) => script.replace('</proc/$$/limits', '</nonexistent'));
      assert.deepEqual([asked.memoryBytes, asked.processes], [64 * 1024 ** 2, 50]);
      const normal = run({ priority: 'normal' });
      assert.ok(normal.io === 'none' || normal.io === 'best-effort', `the I/O class read back: ${normal.io}`);
      assert.equal(normal.oomScoreAdj, Number(readFileSync('/proc/self/oom_score_adj', 'utf8')));
      assert.equal(normal.memoryBytes, 'unlimited');
    });
  }

  test('the report reads into a standing; missing or odd fields are null', () => {
    assert.deepEqual(parseStandingReport('nice=19;policy=5;io=idle;oom=1000;cpus=1;as=65536;nproc=64'), {
      nice: 19,
      policy: 'idle',
      io: 'idle',
      oomScoreAdj: 1000,
      cpus: '1',
      memoryBytes: 64 * 1024 ** 2,
      processes: 64,
    });
    assert.deepEqual(parseStandingReport('nice=0;policy=0;io=;oom=0;cpus=0-1;as=unlimited;nproc='), {
      nice: 0,
      policy: 'other',
      io: null,
      oomScoreAdj: 0,
      cpus: '0-1',
      memoryBytes: 'unlimited',
      processes: null,
    });
    assert.deepEqual(parseStandingReport('garbage'), {
      nice: null,
      policy: null,
      io: null,
      oomScoreAdj: null,
      cpus: null,
      memoryBytes: null,
      processes: null,
    });
  });

  test('what does not hold is missing; SCHED_IDLE alone is minor and gets no notice', () => {
    assert.deepEqual(assessStanding(IDLE, HOLDS_IDLE), []);
    assert.deepEqual(assessStanding({ priority: 'normal' }, { ...HOLDS_IDLE, nice: 0, policy: 'other', io: 'none', oomScoreAdj: 0 }), []);
    const noIdle = assessStanding(IDLE, { ...HOLDS_IDLE, policy: 'other' });
    assert.deepEqual(noIdle, [{ what: 'SCHED_IDLE', minor: true }]);
    assert.equal(standingNotice(noIdle), undefined);
    const bare = assessStanding(
      { priority: 'idle', cpus: '1', memoryBytes: 64 * 1024 ** 2, processes: 64 },
      { ...HOLDS_IDLE, nice: 0, io: null, oomScoreAdj: 0, cpus: '1' },
    );
    assert.deepEqual(
      bare.map((m) => m.what),
      ['nice 19 (it runs at 0)', 'idle I/O priority', 'oom_score_adj 1000', 'a memory cap of 64 MiB per process', 'a cap of 64 processes'],
    );
    assert.match(
      standingNotice(bare) ?? '',
      /^This shell could not be given nice 19 \(it runs at 0\); idle I\/O priority; oom_score_adj 1000; a memory cap/,
    );
    assert.deepEqual(
      assessStanding(IDLE, undefined).map((m) => m.minor),
      [false],
      'no report at all is told',
    );
    assert.deepEqual(assessStanding({ priority: 'normal', cpus: '0,1' }, HOLDS_IDLE), [], 'CPU lists compare as sets');
  });

  test('the report is taken off the stream, split across chunks; what follows it stays, in order', async () => {
    const stream = new PassThrough();
    const read = readStandingReport(stream);
    stream.write(Buffer.from(REPORT.slice(0, 5), 'latin1'));
    stream.write(Buffer.from(REPORT.slice(5, 40), 'latin1'));
    stream.write(Buffer.concat([Buffer.from(REPORT.slice(40), 'latin1'), Buffer.from('$ prompt')]));
    const result = await read;
    assert.equal(result.kind, 'report');
    assert.equal(result.kind === 'report' && result.standing.processes, 64);
    let rest = '';
    stream.on('data', (chunk: Buffer) => (rest += chunk.toString()));
    // A report printed later (by the user, a program) is output like any other: the agent never reads it.
    const forged = REPORT.replace('nice=19', 'nice=0');
    stream.write('after');
    stream.write(Buffer.from(forged, 'latin1'));
    stream.end();
    await new Promise((resolve) => stream.once('end', resolve));
    assert.equal(rest, `$ promptafter${forged}`);
  });

  test('a stream that does not begin with a report is left whole; one that ends first, or stays silent, is said so', async () => {
    const plain = new PassThrough();
    const read = readStandingReport(plain);
    plain.write('\x1b]0;a title\x07$ ');
    assert.equal((await read).kind, 'none');
    let rest = '';
    plain.on('data', (chunk: Buffer) => (rest += chunk.toString()));
    plain.end();
    await new Promise((resolve) => plain.once('end', resolve));
    assert.equal(rest, '\x1b]0;a title\x07$ ');

    const ended = new PassThrough();
    const endedRead = readStandingReport(ended);
    ended.end(Buffer.from(REPORT.slice(0, 12), 'latin1'));
    assert.deepEqual(await endedRead, { kind: 'ended', output: REPORT.slice(0, 12) });

    const other = new PassThrough();
    const otherRead = readStandingReport(other);
    other.end('sh: not found');
    assert.equal((await otherRead).kind, 'none', "other output that ends is the session's to read, end included");
    let otherRest = '';
    other.on('data', (chunk: Buffer) => (otherRest += chunk.toString()));
    await new Promise((resolve) => other.once('end', resolve));
    assert.equal(otherRest, 'sh: not found');

    const silent = new PassThrough();
    assert.equal((await readStandingReport(silent, 50)).kind, 'none');
  });

  test("a container's rule wins over its labels, field by field, and the labels over the agent's default; a malformed label is ignored and said so", () => {
    const rules = new SessionRules({
      shells: ['/bin/sh'],
      user: DEFAULT_EXEC_USER,
      users: {},
      maxSessionsPerContainer: 0,
      idleTimeoutMs: 0,
      maxSessionMs: 0,
      standing: { priority: 'idle', cpus: '0', processes: 100 },
      standingRules: { 'plc-1': { cpus: '1', priority: 'normal' } },
    });
    const labels = {
      'tether.session-cpus': '2',
      'tether.session-memory': '128m',
      'tether.session-processes': 'many',
      'tether.session-priority': 'low',
    };
    assert.deepEqual(rules.standingFor('plc-1', labels), {
      resources: { priority: 'normal', cpus: '1', memoryBytes: 128 * 1024 ** 2, processes: 100 },
      ignored: [
        'label tether.session-priority="low" is not idle or normal; ignored',
        'label tether.session-processes="many" is not a number of processes; ignored',
      ],
    });
    assert.deepEqual(rules.standingFor('plc-2', labels).resources, {
      priority: 'idle',
      cpus: '2',
      memoryBytes: 128 * 1024 ** 2,
      processes: 100,
    });
    assert.deepEqual(rules.standingFor('plc-3', undefined).resources, {
      priority: 'idle',
      cpus: '0',
      memoryBytes: undefined,
      processes: 100,
    });
  });
});

describe('session standing: real execs (root, so the host completes what busybox cannot)', () => {
  const targets = new DockerTargets(new Docker(), { 'tether.vplc': 'true' });
  let sh: TestContainer;
  let bash: TestContainer;

  before(async () => {
    await ensureDocker();
    [sh, bash] = await Promise.all([
      startContainer({ namePrefix: 'tether-standing-sh', image: TEST_IMAGE_SH }),
      startContainer({ namePrefix: 'tether-standing-bash', image: TEST_IMAGE_BASH }),
    ]);
  });

  after(async () => {
    await Promise.all([sh?.remove(), bash?.remove()]);
  });

  const rules = (extra: Partial<SessionRulesConfig> = {}) =>
    new SessionRules({
      shells: ['/bin/bash', '/bin/sh'],
      user: DEFAULT_EXEC_USER,
      users: {},
      maxSessionsPerContainer: 0,
      idleTimeoutMs: 0,
      maxSessionMs: 0,
      ...extra,
    });

  /** Starts a session's exec, runs `command` in its shell and gives its output up to `marker`. */
  async function inSession(
    container: TestContainer,
    sessionRules: SessionRules,
    command: string,
    marker: RegExp,
    sessionId = `standing-${Math.random().toString(36).slice(2, 10)}`,
  ) {
    const started = await SessionExec.start(
      sessionId,
      { target: container.name, cols: 80, rows: 24 },
      { targets, shells: sessionRules.shells, rules: sessionRules },
    );
    assert.ok(started.ok, JSON.stringify(started));
    const exec = started.value;
    // The stream is the session's once the standing report is off it: when the shell runs.
    const running = await exec.running;
    assert.ok(running.ok, JSON.stringify(running));
    let output = '';
    exec.handle.stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exec.handle.stream.write(`${command}\n`);
    const deadline = Date.now() + 30_000;
    while (!marker.test(output) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(output, marker);
    assert.ok(!output.includes('tether-standing'), 'the report never reaches the terminal');
    return {
      exec,
      output,
      /** everything so far */
      current: () => output,
      async end() {
        await exec.kill();
        await exec.release();
      },
    };
  }

  test('idle in busybox: the shell and every child at nice 19, SCHED_IDLE (set on the host), idle I/O, oom_score_adj 1000', async () => {
    const s = await inSession(
      sh,
      rules(),
      "sleep 3301 & sh -c 'read -r a < /proc/self/oom_score_adj; echo child-oom-$a'",
      /child-oom-(\d+)/,
    );
    assert.match(s.output, /child-oom-1000/);
    assert.deepEqual(s.exec.standing?.missing, []);
    assert.deepEqual(s.exec.standing?.hostSteps, ['SCHED_IDLE']);
    const shell = await hostProcessFacts(s.exec.hostPid);
    assert.deepEqual([shell?.nice, shell?.policy, shell?.oomScoreAdj], [19, 5, 1000]);
    const sleeper = (await sh.processes()).find((p) => p.includes('sleep 3301'));
    const sleeperPid = Number(sleeper?.split(/\s+/)[0]);
    const facts = await hostProcessFacts(sleeperPid);
    assert.deepEqual(
      [facts?.nice, facts?.policy, facts?.oomScoreAdj, ioClass(sleeperPid)],
      [19, 5, 1000, 'idle'],
      'a child inherits it all',
    );
    await s.end();
  });

  test('idle in bash: the same, with bash running the script', async () => {
    const s = await inSession(bash, rules(), 'echo shell-$BASH_VERSINFO-$(cat /proc/$$/oom_score_adj)', /shell-\d+-1000/);
    assert.equal(s.exec.handle.shell, '/bin/bash');
    assert.deepEqual(s.exec.standing?.missing, []);
    const shell = await hostProcessFacts(s.exec.hostPid);
    assert.deepEqual([shell?.comm, shell?.nice, shell?.policy], ['bash', 19, 5]);
    await s.end();
  });

  test('normal: the shell keeps the standing Docker gives an exec', async () => {
    const s = await inSession(sh, rules({ standing: { priority: 'normal' } }), 'echo oom-$(cat /proc/$$/oom_score_adj)', /oom-(\d+)/);
    assert.match(s.output, /oom-0/);
    assert.deepEqual(s.exec.standing?.missing, []);
    assert.deepEqual(s.exec.standing?.standing && [s.exec.standing.standing.nice, s.exec.standing.standing.policy], [0, 'other']);
    await s.end();
  });

  test('the memory cap: a memory hog fails inside it, not by the OOM killer; the process cap stops a fork loop', async () => {
    // A uid of its own: RLIMIT_NPROC counts every process of the uid on the host.
    const capped = rules({ user: '4242:4242', standing: { priority: 'idle', memory: 64 * 1024 ** 2, processes: 8 } });
    const s = await inSession(
      sh,
      capped,
      'ulimit -v unlimited; ulimit -v; ulimit -u; tail /dev/zero; echo tail-ended-$?',
      /tail-ended-\d+/,
    );
    assert.match(s.output, /error setting limit: Operation not permitted\r\n65536\r\n8\r\n/, 'the user cannot lift the cap');
    assert.match(s.output, /tail-ended-1/, 'tail found no memory and said so (exit 1), rather than being killed (137)');
    // ash gives up the command line at the first fork that fails: the marker comes on its own line.
    s.exec.handle.stream.write('for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 3302 & done 2>/dev/null\necho forked-$((6*7))\n');
    const deadline = Date.now() + 30_000;
    while (!s.current().includes('forked-42') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(s.current(), /forked-42/);
    const sleeps = (await sh.processes()).filter((p) => p.includes('sleep 3302')).length;
    assert.ok(sleeps >= 1 && sleeps <= 7, `${sleeps} sleeps: the shell and at most 7 more processes`);
    assert.deepEqual(s.exec.standing?.missing, [], JSON.stringify(s.exec.standing));
    await s.end();
  });
});
