/**
 * The certificate the agent presented in the DTLS handshake, read from the peer connection's
 * statistics (transport → `remoteCertificateId` → certificate, `base64Certificate`), as its SHA-256
 * fingerprint. This, not the answer's `a=fingerprint` line, is what the pin is checked against:
 * a relay can write SDP lines that make the DTLS layer verify a certificate of its own while the
 * pinned line stays in place (issue 11).
 */
import { fingerprintOf } from '@tether/protocol';
import { sha256 } from './webcrypto';

interface StatsEntry {
  type: string;
  id: string;
  [key: string]: unknown;
}

/** Bytes of standard base64 (what `base64Certificate` holds); undefined when malformed. */
function fromBase64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch (error) {
    console.warn(`[trust] the remote certificate in the stats is not base64: ${String(error)}`);
    return undefined;
  }
}

/**
 * SHA-256 colon hex of the remote DTLS certificate, or undefined while DTLS has none (not yet
 * connected). With several transports (no BUNDLE) every one must present the same certificate;
 * otherwise the answer is a fingerprint no pin matches.
 */
export async function remoteDtlsFingerprint(pc: RTCPeerConnection): Promise<string | undefined> {
  const report = await pc.getStats();
  const entries = new Map<string, StatsEntry>();
  report.forEach((entry: StatsEntry) => entries.set(entry.id, entry));
  const seen = new Set<string>();
  for (const transport of entries.values()) {
    if (transport.type !== 'transport' || typeof transport.remoteCertificateId !== 'string') continue;
    const certificate = entries.get(transport.remoteCertificateId);
    const der = typeof certificate?.base64Certificate === 'string' ? fromBase64(certificate.base64Certificate) : undefined;
    if (!der) continue;
    seen.add(fingerprintOf(await sha256(der)));
  }
  if (seen.size === 0) return undefined;
  if (seen.size > 1) return `several certificates: ${[...seen].join(', ')}`;
  return [...seen][0];
}

/** What the statistics say of a DTLS handshake that did not complete. */
export interface DtlsOutcome {
  /** the remote certificate's fingerprint, where the browser kept one */
  observed: string | undefined;
  /** DTLS failed on a transport whose ICE was connected: the path worked, the handshake did not */
  failedOverWorkingPath: boolean;
}

export async function readDtlsOutcome(pc: RTCPeerConnection): Promise<DtlsOutcome> {
  const observed = await remoteDtlsFingerprint(pc);
  let failedOverWorkingPath = false;
  (await pc.getStats()).forEach((entry: StatsEntry) => {
    if (entry.type === 'transport' && entry.dtlsState === 'failed' && (entry.iceState === 'connected' || entry.iceState === 'completed'))
      failedOverWorkingPath = true;
  });
  return { observed, failedOverWorkingPath };
}
