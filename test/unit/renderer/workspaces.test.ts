/**
 * Saved workspaces (renderer/src/workspace/workspaces.ts) over a host API that stores in memory:
 * saving under a name that exists replaces it, the list is sorted by name, and a save the host
 * refuses (or one beyond what the host keeps) is an error that leaves the list as it was.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TetherApi, Workspace } from '../../../renderer/src/host/host.js';
import { MAX_WORKSPACES, Workspaces } from '../../../renderer/src/workspace/workspaces.js';

function memoryHost(initial: Workspace[] = []): { api: TetherApi; stored: () => Workspace[]; failNext: () => void } {
  let stored = initial;
  let fail = false;
  const api = {
    workspaces: {
      list: async () => stored,
      save: async (workspaces: Workspace[]) => {
        if (fail) {
          fail = false;
          throw new Error('disk full');
        }
        stored = workspaces;
      },
    },
  } as unknown as TetherApi;
  return { api, stored: () => stored, failNext: () => void (fail = true) };
}

const workspace = (name: string, tabs = 1): Workspace => ({
  name,
  tabs: Array.from({ length: tabs }, (_, i) => ({ agentId: 'plc-1', agentName: 'line 1', target: `press-${i}` })),
});

async function loaded(host: TetherApi): Promise<Workspaces> {
  const workspaces = new Workspaces(host);
  await new Promise<void>((resolve) => workspaces.onChange(() => resolve()));
  return workspaces;
}

test('a name saved again replaces its workspace; the list is sorted by name and stored', async () => {
  const host = memoryHost([workspace('night')]);
  const workspaces = await loaded(host.api);
  await workspaces.save(workspace('morning', 2));
  await workspaces.save(workspace('morning', 3));
  assert.deepEqual(
    workspaces.list().map((w) => [w.name, w.tabs.length]),
    [
      ['morning', 3],
      ['night', 1],
    ],
  );
  assert.deepEqual(host.stored(), workspaces.list());
  await workspaces.remove('night');
  assert.deepEqual(
    host.stored().map((w) => w.name),
    ['morning'],
  );
});

test('a save the host refuses, or one beyond what it keeps, is an error and changes nothing', async () => {
  const full = Array.from({ length: MAX_WORKSPACES }, (_, i) => workspace(`w${String(i).padStart(3, '0')}`));
  const host = memoryHost(full);
  const workspaces = await loaded(host.api);
  await assert.rejects(workspaces.save(workspace('one more')), /at most 100 workspaces/);
  assert.equal(workspaces.list().length, MAX_WORKSPACES);
  await workspaces.save(workspace('w000', 2)); // a replacement is no new one
  host.failNext();
  await assert.rejects(workspaces.remove('w001'), /disk full/);
  assert.ok(workspaces.get('w001'), 'still listed: the host did not store the change');
  assert.equal(workspaces.get('w000')?.tabs.length, 2);
});
