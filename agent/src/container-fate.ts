/**
 * What became of a session's container when its shell ended: a shell that ends because its
 * container stopped, restarted or was removed (a PLC program update, an orchestrator, a crash with
 * a restart policy) is reported as such, not as a shell that exited with 137 on its own.
 */
import type { ContainerFate } from '@tether/protocol';
import { dockerStatus, withDeadline, DOCKER_REQUEST_TIMEOUT_MS } from './deadline.js';
import type { ResolvedTarget } from './docker-targets.js';

/**
 * A shell killed with its container (SIGKILL or SIGTERM: 137, 143; or no code) can end a moment
 * before Docker records the container's stop, and a container stopped by `docker restart` runs again
 * a moment after: it is asked again every FATE_POLL_MS for FATE_WAIT_MS. Any other exit is asked once.
 */
const FATE_POLL_MS = 100;
const FATE_WAIT_MS = 2000;

/** undefined: the container runs as when the session opened, or the engine could not be asked. */
export async function containerFate(target: ResolvedTarget, exitCode: number | null): Promise<ContainerFate | undefined> {
  const killed = exitCode === null || exitCode === 137 || exitCode === 143;
  const until = performance.now() + (killed ? FATE_WAIT_MS : 0);
  for (;;) {
    let state: { Running: boolean; Restarting: boolean; StartedAt: string };
    try {
      state = (await withDeadline(target.container.inspect(), DOCKER_REQUEST_TIMEOUT_MS, 'inspecting the container')).State;
    } catch (cause) {
      return dockerStatus(cause) === 404 ? 'removed' : undefined;
    }
    if (state.Restarting || (target.startedAt !== undefined && state.StartedAt !== target.startedAt)) return 'restarted';
    // Stopped: `docker restart` starts it again a moment later, so a killed shell's container is
    // watched until the deadline before it is called stopped.
    if (performance.now() >= until) return state.Running ? undefined : 'stopped';
    await new Promise((resolve) => setTimeout(resolve, FATE_POLL_MS));
  }
}
