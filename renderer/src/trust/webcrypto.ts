/**
 * The WebCrypto operations of pairing and trust (protocol/README.md, "Pairing and trust"):
 * SHA-256, the pairing proof (HMAC-SHA256), and ECDSA P-256 / SHA-256 signatures in IEEE P1363
 * form (r ‖ s, what WebCrypto makes and what the agent expects).
 */
import { fromBase64Url, toBase64Url } from '@tether/protocol';

const ECDSA_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A copy backed by a plain ArrayBuffer, as WebCrypto's BufferSource wants. */
function bytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data);
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes(data)));
}

/** `base64url(HMAC-SHA256(key = SHA-256(secret bytes), input))`; undefined when the secret is not base64url. */
export async function pairingProof(secret: string, input: Uint8Array): Promise<string | undefined> {
  const raw = fromBase64Url(secret);
  if (!raw) return undefined;
  const key = await crypto.subtle.importKey('raw', bytes(await sha256(raw)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toBase64Url(new Uint8Array(await crypto.subtle.sign('HMAC', key, bytes(input))));
}

/** ECDSA signature of `input` with `key`, base64url. */
export async function signEcdsa(key: CryptoKey, input: Uint8Array): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.sign(ECDSA_SIGN, key, bytes(input))));
}

/** Whether `signature` (base64url) is the SPKI key's ECDSA signature of `input`; false for malformed values. */
export async function verifyEcdsa(spki: string, input: Uint8Array, signature: string): Promise<boolean> {
  const keyBytes = fromBase64Url(spki);
  const signatureBytes = fromBase64Url(signature);
  if (!keyBytes || !signatureBytes) return false;
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('spki', bytes(keyBytes), ECDSA_KEY, false, ['verify']);
  } catch (error) {
    console.warn(`[trust] the agent's public key does not import: ${String(error)}`);
    return false;
  }
  return crypto.subtle.verify(ECDSA_SIGN, key, bytes(signatureBytes), bytes(input));
}

/** Whether `needle` occurs as a run of bytes inside `haystack`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** A fresh nonce of 16 random bytes, base64url. */
export function randomNonce(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}
