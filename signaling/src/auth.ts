import { createHash, timingSafeEqual } from 'node:crypto';
import { err, ok, parseValue, protocolError, SignalingAuth, type Result } from '@tether/protocol';

/** Who a connection is, once its handshake token has been checked. */
export type Identity =
  | { role: 'console' }
  | { role: 'agent'; agentId: string; name: string; version: string };

export interface TokenLists {
  consoleTokens: readonly string[];
  agentTokens: readonly string[];
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * Checks a handshake's `auth` against the shared secrets of its role. Tokens are compared as
 * SHA-256 digests with timingSafeEqual, against every configured token, so that neither the length
 * nor the position of a match shows in the time taken.
 */
export function createAuthenticator(tokens: TokenLists): (auth: unknown) => Result<Identity> {
  const digests = {
    console: tokens.consoleTokens.map(digest),
    agent: tokens.agentTokens.map(digest),
  };
  return (auth) => {
    const parsed = parseValue(SignalingAuth, auth);
    if (!parsed.ok) {
      return err(protocolError('UNAUTHORIZED', `handshake auth is not valid (${parsed.error.message})`));
    }
    const presented = digest(parsed.value.token);
    let matched = false;
    for (const known of digests[parsed.value.role]) {
      matched = timingSafeEqual(presented, known) || matched;
    }
    if (!matched) return err(protocolError('UNAUTHORIZED', `token is not valid for role ${parsed.value.role}`));
    const value = parsed.value;
    return ok(
      value.role === 'console'
        ? { role: 'console' }
        : { role: 'agent', agentId: value.agentId, name: value.name, version: value.version },
    );
  };
}
