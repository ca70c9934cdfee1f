import { createHash, timingSafeEqual } from 'node:crypto';
import { err, ok, parseValue, protocolError, SignalingAuth, type Result } from '@tether/protocol';
import { isSignedToken, verifyToken } from './tokens.js';

/** The organisation of every connection that presented a legacy shared-secret token. */
export const LEGACY_ORG = 'default';

/** Who a connection is, once its handshake token has been checked. */
export type Identity = ({ role: 'console' } | { role: 'agent'; agentId: string; name: string; version: string }) & {
  /** the organisation; presence and relay never cross it */
  org: string;
  /** the signed token's id and expiry (Unix seconds); absent for legacy shared-secret tokens */
  jti?: string;
  exp?: number;
};

export interface TokenLists {
  /** legacy shared secrets, organisation `default` */
  consoleTokens: readonly string[];
  agentTokens: readonly string[];
  /** HMAC secrets of signed tokens: every one verifies */
  tokenSecrets?: readonly string[];
  /** true when a signed token's id was revoked */
  isRevoked?: (jti: string) => boolean;
  now?: () => number;
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * Checks a handshake's `auth`: a signed token (`tst1.…`) by its MAC, lifetime, role, revocation and,
 * for an agent, that its subject is the agentId it claims; any other token against the legacy shared
 * secrets of its role, compared as SHA-256 digests with timingSafeEqual against every configured
 * token, so that neither the length nor the position of a match shows in the time taken.
 */
export function createAuthenticator(tokens: TokenLists): (auth: unknown) => Result<Identity> {
  const digests = {
    console: tokens.consoleTokens.map(digest),
    agent: tokens.agentTokens.map(digest),
  };
  const secrets = tokens.tokenSecrets ?? [];
  const now = tokens.now ?? Date.now;
  return (auth) => {
    const parsed = parseValue(SignalingAuth, auth);
    if (!parsed.ok) {
      return err(protocolError('UNAUTHORIZED', `handshake auth is not valid (${parsed.error.message})`));
    }
    const value = parsed.value;
    const who =
      value.role === 'console'
        ? { role: 'console' as const }
        : { role: 'agent' as const, agentId: value.agentId, name: value.name, version: value.version };
    if (secrets.length > 0 && isSignedToken(value.token)) {
      const verified = verifyToken(value.token, secrets, now());
      if (!verified.ok) return verified;
      const claims = verified.value;
      if (claims.role !== value.role) return err(protocolError('UNAUTHORIZED', `token is not valid for role ${value.role}`));
      if (tokens.isRevoked?.(claims.jti)) return err(protocolError('UNAUTHORIZED', `token ${claims.jti} was revoked`));
      if (value.role === 'agent' && claims.sub !== value.agentId) {
        return err(protocolError('UNAUTHORIZED', `this token is for agent ${claims.sub}, not ${value.agentId}`));
      }
      return ok({ ...who, org: claims.org, jti: claims.jti, exp: claims.exp });
    }
    const presented = digest(value.token);
    let matched = false;
    for (const known of digests[value.role]) {
      matched = timingSafeEqual(presented, known) || matched;
    }
    if (!matched) return err(protocolError('UNAUTHORIZED', `token is not valid for role ${value.role}`));
    return ok({ ...who, org: LEGACY_ORG });
  };
}
