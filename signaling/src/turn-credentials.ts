/**
 * Time-limited TURN credentials, in the TURN REST API scheme that coturn checks with
 * `use-auth-secret` / `static-auth-secret`: username `<expiry Unix seconds>:<user id>`, credential
 * base64(HMAC-SHA1(secret, username)). coturn recomputes the credential from the username and
 * refuses a username whose expiry has passed, so the server needs no shared state with it.
 */
import { createHmac } from 'node:crypto';
import type { TurnCredentials } from '@tether/protocol';
import type { Identity } from './auth.js';
import type { SignalingSocket } from './io-types.js';
import type { Logger } from './log.js';

/** Lifetime of issued TURN credentials when none is configured: one hour. */
export const DEFAULT_TURN_TTL_SECONDS = 3600;
/** Longest lifetime accepted: a week (a leaked credential stays usable that long). */
export const MAX_TURN_TTL_SECONDS = 7 * 86_400;

export interface TurnOptions {
  /** `turn:` / `turns:` URLs handed to clients, e.g. `turn:turn.example:3478?transport=udp` */
  urls: readonly string[];
  /** coturn's `static-auth-secret` */
  secret: string;
  /** lifetime of each credential, seconds (1..MAX_TURN_TTL_SECONDS) */
  ttlSeconds: number;
}

/** coturn splits the username at the first `:`; keep the user id free of it. */
function safeUserId(userId: string): string {
  return userId.replace(/[^A-Za-z0-9_.@-]/g, '_').slice(0, 200);
}

/** Credentials for `userId`, valid from `nowMs` for the configured lifetime. */
export function issueTurnCredentials(options: TurnOptions, userId: string, nowMs = Date.now()): TurnCredentials {
  const expiry = Math.floor(nowMs / 1000) + options.ttlSeconds;
  const username = `${expiry}:${safeUserId(userId)}`;
  const credential = createHmac('sha1', options.secret).update(username, 'utf8').digest('base64');
  return {
    iceServers: [{ urls: [...options.urls], username, credential }],
    expiresAt: expiry * 1000,
    ttlSeconds: options.ttlSeconds,
  };
}

/** Who a credential is for, as it shows in coturn's log: role, organisation and agent id or token id. */
export function turnUserId(identity: Identity, socketId: string): string {
  const who = identity.role === 'agent' ? identity.agentId : (identity.jti ?? socketId);
  return `${identity.role}.${identity.org}.${who}`;
}

/**
 * Sends a connection its credentials now, and fresh ones each time half of their lifetime has
 * passed, so that what a client holds is always valid for at least half the TTL. Stops on disconnect.
 */
export function deliverTurnCredentials(socket: SignalingSocket, options: TurnOptions, log: Logger): void {
  const userId = turnUserId(socket.data.identity, socket.id);
  const send = () => {
    const credentials = issueTurnCredentials(options, userId);
    socket.emit('turn:credentials', credentials);
    log.debug('TURN credentials sent', { socketId: socket.id, user: userId, expiresAt: new Date(credentials.expiresAt).toISOString() });
  };
  send();
  const timer = setInterval(send, Math.max(500, (options.ttlSeconds * 1000) / 2));
  timer.unref();
  socket.on('disconnect', () => clearInterval(timer));
}
