import { z } from 'zod';
import { err, ok, protocolError, type Result } from './errors.js';
import { fromBase64Url, fromColonHex, toBase64Url, toColonHex, utf8Decode, utf8Encode } from './encoding.js';
import { AgentId } from './signaling.js';

/**
 * Offline pairing (protocol/README.md, "Pairing and trust"): the token `tether-agent pair`
 * prints, and the exact byte strings that are MACed and signed. The crypto itself (HMAC-SHA256,
 * ECDSA P-256) runs on each side: WebCrypto in the console, node:crypto in the agent.
 */

/** The first token format: `tether1:` + base64url of compact JSON. Still accepted. */
export const PAIRING_TOKEN_PREFIX = 'tether1:';

/**
 * The token format `tether-agent pair` prints: `tether2:` + base64url of the same fields packed as
 * bytes (about 140 characters instead of 250). The fingerprint (32 bytes) and the secret (16) are
 * carried whole, as in `tether1:`: only the JSON and its text encodings are gone.
 */
export const PAIRING_TOKEN_PREFIX_V2 = 'tether2:';

/** Default lifetime of a pairing token. */
export const PAIRING_TTL_MS = 10 * 60 * 1000;

/** Bytes of the one-time secret (128 bits). */
export const PAIRING_SECRET_BYTES = 16;

/** A SHA-256 fingerprint as SDP writes it: 32 bytes in colon hex, upper case when canonical. */
export const Fingerprint = z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$/, 'a SHA-256 fingerprint in colon hex');

/** `host:port`, host an IPv4 address, a DNS name or a bracketed IPv6 address. */
export const LanEndpoint = z
  .string()
  .max(262)
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):\d{1,5}$/, 'host:port');

/** base64url text, unpadded, of at most `max` characters. */
export const Base64Url = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, 'base64url');

/** The decoded pairing token. */
export const PairingToken = z.object({
  version: z.literal(1),
  /** names the pending pairing on the agent (8 random bytes, base64url) */
  pairingId: Base64Url(8, 32),
  agentId: AgentId,
  name: z.string().min(1).max(64),
  endpoints: z.array(LanEndpoint).max(8),
  /** the agent's DTLS certificate fingerprint, canonical colon hex */
  fingerprint: Fingerprint,
  /** the one-time secret, base64url of PAIRING_SECRET_BYTES bytes */
  secret: Base64Url(22, 64),
  /** Unix time in milliseconds after which the agent refuses the token */
  expiresAt: z.number().int().positive(),
});
export type PairingToken = z.infer<typeof PairingToken>;

/** The compact JSON inside the token text (one-letter keys keep the QR code small). */
const WireToken = z.object({
  v: z.literal(1),
  i: z.string(),
  a: z.string(),
  n: z.string(),
  e: z.array(z.string()),
  f: z.string(),
  s: z.string(),
  x: z.number(),
});

/** `tether1:` + base64url(UTF-8 JSON {v,i,a,n,e,f (fingerprint bytes, base64url),s,x (seconds)}): the first format, for old agents' tokens and the test vectors. */
export function encodePairingTokenV1(token: PairingToken): string {
  const fingerprint = fromColonHex(token.fingerprint)!;
  const wire = {
    v: 1,
    i: token.pairingId,
    a: token.agentId,
    n: token.name,
    e: token.endpoints,
    f: toBase64Url(fingerprint),
    s: token.secret,
    x: Math.ceil(token.expiresAt / 1000),
  };
  return PAIRING_TOKEN_PREFIX + toBase64Url(utf8Encode(JSON.stringify(wire)));
}

/** The bytes of base64url text that encodes them canonically (what the agent generates); undefined otherwise. */
function canonicalBytes(text: string): Uint8Array | undefined {
  const bytes = fromBase64Url(text);
  return bytes && toBase64Url(bytes) === text ? bytes : undefined;
}

/**
 * The token as `tether-agent pair` prints it: `tether2:` + base64url of
 * `[len][pairingId bytes] [len][agentId UTF-8] [len][name UTF-8] [count] endpoints
 * [32 fingerprint bytes] [len][secret bytes] [expiry, Unix seconds, uint32 big-endian]`, each
 * endpoint `4` + 4 address bytes + 2 port bytes for IPv4, else `0` + [len][UTF-8 host:port].
 * pairingId and secret travel as their bytes, so they must be canonical base64url (as the agent
 * makes them). Fields that do not fit this layout (a host name over 255 bytes, a hand-made id)
 * get the `tether1:` form instead, which every console reads.
 */
export function encodePairingToken(token: PairingToken): string {
  return encodePairingTokenV2(token) ?? encodePairingTokenV1(token);
}

