/**
 * Pairing with an agent from its token (pasted or scanned), over the agent's LAN endpoint with no
 * cloud: prove the one-time secret, enroll this console's key and certificate fingerprint, check
 * the agent's certificate against the token, and keep the agent's identity.
 */
import {
  err,
  fromBase64Url,
  normalizeFingerprint,
  ok,
  pairingProofInput,
  parsePairingToken,
  protocolError,
  toColonHex,
  type PairedAgent,
  type PairingToken,
  type ProtocolError,
  type Result,
} from '@tether/protocol';
import { LanSignaling, type LanAuthenticated } from '../connection/lan-signaling';
import type { ConsoleIdentity } from '../trust/console-identity';
import type { PairedAgentRecord, TrustStore } from '../trust/trust-store';
import { containsBytes, pairingProof, sha256 } from '../trust/webcrypto';

/** A paired agent and the LAN socket that is already authenticated with it (the caller owns it). */
export interface Paired {
  record: PairedAgentRecord;
  signaling: LanSignaling;
}

/** What each refusal means to the person pairing, in one plain sentence or two. */
export const PAIRING_HINTS: Partial<Record<ProtocolError['code'], string>> = {
  PAIRING_INVALID:
    'This token is not valid for this agent, or it was mistyped. Check it, or run "tether-agent pair" on the agent for a new one.',
  PAIRING_EXPIRED: 'This token has expired. Run "tether-agent pair" on the agent again and paste the new token.',
  PAIRING_SPENT: 'This token was already used: each token pairs one console. Run "tether-agent pair" on the agent for a new one.',
  RATE_LIMITED: 'Too many failed attempts. Wait a minute, then try again.',
  FINGERPRINT_MISMATCH:
    'The agent that answered is not the one that printed the token: possible interception. Do not use this network path.',
  AGENT_OFFLINE:
    'The agent could not be reached. Check that it runs with --lan-listen and that this computer can reach the address in the token.',
};

/**
 * A refusal as the dialog shows it: one sentence that says what to do (the hint of its code, else
 * the message), and the code with the exact message as details on demand, so that neither repeats
 * the other on screen.
 */
export function describePairingError(error: ProtocolError): { summary: string; detail: string } {
  const plain = (text: string) => text.replaceAll('`', '"');
  const message = plain(error.message);
  const hint = PAIRING_HINTS[error.code];
  return { summary: hint ?? `${message.charAt(0).toUpperCase()}${message.slice(1)}.`, detail: `${error.code}: ${message}` };
}

/** Checks the enrolled agent against the token: its certificate hashes to the token's fingerprint and holds its identity key. */
async function checkAgent(token: PairingToken, agent: PairedAgent): Promise<Result<void>> {
  const certificate = fromBase64Url(agent.certificate);
  const publicKey = fromBase64Url(agent.publicKey);
  if (!certificate || !publicKey) return err(protocolError('BAD_MESSAGE', 'the agent sent a malformed certificate or key'));
  const fingerprint = toColonHex(await sha256(certificate));
  if (fingerprint !== normalizeFingerprint(token.fingerprint) || normalizeFingerprint(agent.fingerprint) !== fingerprint) {
    return err(
      protocolError(
        'FINGERPRINT_MISMATCH',
        "fingerprint mismatch: the agent's certificate is not the one in the token — possible interception",
      ),
    );
  }
  if (!containsBytes(certificate, publicKey)) {
    return err(protocolError('FINGERPRINT_MISMATCH', "the agent's identity key is not the key of its certificate"));
  }
  if (agent.agentId !== token.agentId)
    return err(protocolError('PAIRING_INVALID', `the endpoint is agent ${agent.agentId}, the token names ${token.agentId}`));
  return ok(undefined);
}

async function enrollAt(
  endpoint: string,
  token: PairingToken,
  identity: ConsoleIdentity,
  consoleName: string,
): Promise<Result<{ signaling: LanSignaling; enrolled: LanAuthenticated }>> {
  const opened = await LanSignaling.open(endpoint);
  if (!opened.ok) return opened;
  const signaling = opened.value;
  const fail = (error: ProtocolError) => (signaling.dispose(), err(error));
  if (signaling.hello.agentId !== token.agentId) {
    return fail(
      protocolError('PAIRING_INVALID', `${endpoint} is agent ${signaling.hello.agentId}, not ${token.agentId} named in the token`),
    );
  }
  const proofInput = pairingProofInput({
    pairingId: token.pairingId,
    agentId: token.agentId,
    publicKey: identity.publicKey,
    fingerprint: identity.fingerprint,
  });
  const proof = await pairingProof(token.secret, proofInput);
  if (!proof) return fail(protocolError('PAIRING_INVALID', "the token's secret is damaged"));
  const enrolled = await signaling.enroll({
    pairingId: token.pairingId,
    consoleName,
    publicKey: identity.publicKey,
    fingerprint: identity.fingerprint,
    proof,
  });
  if (!enrolled.ok) return fail(enrolled.error);
  const checked = await checkAgent(token, enrolled.value.agent);
  if (!checked.ok) return fail(checked.error);
  return ok({ signaling, enrolled: enrolled.value });
}

/**
 * Pairs with the agent of `text` (a pairing token): tries its endpoints in order until one answers;
 * a refusal by the agent (wrong, expired, spent token) ends the attempt. Stores the agent on success.
 */
export async function pairWithToken(
  text: string,
  identity: ConsoleIdentity,
  store: TrustStore,
  consoleName: string,
): Promise<Result<Paired>> {
  const parsed = parsePairingToken(text);
  if (!parsed.ok) return parsed;
  const token = parsed.value;
  if (token.expiresAt <= Date.now()) {
    return err(protocolError('PAIRING_EXPIRED', `the token expired at ${new Date(token.expiresAt).toLocaleTimeString()}`));
  }
  if (token.endpoints.length === 0) return err(protocolError('PAIRING_INVALID', 'the token names no LAN endpoint of the agent'));
  let unreachable: ProtocolError | undefined;
  for (const endpoint of token.endpoints) {
    const attempt = await enrollAt(endpoint, token, identity, consoleName);
    if (!attempt.ok && attempt.error.code === 'AGENT_OFFLINE') {
      unreachable = attempt.error;
      continue;
    }
    if (!attempt.ok) return attempt;
    const { signaling, enrolled } = attempt.value;
    const record: PairedAgentRecord = {
      agentId: token.agentId,
      // The token came out of band, as its fingerprint did; the answer over the LAN is not signed.
      name: token.name || enrolled.agent.name,
      endpoints: token.endpoints,
      fingerprint: normalizeFingerprint(token.fingerprint),
      publicKey: enrolled.agent.publicKey,
      consoleId: enrolled.consoleId,
      pairedAt: Date.now(),
    };
    try {
      await store.savePairedAgent(record);
    } catch (error) {
      signaling.dispose();
      return err(protocolError('INTERNAL', `paired, but the agent could not be stored: ${String(error)}`));
    }
    return ok({ record, signaling });
  }
  return err(unreachable ?? protocolError('AGENT_OFFLINE', 'no endpoint of the token answered'));
}
