/**
 * Pending pairings (`pairings.json` in the state folder): written by `tether-agent pair`, spent by
 * the running agent. Only SHA-256 of each secret is kept; that digest is the HMAC key of the
 * pairing proof (protocol/README.md), so the file is as sensitive as the secret for its lifetime:
 * mode 0600, and entries are dropped a day after they expire.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { err, fromBase64Url, ok, pairingProofInput, protocolError, toBase64Url, type PairEnroll, type Result } from '@tether/protocol';
import { createLogger } from '../log.js';
import { readJsonFile, writeJsonFile } from './state-files.js';

const log = createLogger(import.meta.url);

const Pending = z.object({
  id: z.string(),
  /** SHA-256 of the secret, hex */
  key: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
  spentAt: z.number().optional(),
  spentBy: z.string().optional(),
});
type Pending = z.infer<typeof Pending>;
const PairingsFile = z.object({ pairings: z.array(Pending) });

const KEEP_AFTER_EXPIRY_MS = 24 * 3600 * 1000;

export class PairingStore {
  private readonly path: string;

  constructor(
    stateDir: string,
    private readonly now: () => number = Date.now,
  ) {
    this.path = join(stateDir, 'pairings.json');
  }

  private read(): Result<Pending[], string> {
    const read = readJsonFile(this.path, { pairings: [] });
    if (!read.ok) return read;
    const parsed = PairingsFile.safeParse(read.value);
    return parsed.success ? ok(parsed.data.pairings) : err(`${this.path} is damaged`);
  }

  /** Creates a pending pairing; returns its id and the secret to print (never stored). */
  create(ttlMs: number): Result<{ pairingId: string; secret: string; expiresAt: number }, string> {
    const all = this.read();
    if (!all.ok) return all;
    const secret = randomBytes(16);
    const pairingId = toBase64Url(randomBytes(8));
    const now = this.now();
    const expiresAt = now + ttlMs;
    const kept = all.value.filter((p) => p.expiresAt + KEEP_AFTER_EXPIRY_MS > now);
    kept.push({ id: pairingId, key: createHash('sha256').update(secret).digest('hex'), createdAt: now, expiresAt });
    writeJsonFile(this.path, { pairings: kept });
    return ok({ pairingId, secret: toBase64Url(secret), expiresAt });
  }

  /**
   * Checks an enrollment's proof without spending the pairing: PAIRING_INVALID (unknown id or wrong
   * proof), PAIRING_EXPIRED, PAIRING_SPENT. Whoever passes it holds the token.
   */
  check(agentId: string, request: PairEnroll): Result<void> {
    const checked = this.verified(agentId, request);
    return checked.ok ? ok(undefined) : checked;
  }

  /**
   * Checks an enrollment's proof and spends the pairing: PAIRING_INVALID (unknown id or wrong
   * proof), PAIRING_EXPIRED, PAIRING_SPENT; ok once, and never again for the same pairing.
   */
  spend(agentId: string, request: PairEnroll, consoleId: string): Result<void> {
    const checked = this.verified(agentId, request);
    if (!checked.ok) return checked;
    const { all, pending } = checked.value;
    pending.spentAt = this.now();
    pending.spentBy = consoleId;
    writeJsonFile(this.path, { pairings: all });
    return ok(undefined);
  }

  private verified(agentId: string, request: PairEnroll): Result<{ all: Pending[]; pending: Pending }> {
    const all = this.read();
    if (!all.ok) {
      // The detail (a host path, an errno) is for the operator's log, not for whoever asks.
      log.error('pending pairings unreadable', { error: all.error });
      return err(protocolError('INTERNAL', 'The agent cannot read its pending pairings; its log says why.'));
    }
    const pending = all.value.find((p) => p.id === request.pairingId);
    if (!pending) return err(protocolError('PAIRING_INVALID', 'This pairing token is not known to the agent.'));
    const expected = createHmac('sha256', Buffer.from(pending.key, 'hex'))
      .update(pairingProofInput({ pairingId: pending.id, agentId, publicKey: request.publicKey, fingerprint: request.fingerprint }))
      .digest();
    const given = fromBase64Url(request.proof);
    if (!given || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return err(protocolError('PAIRING_INVALID', 'The pairing secret is wrong.'));
    }
    if (pending.spentAt !== undefined)
      return err(protocolError('PAIRING_SPENT', 'This pairing token was already used; run `tether-agent pair` for a new one.'));
    if (pending.expiresAt <= this.now())
      return err(protocolError('PAIRING_EXPIRED', 'This pairing token has expired; run `tether-agent pair` for a new one.'));
    return ok({ all: all.value, pending });
  }
}