function encodePairingTokenV2(token: PairingToken): string | undefined {
  const out: number[] = [];
  let fits = true;
  const bytes = (b: Uint8Array) => {
    if (b.length > 255) fits = false;
    out.push(b.length & 0xff, ...b);
  };
  const pairingId = canonicalBytes(token.pairingId);
  const secret = canonicalBytes(token.secret);
  const fingerprint = fromColonHex(token.fingerprint);
  if (!pairingId || !secret || fingerprint?.length !== 32 || token.endpoints.length > 255) return undefined;
  bytes(pairingId);
  bytes(utf8Encode(token.agentId));
  bytes(utf8Encode(token.name));
  out.push(token.endpoints.length);
  for (const endpoint of token.endpoints) {
    const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(endpoint);
    const parts = v4?.slice(1).map(Number);
    const canonical =
      parts && parts.slice(0, 4).every((n) => n <= 255) && parts[4]! <= 65535 && `${parts.slice(0, 4).join('.')}:${parts[4]}` === endpoint;
    if (canonical) out.push(4, ...parts.slice(0, 4), parts[4]! >> 8, parts[4]! & 0xff);
    else {
      out.push(0);
      bytes(utf8Encode(endpoint));
    }
  }
  out.push(...fingerprint);
  bytes(secret);
  const seconds = Math.ceil(token.expiresAt / 1000);
  if (!fits || seconds > 0xffffffff) return undefined;
  out.push((seconds >>> 24) & 0xff, (seconds >>> 16) & 0xff, (seconds >>> 8) & 0xff, seconds & 0xff);
  return PAIRING_TOKEN_PREFIX_V2 + toBase64Url(Uint8Array.from(out));
}

const DAMAGED = 'pairing token is damaged (check for a typing error)';

/** The fields of a `tether2:` body, or undefined when the bytes do not have its layout exactly. */
function unpackV2(body: Uint8Array): Record<string, unknown> | undefined {
  let at = 0;
  const take = (n: number): Uint8Array | undefined => (at + n <= body.length ? body.subarray(at, (at += n)) : undefined);
  const field = () => {
    const length = take(1)?.[0];
    return length === undefined ? undefined : take(length);
  };
  const pairingId = field();
  const agentId = field();
  const name = field();
  const count = take(1)?.[0];
  if (!pairingId || !agentId || !name || count === undefined || count > 8) return undefined;
  const endpoints: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = take(1)?.[0];
    if (kind === 4) {
      const v4 = take(6);
      if (!v4) return undefined;
      endpoints.push(`${v4[0]}.${v4[1]}.${v4[2]}.${v4[3]}:${(v4[4]! << 8) | v4[5]!}`);
    } else if (kind === 0) {
      const text = field();
      const host = text && utf8Decode(text);
      if (host === undefined) return undefined;
      endpoints.push(host);
    } else return undefined;
  }
  const fingerprint = take(32);
  const secret = field();
  const expiry = take(4);
  if (!fingerprint || !secret || !expiry || at !== body.length) return undefined;
  const agent = utf8Decode(agentId);
  const label = utf8Decode(name);
  if (agent === undefined || label === undefined) return undefined;
  return {
    version: 1,
    pairingId: toBase64Url(pairingId),
    agentId: agent,
    name: label,
    endpoints,
    fingerprint: toColonHex(fingerprint),
    secret: toBase64Url(secret),
    expiresAt: (((expiry[0]! << 24) >>> 0) + ((expiry[1]! << 16) | (expiry[2]! << 8) | expiry[3]!)) * 1000,
  };
}

/**
 * Parses pasted or scanned token text, `tether2:` or the older `tether1:`. White space anywhere is
 * ignored: a token copied from a terminal that wrapped it (tmux, a serial console) arrives with
 * line breaks and indentation, and neither base64url nor the prefix contains white space, so
 * nothing a token pins is weakened.
 */
export function parsePairingToken(text: string): Result<PairingToken> {
  const trimmed = text.replace(/\s+/g, '');
  const v2 = trimmed.startsWith(PAIRING_TOKEN_PREFIX_V2);
  if (!v2 && !trimmed.startsWith(PAIRING_TOKEN_PREFIX)) {
    const version = /^tether(\d+):/.exec(trimmed)?.[1];
    return err(
      protocolError('PAIRING_INVALID', version ? `pairing token version ${version} is not supported` : 'not a Tether pairing token'),
    );
  }
  if (trimmed.length > 2048) return err(protocolError('PAIRING_INVALID', 'pairing token too long'));
  const bytes = fromBase64Url(trimmed.slice((v2 ? PAIRING_TOKEN_PREFIX_V2 : PAIRING_TOKEN_PREFIX).length));
  let fields: Record<string, unknown> | undefined;
  if (v2) fields = bytes && unpackV2(bytes);
  else {
    const json = bytes && utf8Decode(bytes);
    let value: unknown;
    try {
      value = json === undefined ? undefined : JSON.parse(json);
    } catch {
      value = undefined;
    }
    const wire = WireToken.safeParse(value);
    if (wire.success) {
      const fp = fromBase64Url(wire.data.f);
      fields = {
        version: wire.data.v,
        pairingId: wire.data.i,
        agentId: wire.data.a,
        name: wire.data.n,
        endpoints: wire.data.e,
        fingerprint: fp && fp.length === 32 ? toColonHex(fp) : '',
        secret: wire.data.s,
        expiresAt: wire.data.x * 1000,
      };
    }
  }
  if (!fields) return err(protocolError('PAIRING_INVALID', DAMAGED));
  const token = PairingToken.safeParse(fields);
  if (!token.success) return err(protocolError('PAIRING_INVALID', `pairing token is not valid (${token.error.issues[0]?.path.join('.')})`));
  return ok(token.data);
}

