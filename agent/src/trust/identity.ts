/**
 * The agent's persistent identity: one ECDSA P-256 key and a self-signed X.509 certificate for it,
 * created on first start and kept in `identity.json` (mode 0600) in the state folder. werift uses
 * them for DTLS, so the fingerprint in the agent's SDP is the same after every restart; the same
 * key signs the data-channel binding.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';
import { linkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';
import { err, ok, toBase64Url, toColonHex, type Result } from '@tether/protocol';
import { ensureStateDir, readJsonFile } from './state-files.js';

export interface AgentKeys {
  certPem: string;
  keyPem: string;
  /** canonical colon hex SHA-256 of the certificate's DER */
  fingerprint: string;
  certificateDer: Buffer;
  /** SPKI DER of the identity key, base64url */
  publicKey: string;
  privateKey: KeyObject;
}

const IdentityFile = z.object({ version: z.literal(1), certPem: z.string().min(1), keyPem: z.string().min(1), createdAt: z.string() });

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function generate(): Promise<z.infer<typeof IdentityFile>> {
  const crypto = webcrypto;
  x509.cryptoProvider.set(crypto as never);
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: 'CN=tether-agent',
    // Dates on the wall clock by definition; WebRTC pins the fingerprint and reads neither.
    // eslint-disable-next-line no-restricted-syntax
    notBefore: new Date(Date.now() - 24 * 3600 * 1000),
    // Before 2050: UTCTime, which every DTLS stack parses (BoringSSL among them).
    // eslint-disable-next-line no-restricted-syntax
    notAfter: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000),
    signingAlgorithm: ALGORITHM,
    keys: keys as never,
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    version: 1,
    certPem: cert.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    createdAt: new Date().toISOString(),
  };
}

function keysFrom(file: z.infer<typeof IdentityFile>): AgentKeys {
  const cert = new x509.X509Certificate(file.certPem);
  const der = Buffer.from(cert.rawData);
  const privateKey = createPrivateKey(file.keyPem);
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    certPem: file.certPem,
    keyPem: file.keyPem,
    fingerprint: toColonHex(createHash('sha256').update(der).digest()),
    certificateDer: der,
    publicKey: toBase64Url(spki),
    privateKey,
  };
}

/** Loads the identity from `stateDir`, creating it once; two processes racing create one. */
export async function loadIdentity(stateDir: string): Promise<Result<AgentKeys, string>> {
  const path = join(stateDir, 'identity.json');
  ensureStateDir(stateDir);
  let read = readJsonFile(path, undefined);
  if (read.ok && read.value === undefined) {
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(temp, JSON.stringify(await generate(), null, 2) + '\n', { mode: 0o600 });
    try {
      linkSync(temp, path); // fails when another process created it first: then theirs is read
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') return err(`cannot create ${path}: ${(cause as Error).message}`);
    } finally {
      unlinkSync(temp);
    }
    read = readJsonFile(path, undefined);
  }
  if (!read.ok) return read;
  const parsed = IdentityFile.safeParse(read.value);
  if (!parsed.success) return err(`${path} is not a Tether agent identity; move it away to create a new one`);
  try {
    return ok(keysFrom(parsed.data));
  } catch (cause) {
    return err(`${path} holds an unusable key or certificate: ${(cause as Error).message}`);
  }
}

/** ECDSA P-256/SHA-256 signature in IEEE P1363 form, base64url: what WebCrypto verifies. */
export function signWithIdentity(keys: AgentKeys, input: Uint8Array): string {
  return toBase64Url(sign('sha256', input, { key: keys.privateKey, dsaEncoding: 'ieee-p1363' }));
}
