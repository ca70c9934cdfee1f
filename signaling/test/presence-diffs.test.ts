/**
 * Presence as snapshot and diffs, property-based (issue 20): the server's `PresenceFeed` and a
 * console's `PresenceReplica`, through random joins, updates and leaves, batches of any size, diffs
 * lost on the way (the console sees the gap and asks for a snapshot) and consoles that arrive
 * midway. Whatever happens, once the last diff is delivered every console holds exactly the list
 * the server holds. The feed's socket.io side is a stand-in that records what it emits (the real
 * server is exercised in presence.test.ts and scale-out.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PresenceReplica, type AgentInfo, type PresenceDiff } from '@tether/protocol';
import type { SignalingIo } from '../src/io-types.js';
import { PresenceFeed } from '../src/presence-feed.js';
import { fuzzParameters } from '../../harness/fuzz.js';

const ORG = 'acme';

/** What the feed needs of Socket.IO: a room of consoles to emit to. */
function recordingIo(sent: PresenceDiff[]): SignalingIo {
  const room = {
    emit: (event: string, diff: PresenceDiff) => {
      assert.equal(event, 'presence:diff');
      sent.push(structuredClone(diff));
      return true;
    },
  };
  return {
    local: { to: () => room },
    sockets: { adapter: { rooms: new Map([[`consoles:${ORG}`, new Set(['c'])]]) } },
  } as unknown as SignalingIo;
}

type Step =
  | { kind: 'join'; id: number; name: string }
  | { kind: 'leave'; id: number }
  | { kind: 'flush' }
  | { kind: 'lose-next'; console: number }
  | { kind: 'new-console' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('join' as const), id: fc.nat(30), name: fc.constantFrom('a', 'b', 'c') }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('leave' as const), id: fc.nat(30) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose-next' as const), console: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'new-console' as const }) },
);

/** A console: its replica, and whether it will lose the next diff sent to it. */
interface TestConsole {
  replica: PresenceReplica;
  loseNext: boolean;
  resyncs: number;
}

test('every console ends with exactly the server list, through random changes, lost diffs and late consoles', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
      const sent: PresenceDiff[] = [];
      const feed = new PresenceFeed(recordingIo(sent), 60_000);
      const truth = new Map<string, AgentInfo>();
      const consoles: TestConsole[] = [];
      const join = () => {
        const replica = new PresenceReplica();
        replica.applySnapshot(feed.snapshot(ORG));
        consoles.push({ replica, loseNext: false, resyncs: 0 });
      };
      const deliver = () => {
        for (const diff of sent.splice(0)) {
          for (const c of consoles) {
            if (c.loseNext) {
              c.loseNext = false;
              continue;
            }
            const outcome = c.replica.applyDiff(diff);
            if (outcome.kind === 'gap' && outcome.expected !== undefined) {
              // What a console does: ask again; the server answers with its snapshot.
              c.resyncs++;
              c.replica.reset();
              c.replica.applySnapshot(feed.snapshot(ORG));
            }
          }
        }
      };
      join();
      for (const s of steps) {
        if (s.kind === 'join') {
          const agent = { agentId: `plc-${s.id}`, name: s.name, version: '1' };
          truth.set(agent.agentId, agent);
          feed.apply(ORG, [agent], []);
        } else if (s.kind === 'leave') {
          truth.delete(`plc-${s.id}`);
          feed.apply(ORG, [], [`plc-${s.id}`]);
        } else if (s.kind === 'flush') {
          feed.flushAll();
          deliver();
        } else if (s.kind === 'lose-next') {
          const c = consoles[s.console % consoles.length];
          if (c) c.loseNext = true;
        } else join();
      }
      feed.flushAll();
      deliver();
      // A console that lost the very last diff sees the gap only with the next one, sent over a
      // channel that loses nothing now: one more change tells it.
      for (const c of consoles) c.loseNext = false;
      const marker = { agentId: 'plc-marker', name: 'm', version: '1' };
      truth.set(marker.agentId, marker);
      feed.apply(ORG, [marker], []);
      feed.flushAll();
      deliver();
      const expected = [...truth.values()].sort((a, b) => a.agentId.localeCompare(b.agentId));
      assert.deepEqual(
        feed.snapshot(ORG).agents.sort((a, b) => a.agentId.localeCompare(b.agentId)),
        expected,
      );
      for (const c of consoles) {
        assert.deepEqual(
          [...c.replica.agents.values()].sort((a, b) => a.agentId.localeCompare(b.agentId)),
          expected,
        );
      }
      feed.close();
    }),
    fuzzParameters(300),
  );
});

test('a diff carries each changed agent once, its last change winning, and seq counts diffs', () => {
  const sent: PresenceDiff[] = [];
  const feed = new PresenceFeed(recordingIo(sent), 60_000);
  feed.apply(ORG, [{ agentId: 'a', name: 'A', version: '1' }], []);
  feed.apply(ORG, [{ agentId: 'b', name: 'B', version: '1' }], []);
  feed.apply(ORG, [], ['a']);
  feed.apply(ORG, [{ agentId: 'b', name: 'B2', version: '1' }], []);
  feed.flushAll();
  feed.apply(ORG, [], ['b']);
  feed.apply(ORG, [], ['never-listed']);
  feed.flushAll();
  feed.flushAll();
  assert.deepEqual(sent, [
    { seq: 1, joins: [{ agentId: 'b', name: 'B2', version: '1' }], leaves: ['a'] },
    { seq: 2, joins: [], leaves: ['b'] },
  ]);
  assert.deepEqual(feed.snapshot(ORG), { seq: 2, agents: [] });
  feed.close();
});