/** Canonical form of a fingerprint: upper-case colon hex. */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.trim().toUpperCase();
}

/**
 * The one DTLS fingerprint an SDP may declare: exactly one `a=fingerprint:sha-256 <colon hex>`,
 * at session or media level; canonical upper case on success.
 *
 * Anything else is refused with FINGERPRINT_MISMATCH, never skipped: a second line (even with
 * the same value), any other algorithm, or a malformed value. DTLS stacks choose among several
 * lines differently (werift prefers sha-512, Chromium the media-level and then the later line), so
 * a relay that adds a line of its own certificate beside the pinned one would pass a check that
 * looks at one line while the DTLS layer verifies the other (issue 11). Counting every occurrence
 * of `fingerprint:` anywhere in the text, not only well-formed lines, keeps this check from
 * parsing the SDP more leniently than a DTLS stack does.
 */
export function sdpFingerprint(sdp: string): Result<string> {
  const mentions = sdp.match(/fingerprint\s*:/gi)?.length ?? 0;
  const lines = [...sdp.matchAll(/^a=fingerprint:([^\r\n]*)$/gim)];
  if (mentions !== 1 || lines.length !== 1) {
    return err(
      protocolError('FINGERPRINT_MISMATCH', `the SDP must carry exactly one a=fingerprint line (sha-256); it carries ${mentions}`),
    );
  }
  const match = /^sha-256 ([0-9A-Fa-f:]+)$/i.exec(lines[0]![1]!.trim());
  if (!match || !Fingerprint.safeParse(match[1]).success) {
    return err(
      protocolError(
        'FINGERPRINT_MISMATCH',
        `the SDP's fingerprint must be one sha-256 value in colon hex; it is "${lines[0]![1]!.trim().slice(0, 120)}"`,
      ),
    );
  }
  return ok(normalizeFingerprint(match[1]!));
}

/** SHA-256 colon hex (canonical) of a certificate's DER bytes, given the digest `sha256`. */
export function fingerprintOf(digest: Uint8Array): string {
  if (digest.length !== 32) throw new RangeError(`a SHA-256 digest has 32 bytes, not ${digest.length}`);
  return toColonHex(digest);
}

// ---- the byte strings that are MACed or signed (UTF-8 of these texts, fields joined by "\n") ----

/**
 * Input of the pairing proof: `proof = HMAC-SHA256(key = SHA-256(secret bytes), pairingProofInput)`,
 * base64url. Binds the console's key and certificate to the secret, so that a relay cannot
 * enroll its own in their place.
 */
export function pairingProofInput(p: { pairingId: string; agentId: string; publicKey: string; fingerprint: string }): Uint8Array {
  return utf8Encode(['tether-pair/1', p.pairingId, p.agentId, p.publicKey, normalizeFingerprint(p.fingerprint)].join('\n'));
}

/** Signed by an enrolled console to authenticate on the agent's LAN socket (ECDSA P-256, SHA-256). */
export function lanAuthInput(p: { agentId: string; consoleId: string; nonce: string }): Uint8Array {
  return utf8Encode(['tether-lan-auth/1', p.agentId, p.consoleId, p.nonce].join('\n'));
}

/**
 * The data-channel binding that each side signs with its paired key: the agent with its identity
 * key (`role: 'agent'`), the console with its enrolled key (`role: 'console'`). Both fingerprints
 * are those of the certificates the DTLS handshake negotiated — each side's own, and the peer's as
 * its handshake presented it — never an SDP line, so a relay that put its own certificate into
 * either handshake cannot reuse a signature made over another.
 */
export function bindingInput(p: {
  role: 'agent' | 'console';
  negotiationId: string;
  agentFingerprint: string;
  consoleFingerprint: string;
  agentNonce: string;
  consoleNonce: string;
}): Uint8Array {
  return utf8Encode(
    [
      'tether-bind/1',
      p.role,
      p.negotiationId,
      normalizeFingerprint(p.agentFingerprint),
      normalizeFingerprint(p.consoleFingerprint),
      p.agentNonce,
      p.consoleNonce,
    ].join('\n'),
  );
}
