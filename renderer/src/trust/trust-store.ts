/**
 * The console's trust store: its identity (an ECDSA key pair and an RTCCertificate) and the agents
 * it paired with, in IndexedDB. `CryptoKey` and `RTCCertificate` are structured-cloneable, so the
 * non-extractable private key is stored as an object the page can use but never read out. The
 * Electron console uses the same IndexedDB (its renderer's profile): these objects cannot cross
 * the preload bridge, and the private key's bytes are never visible to JavaScript at all.
 */
import { z } from 'zod';
import { AgentId, ConsoleId, Fingerprint, LanEndpoint, parseValue } from '@tether/protocol';
import { IdbStore } from '../host/idb-store';

/** An agent this console paired with: what it needs to reach it and to pin its identity. */
export const PairedAgentRecord = z.object({
  agentId: AgentId,
  name: z.string().min(1).max(128),
  /** LAN signaling endpoints from the token, `host:port` */
  endpoints: z.array(LanEndpoint).max(8),
  /** SHA-256 of the agent's DTLS certificate, canonical colon hex: every answer must carry it */
  fingerprint: Fingerprint,
  /** the agent's identity key (SPKI, base64url): verifies its data-channel binding signature */
  publicKey: z.string().min(40).max(256),
  /** the agent's name for this console */
  consoleId: ConsoleId,
  pairedAt: z.number().int().nonnegative(),
});
export type PairedAgentRecord = z.infer<typeof PairedAgentRecord>;

/** The stored form of the console identity (structured clones of the WebCrypto/WebRTC objects). */
export interface StoredIdentity {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  certificate: RTCCertificate;
}

const IDENTITY_KEY = 'console-identity';
const PAIRED_KEY = 'paired-agents';

export class TrustStore {
  private readonly store: IdbStore;

  constructor(dbName = 'tether-trust') {
    this.store = new IdbStore(dbName, 'kv');
  }

  loadIdentity(): Promise<StoredIdentity | undefined> {
    return this.store.get<StoredIdentity>(IDENTITY_KEY);
  }

  saveIdentity(identity: StoredIdentity): Promise<void> {
    return this.store.put(IDENTITY_KEY, identity);
  }

  /** The paired agents; a stored record that no longer parses is dropped with a warning. */
  async pairedAgents(): Promise<PairedAgentRecord[]> {
    const raw = (await this.store.get<unknown[]>(PAIRED_KEY)) ?? [];
    const out: PairedAgentRecord[] = [];
    for (const value of raw) {
      const parsed = parseValue(PairedAgentRecord, value);
      if (parsed.ok) out.push(parsed.value);
      else console.warn(`[trust] a stored paired agent was dropped: ${parsed.error.message}`);
    }
    return out;
  }

  /** Adds or replaces (same agent id) a paired agent. */
  async savePairedAgent(record: PairedAgentRecord): Promise<void> {
    const others = (await this.pairedAgents()).filter((a) => a.agentId !== record.agentId);
    await this.store.put(PAIRED_KEY, [...others, record]);
  }

  async removePairedAgent(agentId: string): Promise<void> {
    await this.store.put(
      PAIRED_KEY,
      (await this.pairedAgents()).filter((a) => a.agentId !== agentId),
    );
  }
}
