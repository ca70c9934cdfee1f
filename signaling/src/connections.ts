import { ok, PRESENCE_RESYNC_INTERVAL_MS, PresenceResync } from '@tether/protocol';
import type { Cluster } from './cluster.js';
import type { DeferredWork } from './deferred-work.js';
import { handle } from './inbound.js';
import { consolesRoom, type SignalingIo, type SignalingSocket } from './io-types.js';
import type { Logger } from './log.js';
import type { PresenceFeed } from './presence-feed.js';
import type { Relay } from './relay.js';
import type { SerialQueues } from './serial-queues.js';

/**
 * The life of one authenticated connection: a console joins its organisation's room and gets its
 * presence snapshot, then the diffs sent to that room; an agent is registered in the shared state (replacing an older connection with its
 * agentId, on whichever node) and the organisation's consoles are told. Registration and cleanup
 * run in the connection's queue, so that a cleanup never overtakes its registration. A closed
 * connection's cleanup is deferred (`DeferredWork`): a burst of closes is cleaned up in chunks.
 */
export class Connections {
  constructor(
    private readonly io: SignalingIo,
    private readonly cluster: () => Cluster,
    private readonly relay: Relay,
    private readonly queues: SerialQueues,
    private readonly presence: PresenceFeed,
    private readonly log: Logger,
    /** true while ending connections should tell the other ends (not while this node goes away) */
    private readonly notifyPeers: () => boolean,
    /** where a closed connection's cleanup waits: a burst of departures is handled in chunks */
    private readonly deferred: DeferredWork,
  ) {}

  accept(socket: SignalingSocket): void {
    if (socket.data.identity.role === 'console') this.#console(socket);
    else this.#agent(socket);
  }

  #console(socket: SignalingSocket): void {
    const { org, jti } = socket.data.identity;
    this.log.info('console connected', { socketId: socket.id, address: socket.handshake.address, org, jti });
    // In one step: every diff sent to the room from now on follows this snapshot.
    void socket.join(consolesRoom(org));
    socket.emit('presence:snapshot', this.presence.snapshot(org));
    this.relay.attachConsole(socket);
    // At most one snapshot a second per console: one asked for sooner is sent when the second is
    // up (a console that saw two gaps in a second still gets its list), and asks while it waits
    // add nothing.
    let resyncedAt = Number.NEGATIVE_INFINITY;
    let pendingResync: NodeJS.Timeout | undefined;
    const sendSnapshot = () => {
      pendingResync = undefined;
      resyncedAt = performance.now();
      if (socket.connected) socket.emit('presence:snapshot', this.presence.snapshot(org));
    };
    handle(socket, 'presence:resync', PresenceResync, { log: this.log, queues: this.queues }, async () => {
      if (pendingResync) return ok(undefined);
      const wait = resyncedAt + PRESENCE_RESYNC_INTERVAL_MS - performance.now();
      if (wait <= 0) sendSnapshot();
      else pendingResync = setTimeout(sendSnapshot, wait);
      return ok(undefined);
    });
    socket.on('disconnect', () => clearTimeout(pendingResync));
    this.#run(socket, 'register console', () => this.cluster().connectionOpened(socket.id));
    socket.on('disconnect', (reason) => {
      const notify = this.notifyPeers();
      this.deferred.push(() => {
        this.log.info('console disconnected', { socketId: socket.id, reason });
        this.#run(socket, 'forget console', async () => {
          await this.relay.consoleGone(socket.id, notify);
          await this.cluster().connectionClosed(socket.id);
        });
      });
    });
  }

  #agent(socket: SignalingSocket): void {
    const identity = socket.data.identity;
    if (identity.role !== 'agent') return;
    const { org, jti, agentId, name, version } = identity;
    this.relay.attachAgent(socket);
    this.#run(socket, 'register agent', async () => {
      const cluster = this.cluster();
      await cluster.connectionOpened(socket.id);
      const replaced = await cluster.state.addAgent(socket, org, { agentId, name, version });
      this.log.info('agent connected', { socketId: socket.id, agentId, name, version, address: socket.handshake.address, org, jti });
      if (replaced) {
        this.log.warn('agent replaced by a newer connection', { agentId, oldSocketId: replaced.id, socketId: socket.id });
        // Through the adapter: the older connection may be on another node.
        this.io
          .to(replaced.id)
          .emit('signal:error', { code: 'FORBIDDEN', message: `a newer connection with agentId ${agentId} replaced this one` });
        this.io.in(replaced.id).disconnectSockets(true);
      }
    });
    socket.on('disconnect', (reason) => {
      const notify = this.notifyPeers();
      this.deferred.push(() => {
        this.log.info('agent disconnected', { socketId: socket.id, agentId, org, reason });
        this.#run(socket, 'forget agent', async () => {
          const cluster = this.cluster();
          await cluster.state.removeAgent(socket, org, agentId);
          await this.relay.agentGone(socket.id, notify);
          await cluster.connectionClosed(socket.id);
        });
      });
    });
  }

  /** Queues a step of the connection's life; a failure (the shared store unreachable) is logged, and ends a live connection so that it starts again. */
  #run(socket: SignalingSocket, step: string, task: () => Promise<void>): void {
    void this.queues.run(socket, async () => {
      try {
        await task();
      } catch (error) {
        this.log.error(`could not ${step}`, { socketId: socket.id, error: (error as Error).message });
        if (socket.connected) socket.disconnect(true);
      }
    });
  }
}
