/**
 * The state rules of protocol/README.md on the built agent (issue 16): a session's slot is free when
 * the agent closes its channel after `close`, so a console that opens the next session at that
 * moment is never refused SESSION_LIMIT by the one it just ended; and which errors are fatal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { AgentProcess, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { collect, opened, until, type TestConsole } from '../../harness/werift-console.js';

describe('state rules on the real agent', () => {
  let agent: AgentProcess;
  let container: TestContainer;
  let w: Werift;
  let console: TestConsole;
  let agentInfo: Awaited<ReturnType<typeof pairedConsole>>['agentInfo'];

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    container = await startContainer({ namePrefix: 'tether-state-rules' });
    agent = await AgentProcess.start(mkdtempSync(join(tmpdir(), 'tether-state-rules-')), ['--max-sessions-per-container', '1']);
    ({ console, agentInfo } = await pairedConsole(agent));
  });

  after(async () => {
    console?.close();
    await agent?.stop();
    await container?.remove();
  });

  test('the slot is free when the channel closes after close: the next open, at once, is served (10 times)', async () => {
    const terminal = await openTerminal(w, console, agentInfo, container.name);
    assert.equal(terminal.first.type, 'opened', JSON.stringify(terminal.first));
    // A second session in the same container is refused while the first runs: the limit holds.
    const pc = terminal.pc;
    const second = pc.createDataChannel('tty:second');
    const secondMessages = collect(second);
    await opened(second);
    second.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    const refused = await until(() => secondMessages.find((m) => m.type === 'error'), 'the second open refused');
    assert.equal(refused.code, 'SESSION_LIMIT');
    assert.equal(refused.fatal, true);
    let current = terminal.tty;
    for (let i = 0; i < 10; i++) {
      current.send(JSON.stringify({ type: 'close' }));
      // Closed at both ends, not only closing. werift, the test console, gave the next channel the
      // id whose reset was still under way, and the reset's answer closed the new channel before
      // it opened (clean-clone runs of sessions 9 and 11); patch 018 keeps such an id out of use.
      await until(() => current.readyState === 'closed' || undefined, 'the agent to close the channel');
      const next = pc.createDataChannel(`tty:next-${i}`);
      const messages = collect(next);
      await opened(next);
      next.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
      const first = await until(() => messages.find((m) => m.type === 'opened' || m.type === 'error'), 'opened or error');
      assert.equal(first.type, 'opened', `round ${i}: ${JSON.stringify(first)}`);
      current = next;
    }
    current.send(JSON.stringify({ type: 'close' }));
    await until(() => current.readyState !== 'open' || undefined, 'the agent to close the last channel');
    await terminal.close();
  });

  test('non-fatal errors leave the channel open; a fatal one is followed by its close', async () => {
    const terminal = await openTerminal(w, console, agentInfo, container.name);
    const before = terminal.term.length;
    terminal.tty.send('not json');
    terminal.tty.send(JSON.stringify({ type: 'resize', cols: 0, rows: 24 }));
    await until(() => terminal.term.slice(before).filter((m) => m.type === 'error').length >= 2 || undefined, 'two errors');
    assert.ok(
      terminal.term.slice(before).every((m) => m.type !== 'error' || m.fatal !== true),
      JSON.stringify(terminal.term.slice(before)),
    );
    await terminal.run('echo still-$((6*7))', 'still-42');
    terminal.tty.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    const already = await until(() => terminal.term.find((m) => m.type === 'error' && m.code === 'ALREADY_OPEN'), 'ALREADY_OPEN');
    assert.notEqual(already.fatal, true);
    await terminal.close();
    // An open that fails is fatal and closes its channel.
    const unknown = await openTerminal(w, console, agentInfo, 'no-such-container-x');
    assert.equal(unknown.first.code, 'UNKNOWN_TARGET');
    assert.equal(unknown.first.fatal, true);
    await until(() => unknown.tty.readyState !== 'open' || undefined, 'the refused channel to close');
    await unknown.close();
  });
});
