/**
 * Presence as a console keeps it, for tests and the bench (protocol/README.md, "Presence"): a
 * socket.io-client socket's snapshot and diffs applied to a `PresenceReplica`.
 */
import type { Socket } from 'socket.io-client';
import { PresenceDiff, PresenceReplica, PresenceSnapshot, type AgentInfo } from '@tether/protocol';

/**
 * A console's presence as a client keeps it (protocol/README.md, "Presence"): the snapshot, then
 * the diffs in order, a fresh snapshot asked for on a gap. Attach it before the socket connects.
 */
export class PresenceWatch {
  readonly replica = new PresenceReplica();
  readonly diffs: PresenceDiff[] = [];
  gaps = 0;
  readonly #waiters = new Set<() => void>();

  constructor(readonly socket: Socket) {
    socket.on('presence:snapshot', (raw: unknown) => {
      this.replica.applySnapshot(PresenceSnapshot.parse(raw));
      this.#changed();
    });
    socket.on('presence:diff', (raw: unknown) => {
      const diff = PresenceDiff.parse(raw);
      this.diffs.push(diff);
      const outcome = this.replica.applyDiff(diff);
      if (outcome.kind === 'gap' && outcome.expected !== undefined) {
        this.gaps++;
        this.replica.reset();
        socket.emit('presence:resync', {}, () => undefined);
      }
      this.#changed();
    });
  }

  /** The agents listed now, by agentId. */
  agents(): AgentInfo[] {
    return [...this.replica.agents.values()].sort((a, b) => a.agentId.localeCompare(b.agentId));
  }

  ids(): string[] {
    return this.agents().map((agent) => agent.agentId);
  }

  /** Resolves with the agentIds once `check` holds for them, or rejects after `timeoutMs`. */
  until(check: (agentIds: string[]) => boolean, timeoutMs = 3000): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const test = () => {
        if (this.replica.seq === undefined || !check(this.ids())) return;
        clearTimeout(timer);
        this.#waiters.delete(test);
        resolve(this.ids());
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(test);
        reject(
          new Error(
            `presence did not become what was expected within ${timeoutMs} ms; it is ${this.ids().length} agents, first ${JSON.stringify(this.ids().slice(0, 20))}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(test);
      test();
    });
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

const watches = new WeakMap<Socket, PresenceWatch>();

/** The socket's PresenceWatch, made on first use (before the socket connects). */
export function presenceOf(socket: Socket): PresenceWatch {
  let watch = watches.get(socket);
  if (!watch) watches.set(socket, (watch = new PresenceWatch(socket)));
  return watch;
}
