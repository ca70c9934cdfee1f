/**
 * Secrets (the console token, later pairing keys) encrypted with Electron's safeStorage, in a JSON
 * file (mode 0600) of base64 ciphertexts. On Linux, safeStorage falls back to a hard-coded key
 * (`basic_text`) when no keyring is there: that is plain text in disguise, so it is refused.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CredentialStatus } from '../api.js';

/** The part of Electron's `safeStorage` this store uses; passed in so tests run in Node. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only in Electron */
  getSelectedStorageBackend?(): string;
}

export class CredentialStoreUnavailable extends Error {
  override readonly name = 'CredentialStoreUnavailable';
}

export class CredentialStore {
  constructor(
    private readonly safeStorage: SafeStorageLike,
    private readonly file: string,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

  /** Whether secrets can be kept, and how; never throws. */
  status(): CredentialStatus {
    const refusal = this.refusal();
    if (refusal) return { encrypted: false, description: refusal };
    const backend = this.platform === 'linux' ? this.safeStorage.getSelectedStorageBackend?.() : undefined;
    return { encrypted: true, description: `encrypted with the operating system's keyring${backend ? ` (${backend})` : ''}` };
  }

  get(key: string): string | null {
    this.assertAvailable();
    const stored = this.read()[key];
    return stored === undefined ? null : this.safeStorage.decryptString(Buffer.from(stored, 'base64'));
  }

  set(key: string, value: string): void {
    this.assertAvailable();
    const all = this.read();
    all[key] = this.safeStorage.encryptString(value).toString('base64');
    this.write(all);
  }

  delete(key: string): void {
    const all = this.read();
    if (!(key in all)) return;
    delete all[key];
    this.write(all);
  }

  private refusal(): string | undefined {
    if (!this.safeStorage.isEncryptionAvailable()) {
      return 'no credential encryption is available on this system (safeStorage); credentials are not stored';
    }
    if (this.platform === 'linux' && this.safeStorage.getSelectedStorageBackend?.() === 'basic_text') {
      return 'no keyring (GNOME Keyring or KWallet) was found, and Electron would store credentials in plain text; they are not stored. Install and unlock a keyring, then restart the console.';
    }
    return undefined;
  }

  private assertAvailable(): void {
    const refusal = this.refusal();
    if (refusal) throw new CredentialStoreUnavailable(refusal);
  }

  private read(): Record<string, string> {
    let raw: string;
    try {
      raw = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    const value = JSON.parse(raw) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${this.file} is not a credential file`);
    return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }

  private write(all: Record<string, string>): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const temp = `${this.file}.tmp`;
    writeFileSync(temp, `${JSON.stringify(all)}\n`, { mode: 0o600 });
    renameSync(temp, this.file);
  }
}
