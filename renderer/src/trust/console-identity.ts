/**
 * The console's identity, created once and kept in the trust store: an ECDSA P-256 key pair (the
 * private key non-extractable) that signs pairing, LAN authentication and the data-channel
 * binding, and the RTCCertificate that every peer connection uses, so that the DTLS fingerprint
 * the agent enrolled stays the same.
 */
import { normalizeFingerprint, toBase64Url } from '@tether/protocol';
import type { StoredIdentity, TrustStore } from './trust-store';
import { signEcdsa } from './webcrypto';

/**
 * Chromium caps a generated certificate's lifetime; a year is within the cap. When it expires the
 * console makes a new one, whose fingerprint the agents do not know: pair again.
 */
const CERTIFICATE_LIFETIME_MS = 365 * 24 * 3600 * 1000;
/** A certificate this close to expiry is replaced rather than used. */
const CERTIFICATE_MARGIN_MS = 24 * 3600 * 1000;

export interface ConsoleIdentity {
  /** SPKI of the public key, base64url */
  readonly publicKey: string;
  /** SHA-256 of the certificate, canonical colon hex (what the offers' `a=fingerprint` carries) */
  readonly fingerprint: string;
  readonly certificate: RTCCertificate;
  /** ECDSA P-256/SHA-256 of `input` with the console key, base64url (IEEE P1363) */
  sign(input: Uint8Array): Promise<string>;
}

async function create(): Promise<StoredIdentity> {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const keygen = { name: 'ECDSA', namedCurve: 'P-256', expires: CERTIFICATE_LIFETIME_MS } as EcKeyGenParams;
  const certificate = await RTCPeerConnection.generateCertificate(keygen);
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, certificate };
}

function fingerprintOf(certificate: RTCCertificate): string | undefined {
  const entry = certificate.getFingerprints().find((f) => f.algorithm?.toLowerCase() === 'sha-256');
  return entry?.value ? normalizeFingerprint(entry.value) : undefined;
}

/** The stored identity, or a new one (stored) when there is none or its certificate has run out. */
export async function loadConsoleIdentity(store: TrustStore): Promise<ConsoleIdentity> {
  let stored = await store.loadIdentity();
  if (stored && stored.certificate.expires < Date.now() + CERTIFICATE_MARGIN_MS) {
    console.warn('[trust] the console certificate expires; a new identity is made (paired agents must be paired again)');
    stored = undefined;
  }
  if (!stored) {
    stored = await create();
    await store.saveIdentity(stored);
  }
  const fingerprint = fingerprintOf(stored.certificate);
  if (!fingerprint) throw new Error('the console certificate has no sha-256 fingerprint');
  const publicKey = toBase64Url(new Uint8Array(await crypto.subtle.exportKey('spki', stored.publicKey)));
  const privateKey = stored.privateKey;
  return {
    publicKey,
    fingerprint,
    certificate: stored.certificate,
    sign: (input) => signEcdsa(privateKey, input),
  };
}
