import { consolesRoom, type SignalingIo } from './io-types.js';
import type { Logger } from './log.js';
import type { SignalingState } from './state.js';

/**
 * Sends each organisation's agent list to this node's consoles whenever it may have changed. The
 * list is read from the shared state after the change, not carried with the notice: two nodes
 * changing it at once then cannot leave a console with the older list. Reads of one organisation
 * run one at a time, and notices that arrive during a read cause one more read, not one each.
 */
export class PresenceFanout {
  readonly #running = new Map<string, { again: boolean }>();

  constructor(
    private readonly io: SignalingIo,
    private readonly state: () => SignalingState,
    private readonly log: Logger,
  ) {}

  refresh(org: string): void {
    // Every node hears every change; one with no console of that organisation has nothing to read.
    if (!this.io.sockets.adapter.rooms.get(consolesRoom(org))?.size) return;
    const running = this.#running.get(org);
    if (running) {
      running.again = true;
      return;
    }
    const run = { again: true };
    this.#running.set(org, run);
    void (async () => {
      while (run.again) {
        run.again = false;
        try {
          const agents = await this.state().listAgents(org);
          this.io.local.to(consolesRoom(org)).emit('presence', { agents });
        } catch (error) {
          this.log.error('could not read the agent list; consoles of this node keep the previous one', { org, error });
        }
      }
      this.#running.delete(org);
    })();
  }
}
