/**
 * The consoles enrolled with this agent (`consoles.json` in the state folder). Read from disk on
 * every use, so that `tether-agent consoles revoke` takes effect at once in the running agent.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { err, fromBase64Url, normalizeFingerprint, ok, toBase64Url, type Result } from '@tether/protocol';
import { createLogger } from '../log.js';
import type { PairingPolicy } from '../negotiator.js';
import { readJsonFile, writeJsonFile } from './state-files.js';

const log = createLogger(import.meta.url);

export const EnrolledConsole = z.object({
  id: z.string(),
  name: z.string(),
  /** SPKI DER, base64url */
  publicKey: z.string(),
  fingerprint: z.string(),
  enrolledAt: z.string(),
  revokedAt: z.string().optional(),
});
export type EnrolledConsole = z.infer<typeof EnrolledConsole>;

/** How often the running agent checks consoles.json for revocations. */
export const CONSOLES_POLL_MS = 500;

const ConsolesFile = z.object({ consoles: z.array(EnrolledConsole) });

/** base64url of the first 16 bytes of SHA-256 over the console's SPKI DER. */
export function consoleIdFor(publicKey: string): string {
  return toBase64Url(
    createHash('sha256')
      .update(fromBase64Url(publicKey) ?? new Uint8Array())
      .digest()
      .subarray(0, 16),
  );
}

/** Verifies an ECDSA P-256/SHA-256 IEEE P1363 signature by a console key (SPKI base64url). */
export function verifyConsoleSignature(publicKey: string, input: Uint8Array, signature: string): boolean {
  const spki = fromBase64Url(publicKey);
  const sig = fromBase64Url(signature);
  if (!spki || !sig) return false;
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    return verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false; // not a P-256 key or a malformed signature: the same answer as a wrong one
  }
}

/** The console of `consoles` holding `fingerprint`, revoked or not. */
export function holderOf(consoles: readonly EnrolledConsole[], fingerprint: string): EnrolledConsole | undefined {
  const wanted = normalizeFingerprint(fingerprint);
  return consoles.find((c) => normalizeFingerprint(c.fingerprint) === wanted);
}

/**
 * Whether the cloud path requires pairing under `policy`: `always`; `auto` once any console has
 * been enrolled, revoked ones included (revoking the last console must not hand the agent back to
 * whoever the signaling server vouches for), and when the enrolled consoles cannot be read (fail
 * closed); never under `never`.
 */
export function pairingRequired(policy: PairingPolicy, enrolled: Result<readonly EnrolledConsole[], string>): boolean {
  return policy === 'always' || (policy === 'auto' && (!enrolled.ok || enrolled.value.length > 0));
}

export class ConsoleRegistry {
  private readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'consoles.json');
  }

  all(): Result<EnrolledConsole[], string> {
    const read = readJsonFile(this.path, { consoles: [] });
    if (!read.ok) return read;
    const parsed = ConsolesFile.safeParse(read.value);
    return parsed.success ? ok(parsed.data.consoles) : err(`${this.path} is damaged: ${parsed.error.issues[0]?.message}`);
  }

  /** The console holding `fingerprint`, revoked or not; undefined when none. */
  byFingerprint(fingerprint: string): EnrolledConsole | undefined {
    const all = this.all();
    return all.ok ? holderOf(all.value, fingerprint) : undefined;
  }

  byId(id: string): EnrolledConsole | undefined {
    const all = this.all();
    return all.ok ? all.value.find((c) => c.id === id) : undefined;
  }

  /**
   * The other console (another key) that already holds `fingerprint`, if any. A fingerprint is
   * public (it is in every offer), so enrolling it for a new key must not take it from its holder.
   */
  fingerprintHolder(fingerprint: string, publicKey: string): EnrolledConsole | undefined {
    const holder = this.byFingerprint(fingerprint);
    return holder && holder.id !== consoleIdFor(publicKey) ? holder : undefined;
  }

  /**
   * Enrolls (or re-enrolls, un-revoking) a console; the same key keeps its id. Refused when another
   * console holds the fingerprint: enrolling used to delete that console (issue 11), so anyone with
   * a pairing token could un-pair any console whose fingerprint it had seen.
   */
  enroll(entry: { name: string; publicKey: string; fingerprint: string }): Result<EnrolledConsole, string> {
    const all = this.all();
    if (!all.ok) {
      // The answer goes to the console: the detail (a host path, an errno) stays in the log.
      log.error('enrolled consoles unreadable', { error: all.error });
      return err('The agent cannot read its enrolled consoles; its log says why.');
    }
    const id = consoleIdFor(entry.publicKey);
    const record: EnrolledConsole = {
      id,
      name: entry.name,
      publicKey: entry.publicKey,
      fingerprint: normalizeFingerprint(entry.fingerprint),
      enrolledAt: new Date().toISOString(),
    };
    const holder = all.value.find((c) => c.id !== id && normalizeFingerprint(c.fingerprint) === record.fingerprint);
    if (holder) return err(`the DTLS certificate ${record.fingerprint} is already enrolled for console ${holder.id}`);
    const others = all.value.filter((c) => c.id !== id);
    writeJsonFile(this.path, { consoles: [...others, record] });
    return ok(record);
  }

  /** Calls `onChange` whenever consoles.json changes (polled: the file is replaced, not edited); returns the stop. */
  watch(onChange: () => void, intervalMs = CONSOLES_POLL_MS): () => void {
    const listener = () => onChange();
    watchFile(this.path, { interval: intervalMs, persistent: false }, listener);
    return () => unwatchFile(this.path, listener);
  }

  revoke(id: string): Result<EnrolledConsole, string> {
    const all = this.all();
    if (!all.ok) return all;
    const found = all.value.find((c) => c.id === id || (c.id.startsWith(id) && id.length >= 6));
    if (!found) return err(`no console with id ${id}; see tether-agent consoles list`);
    found.revokedAt ??= new Date().toISOString();
    writeJsonFile(this.path, { consoles: all.value });
    return ok(found);
  }
}
