import type { ProtocolError } from '@tether/protocol';

/**
 * Where a connection to an agent stands, in the order a user sees them: the offer travels through
 * signaling, ICE finds a path, DTLS and SCTP bring up the secure channel, the agent says hello.
 */
export type ConnectionStage =
  | { kind: 'idle' }
  | { kind: 'signaling' }
  | { kind: 'ice' }
  | { kind: 'secure-channel' }
  | { kind: 'ready' }
  | { kind: 'failed'; reason: string; code?: ProtocolError['code'] }
  | { kind: 'closed' };

/** What each setup stage waits for, in the words of a timeout message; the other stages wait for nothing. */
export const SETUP_STAGE_WAITS_FOR: Partial<Record<ConnectionStage['kind'], string>> = {
  signaling: "the agent's answer",
  ice: 'a network path (ICE)',
  'secure-channel': 'the secure channel (DTLS and hello)',
};
