/**
 * Byte encodings the pairing and trust messages use, without Node's Buffer or the DOM's
 * TextEncoder/atob (protocol/ runs everywhere): UTF-8 and unpadded base64url (RFC 4648 §5).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP = new Map([...ALPHABET].map((c, i) => [c, i]));

/** Unpadded base64url of `bytes`. */
export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = [n >> 18, (n >> 12) & 63, (n >> 6) & 63, n & 63].map((v) => ALPHABET[v]);
    out += chars.slice(0, Math.min(4, bytes.length - i + 1)).join('');
  }
  return out;
}

/** The bytes of unpadded (or padded) base64url text; undefined when it is not base64url. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  const clean = text.replace(/=+$/, '');
  if (clean.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of clean) {
    const v = LOOKUP.get(c);
    if (v === undefined) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** UTF-8 bytes of `text` (lone surrogates become U+FFFD, as TextEncoder does). */
export function utf8Encode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    let c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

/** The smallest code point each sequence length may encode; anything below is an overlong form. */
const MIN_CODE_POINT = [0, 0x80, 0x800, 0x10000];

/**
 * Text of UTF-8 bytes; undefined when they are not valid UTF-8 (RFC 3629): overlong forms,
 * surrogates and code points above U+10FFFF are refused, never thrown on (`tether1:97-_vw` once
 * made `String.fromCodePoint` throw a RangeError out of `parsePairingToken`).
 */
export function utf8Decode(bytes: Uint8Array): string | undefined {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xc0 && b < 0xe0 ? 1 : -1;
    if (need < 0) return undefined;
    let c = need === 0 ? b : b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return undefined;
      c = (c << 6) | (next & 63);
    }
    if (c < MIN_CODE_POINT[need]! || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return undefined;
    out += String.fromCodePoint(c);
    i += need + 1;
  }
  return out;
}

/** Canonical hex with colons, upper case, as SDP `a=fingerprint` writes it. */
export function toColonHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/** Bytes of colon hex (any case); undefined when malformed. */
export function fromColonHex(text: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$/.test(text)) return undefined;
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}
