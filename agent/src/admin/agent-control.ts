/** The running agent's side of the control socket: what it tells `pair`, from its configuration. */
import { networkInterfaces } from 'node:os';
import type { AgentConfig } from '../config.js';
import { createLogger } from '../log.js';
import type { ConsoleRegistry } from '../trust/consoles.js';
import { PairingStore } from '../trust/pairings.js';
import { listenControlSocket, type ControlSocket } from './control-socket.js';

const log = createLogger(import.meta.url);

function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) =>
    (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address),
  );
}

/** Endpoints for a pairing token from a listening address: this host's own addresses for a wildcard. */
export function endpointsFor(host: string | undefined, port: number): string[] {
  const hosts = host && host !== '0.0.0.0' && host !== '::' ? [host] : hostAddresses();
  return hosts.map((h) => (h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`));
}

/** The host part of `--lan-listen` (`[::1]:7301` → `::1`). */
export const listenHost = (listen: string) => listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');

/**
 * Opens the control socket for a started agent; undefined (and a warning in the log) when it
 * cannot, in which case `pair` and `consoles revoke` refuse rather than write beside the agent.
 */
export async function startAgentControl(
  config: AgentConfig,
  fingerprint: string,
  consoles: ConsoleRegistry,
  lanPort: () => number | undefined,
): Promise<ControlSocket | undefined> {
  const opened = await listenControlSocket(config.stateDir, {
    pairings: new PairingStore(config.stateDir),
    consoles,
    describe: () => {
      const port = lanPort();
      const endpoints =
        config.lanEndpoints.length > 0
          ? config.lanEndpoints
          : port !== undefined && config.lanListen
            ? endpointsFor(listenHost(config.lanListen), port)
            : [];
      return {
        agentId: config.agentId,
        name: config.name,
        fingerprint,
        endpoints: endpoints.slice(0, 8),
        lanListening: port !== undefined,
      };
    },
  });
  if (opened.ok) return opened.value;
  log.warn('no control socket: tether-agent pair and consoles cannot reach this agent', { error: opened.error });
  return undefined;
}
