/**
 * Processes that leave their terminal session are still ended with it, end to end on the built
 * agent, real Docker and a werift console: `setsid` (a new Linux session), `nohup … &` (ignores
 * SIGHUP) and a double fork (reparented to the container's init) are all gone after a tab close,
 * after SIGTERM to the agent, and after `kill -9` and a restart on the same state folder.
 *
 * Twice: as root, where the agent finds them from the host's /proc (the session's marker in their
 * environment, inside the container's pid namespace), and as an unprivileged user in the docker
 * group (the systemd unit's way), where it finds them from inside the container.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { AgentProcess, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { waitFor } from '../../harness/wait.js';

const ESCAPES = 'setsid sleep 3201 & nohup sleep 3202 & (sleep 3203 &); sleep 3204 & echo started-$((40+2))';
const STRAYS = /sleep 320[1-4]|bash$/;

/** Waits until the container has no stray process; returns what is left after 20 s. */
async function strays(container: TestContainer, waitMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  let left = (await container.processes()).filter((p) => STRAYS.test(p));
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = (await container.processes()).filter((p) => STRAYS.test(p));
  }
  return left;
}

interface Mode {
  name: string;
  /** a fresh state folder the agent may write */
  stateDir(): string;
  prefix(): string[];
  /** how the kill is logged: from the host or from inside the container */
  method: 'host-proc' | 'container-exec';
}

const root: Mode = {
  name: 'as root',
  stateDir: () => join(mkdtempSync(join(tmpdir(), 'tether-strays-')), 'state'),
  prefix: () => [],
  method: 'host-proc',
};

const unprivileged: Mode = {
  name: 'as an unprivileged user in the docker group',
  stateDir() {
    const parent = mkdtempSync(join(tmpdir(), 'tether-strays-'));
    chmodSync(parent, 0o755);
    const dir = join(parent, 'state');
    mkdirSync(dir, { mode: 0o700 });
    execFileSync('chown', ['nobody:nogroup', dir]);
    return dir;
  },
  prefix() {
    const dockerGid = execFileSync('getent', ['group', 'docker'], { encoding: 'utf8' }).split(':')[2]!;
    return ['setpriv', '--reuid=nobody', '--regid=nogroup', `--groups=${dockerGid}`, '--'];
  },
  method: 'container-exec',
};

for (const mode of [root, unprivileged]) {
  describe(`processes that escape their session are ended (${mode.name})`, () => {
    let w: Werift;
    let plc: TestContainer;
    const containers: TestContainer[] = [];
    const agents: AgentProcess[] = [];
    const start = async (stateDir: string) => {
      const agent = await AgentProcess.start(stateDir, [], mode.prefix());
      agents.push(agent);
      return agent;
    };

    before(async () => {
      await Promise.all([ensureDocker(), buildAgent()]);
      w = await patchedWerift();
    });

    beforeEach(async () => {
      plc = await startContainer({ namePrefix: 'tether-strays' });
      containers.push(plc);
    });

    after(async () => {
      for (const agent of agents) if (agent.child.exitCode === null && agent.child.signalCode === null) await agent.stop();
      await Promise.all(containers.map((c) => c.remove()));
    });

    /** An agent with a terminal whose shell started every kind of escape. */
    const escaped = async () => {
      const agent = await start(mode.stateDir());
      const { console: c, agentInfo } = await pairedConsole(agent);
      const t = await openTerminal(w, c, agentInfo, plc.name);
      await t.run(ESCAPES, 'started-42');
      // The shell prints its line as soon as it has forked the four; `setsid` and `nohup` may not
      // have exec'd their `sleep` yet (seen once in a clean-clone run: 3 of 4).
      const running = async () => (await plc.processes()).filter((p) => /sleep 320[1-4]/.test(p)).length;
      await waitFor(async () => (await running()) === 4 || undefined, 'the four escapes to run', 10_000).catch(() => undefined);
      assert.equal(await running(), 4);
      return { agent, c, t };
    };

    test('after the tab is closed', async () => {
      const { agent, c, t } = await escaped();
      await t.close();
      assert.deepEqual(await strays(plc), [], 'nothing of the session is left');
      assert.match(agent.logs, new RegExp(`"msg":"session opened".*"kill":"${mode.method}"`));
      c.close();
    });

    test('after SIGTERM to the agent', async () => {
      const { agent, c, t } = await escaped();
      agent.child.kill('SIGTERM');
      const [code] = (await once(agent.child, 'exit')) as [number | null];
      assert.equal(code, 0, 'a clean stop exits 0');
      assert.deepEqual(await strays(plc), [], 'nothing of the session is left');
      await t.pc.close();
      c.close();
    });

    test('after kill -9 and a restart on the same state folder', async () => {
      const { agent, c, t } = await escaped();
      agent.child.kill('SIGKILL');
      await once(agent.child, 'exit');
      await t.pc.close();
      c.close();
      assert.equal((await plc.processes()).filter((p) => /sleep 320[1-4]/.test(p)).length, 4, "the dead agent's processes still run");
      const again = await start(agent.stateDir);
      assert.match(again.logs, /"msg":"session of a previous agent ended"/);
      assert.deepEqual(await strays(plc), [], 'nothing of the dead agent is left');
    });
  });
}
