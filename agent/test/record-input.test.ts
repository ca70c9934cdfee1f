/**
 * `--record-input` on the built agent, real Docker and a werift console: the recording gets what was
 * typed as asciicast v2 "i" events, including a secret typed at a prompt that does not echo (why it
 * is off by default), the tab is told as it opens, and the audit record says whether input was
 * recorded. Both recordings, with and without the flag, play in `asciinema play` (Debian package
 * `asciinema`); without the flag the recording holds no input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { INPUT_RECORDED_NOTICE } from '../src/tty-session.js';
import { AgentProcess, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { until } from '../../harness/werift-console.js';

type AuditLine = { event: string; sessionId?: string; [k: string]: unknown };
const auditOf = (stateDir: string): AuditLine[] =>
  readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditLine);

const SECRET = 'hunter2-not-echoed';

describe('--record-input (built agent, real Docker, werift console, asciinema)', () => {
  let w: Werift;
  let plc: TestContainer;
  const agents: AgentProcess[] = [];

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    plc = await startContainer({ namePrefix: 'tether-typed' });
  });

  after(async () => {
    for (const agent of agents) await agent.stop();
    await plc?.remove();
  });

  /** A session on an agent with `args`: types a command and a secret at a prompt that does not echo; the recording's events, the audit's start. */
  async function recordedSession(args: string[]) {
    const stateDir = mkdtempSync(join(tmpdir(), 'tether-typed-state-'));
    const recordDir = mkdtempSync(join(tmpdir(), 'tether-typed-casts-'));
    const agent = await AgentProcess.start(stateDir, ['--record-dir', recordDir, ...args]);
    agents.push(agent);
    const { console: c, agentInfo } = await pairedConsole(agent);
    const t = await openTerminal(w, c, agentInfo, plc.name);
    assert.equal(t.first.type, 'opened', JSON.stringify(t.first));
    const sessionId = t.first.sessionId as string;
    await t.run('echo typed-$((6*7))', 'typed-42');
    await t.run("stty -echo; printf 'secret: '; read s; stty echo; echo; echo got-${#s}-chars", 'secret: ');
    t.tty.send(Buffer.from(`${SECRET}\n`));
    await until(() => t.term.output().includes(`got-${SECRET.length}-chars`), 'the secret read');
    assert.ok(!t.term.output().includes(SECRET), 'the secret was not echoed');
    await t.close();
    c.close();
    await until(() => auditOf(stateDir).some((l) => l.event === 'session.end' && l.sessionId === sessionId), 'session.end');
    const file = join(recordDir, readdirSync(recordDir).find((name) => name.endsWith(`-${sessionId}.cast`)) ?? assert.fail('no recording'));
    const events = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((line) => JSON.parse(line) as [number, string, string]);
    const start = auditOf(stateDir).find((l) => l.event === 'session.start' && l.sessionId === sessionId)!;
    return { file, events, start, notices: t.first.notices as string[] | undefined };
  }

  /** What `asciinema play` shows of a recording, at 20× speed; fails unless it plays to the end. */
  function play(file: string): string {
    const played = spawnSync('asciinema', ['play', '-s', '20', '-i', '0.2', file], {
      encoding: 'utf8',
      timeout: 120_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(
      played.error,
      undefined,
      `asciinema play: ${played.error?.message} (Debian package asciinema; scripts/setup-debian.sh installs it)`,
    );
    assert.equal(played.status, 0, played.stderr);
    return played.stdout;
  }

  test('with the flag: the typed commands and the secret are "i" events, the tab is told, the audit says so; it plays', async () => {
    const { file, events, start, notices } = await recordedSession(['--record-input']);
    assert.deepEqual(notices, [INPUT_RECORDED_NOTICE]);
    assert.equal(start.inputRecorded, true);
    const typed = events
      .filter((e) => e[1] === 'i')
      .map((e) => e[2])
      .join('');
    assert.ok(typed.includes('echo typed-$((6*7))\n'), JSON.stringify(typed));
    assert.ok(typed.includes(`${SECRET}\n`), 'what was typed at a prompt that does not echo is recorded too');
    assert.match(play(file), /typed-42/);
  });

  test('without it: no "i" event, no notice, the audit says input was not recorded; it plays', async () => {
    const { file, events, start, notices } = await recordedSession([]);
    assert.equal(notices, undefined);
    assert.equal(start.inputRecorded, false);
    assert.deepEqual(
      events.filter((e) => e[1] === 'i'),
      [],
    );
    assert.ok(!readFileSync(file, 'utf8').includes(SECRET), 'the secret is nowhere in the recording');
    const shown = play(file);
    assert.match(shown, /typed-42/);
    assert.ok(!shown.includes(SECRET));
  });
});
