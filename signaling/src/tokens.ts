/**
 * Signed signaling tokens, verified without a database: `tst1.<payload>.<mac>`, where payload is
 * the base64url of a JSON object {v, role, org, sub, jti, iat, exp} (times in Unix seconds) and mac
 * the base64url HMAC-SHA256 of `tst1.<payload>` under one of the server's token secrets. The first
 * secret signs; every configured secret verifies, so a secret can be rotated without a flag day.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AgentId, err, ok, protocolError, type Result } from '@tether/protocol';

export const SIGNED_TOKEN_PREFIX = 'tst1.';
/** Shorter secrets are refused: an HMAC key must not be guessable. */
export const MIN_TOKEN_SECRET_LENGTH = 32;
/** Lifetime of an issued token when none is given. */
export const DEFAULT_TOKEN_TTL_MS = 30 * 86_400_000;
/** Clock difference tolerated between the issuing host and the server, for `iat`. */
const CLOCK_SKEW_S = 300;

/** An organisation name: the server relays only between a console and agents of the same one. */
export const OrgName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, `_`, `.` and `-`');

export const TokenClaims = z.strictObject({
  v: z.literal(1),
  role: z.enum(['console', 'agent']),
  org: OrgName,
  /** the holder: an agent's agentId, or a console's (or its user's) name */
  sub: z.string().min(1).max(128),
  /** the token's id, what a revocation names */
  jti: z
    .string()
    .min(8)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
});
export type TokenClaims = z.infer<typeof TokenClaims>;

export interface IssueRequest {
  role: 'console' | 'agent';
  org: string;
  subject: string;
  ttlMs?: number;
  now?: number;
}

const mac = (secret: string, signed: string) => createHmac('sha256', secret).update(signed, 'utf8').digest();

export const isSignedToken = (token: string) => token.startsWith(SIGNED_TOKEN_PREFIX);

/** Issues a token signed with `secret`; an error value when the request is not valid. */
export function issueToken(secret: string, request: IssueRequest): Result<{ token: string; claims: TokenClaims }, string> {
  if (secret.length < MIN_TOKEN_SECRET_LENGTH) return err(`the token secret must have at least ${MIN_TOKEN_SECRET_LENGTH} characters`);
  const now = Math.floor((request.now ?? Date.now()) / 1000);
  const ttl = Math.floor((request.ttlMs ?? DEFAULT_TOKEN_TTL_MS) / 1000);
  if (ttl <= 0) return err('the lifetime must be at least one second');
  const parsed = TokenClaims.safeParse({
    v: 1,
    role: request.role,
    org: request.org,
    sub: request.subject,
    jti: randomBytes(12).toString('base64url'),
    iat: now,
    exp: now + ttl,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return err(`${issue?.path.join('.') === 'sub' ? 'subject' : issue?.path.join('.')}: ${issue?.message}`);
  }
  if (request.role === 'agent' && !AgentId.safeParse(request.subject).success) {
    return err("an agent token's subject is the agentId it will claim: letters, digits, `_`, `.` and `-`, at most 64");
  }
  const payload = Buffer.from(JSON.stringify(parsed.data), 'utf8').toString('base64url');
  const signed = `${SIGNED_TOKEN_PREFIX}${payload}`;
  return ok({ token: `${signed}.${mac(secret, signed).toString('base64url')}`, claims: parsed.data });
}

/**
 * Verifies a signed token's MAC against every secret (in constant time each) and its lifetime.
 * The claims on success; UNAUTHORIZED with a sentence saying why otherwise.
 */
export function verifyToken(token: string, secrets: readonly string[], now = Date.now()): Result<TokenClaims> {
  const refuse = (why: string) => err(protocolError('UNAUTHORIZED', why));
  const parts = token.split('.');
  if (parts.length !== 3 || `${parts[0]}.` !== SIGNED_TOKEN_PREFIX) return refuse('the token is not a tst1 token');
  const signed = `${parts[0]}.${parts[1]}`;
  const presented = Buffer.from(parts[2]!, 'base64url');
  let matched = false;
  for (const secret of secrets) {
    const expected = mac(secret, signed);
    matched = (presented.length === expected.length && timingSafeEqual(presented, expected)) || matched;
  }
  if (!matched) return refuse('the token signature is not valid');
  const json = decodePayload(parts[1]!);
  if (!json.ok) return refuse(json.error);
  const claims = TokenClaims.safeParse(json.value);
  if (!claims.success) return refuse('the token payload is not valid');
  const seconds = Math.floor(now / 1000);
  if (claims.data.exp <= seconds) return refuse(`the token expired at ${new Date(claims.data.exp * 1000).toISOString()}; issue a new one`);
  if (claims.data.iat > seconds + CLOCK_SKEW_S) return refuse('the token is issued in the future; check the clocks');
  return ok(claims.data);
}

function decodePayload(part: string): Result<unknown, string> {
  try {
    return ok(JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown);
  } catch (cause) {
    return err(`the token payload is not JSON (${(cause as Error).message})`);
  }
}

/** The jti of a token, read without verifying it (for `token revoke <token>`). */
export function tokenId(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!isSignedToken(token) || payload === undefined) return undefined;
  const json = decodePayload(payload);
  const claims = json.ok ? TokenClaims.safeParse(json.value) : undefined;
  return claims?.success ? claims.data.jti : undefined;
}
