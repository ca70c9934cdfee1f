/**
 * The signaling server's settings for the connection bounds it shares with the agent's LAN endpoint
 * (`@tether/socket-bounds`): its default per-address limit, and the words its logs and refusals use.
 */
import type { OutboundWords, PerAddressWords } from '@tether/socket-bounds';

/**
 * Connections one address may hold by default (`--max-connections-per-address`). Generous: a site
 * behind one NAT address may have hundreds of agents, and every test connects from 127.0.0.1. It
 * stops one address from opening sockets without end, not from opening many.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1024;

export const PER_ADDRESS_WORDS: PerAddressWords = {
  transportRefused: 'transport refused: too many connections from one address',
  // The same message as a refused token: one search finds every refused connection.
  connectionRefused: 'connection refused',
  refusal: (address, limit) =>
    `too many connections from ${address} (at most ${limit}); close some, or ask the operator to raise --max-connections-per-address`,
};

export const OUTBOUND_WORDS: OutboundWords = {
  closed: 'connection closed',
  ended: 'connection ended: it does not read what the server sends',
};
