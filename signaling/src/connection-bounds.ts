/**
 * The signaling server's settings for the connection bounds it shares with the agent's LAN endpoint
 * (`@tether/socket-bounds`): its default per-address limit, and the words its logs and refusals use.
 */
import type { InboundWords, OutboundWords, PerAddressWords } from '@tether/socket-bounds';

/**
 * Connections one address may hold by default (`--max-connections-per-address`). Generous: a site
 * behind one NAT address may have hundreds of agents, and every test connects from 127.0.0.1. It
 * stops one address from opening sockets without end, not from opening many.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1024;

/**
 * Transports one address may have waiting for authentication at once, at most. A handshake takes
 * one round trip, so even a site's whole fleet behind one NAT address coming back at once rarely
 * has this many in flight, and those refused retry with their backoff; an attacker's transports
 * from one address hold at most this many times MAX_INBOUND_BYTES_BEFORE_AUTH.
 */
export const MAX_HANDSHAKES_PER_ADDRESS = 128;

/** The handshake bound for a per-address connection limit: off with it, never above its transports (twice the limit). */
export function handshakesPerAddress(limit: number): number {
  return limit === 0 ? 0 : Math.min(2 * limit, MAX_HANDSHAKES_PER_ADDRESS);
}

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

export const INBOUND_WORDS: InboundWords = {
  ended: 'transport ended: it sent what the server does not hold',
  refused: 'transport refused: too many connections from one address waiting to authenticate',
};
