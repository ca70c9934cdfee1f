/**
 * The test vectors of protocol/README.md ("The signed byte strings, byte by byte"), read from the
 * README itself and checked against the code, so that the specification an outside implementer
 * follows and the code cannot drift apart (issue 16).
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  bindingInput,
  encodePairingToken,
  encodePairingTokenV1,
  fromBase64Url,
  lanAuthInput,
  pairingProofInput,
  parsePairingToken,
  toBase64Url,
  toColonHex,
  type PairingToken,
} from '@tether/protocol';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const block = /<!-- test-vectors:begin -->\s*```json\n([\s\S]*?)```\s*<!-- test-vectors:end -->/.exec(readme)?.[1];

interface Party {
  privateKeyPkcs8: string;
  publicKeySpki: string;
  certificateDer: string;
  fingerprint: string;
}
interface Vectors {
  agent: Party;
  console: Party;
  consoleId: string;
  pairingToken: { fields: PairingToken; text: string; textV1: string };
  pairingProof: { secret: string; input: string; proof: string };
  lanAuth: { nonce: string; input: string; signature: string };
  binding: {
    negotiationId: string;
    agentFingerprint: string;
    consoleFingerprint: string;
    agentNonce: string;
    consoleNonce: string;
    agentInput: string;
    agentSignature: string;
    consoleInput: string;
    consoleSignature: string;
  };
}

const v = JSON.parse(block ?? 'null') as Vectors;
const bytes = (b64url: string) => Buffer.from(fromBase64Url(b64url)!);
const publicKey = (p: Party) => createPublicKey({ key: bytes(p.publicKeySpki), format: 'der', type: 'spki' });
const privateKey = (p: Party) => createPrivateKey({ key: bytes(p.privateKeyPkcs8), format: 'der', type: 'pkcs8' });
const verifies = (p: Party, input: Uint8Array, signature: string) =>
  verify('sha256', input, { key: publicKey(p), dsaEncoding: 'ieee-p1363' }, bytes(signature));
const text = (input: Uint8Array) => Buffer.from(input).toString('utf8');

test('the README has the test vectors block', () => {
  assert.ok(block, 'no <!-- test-vectors:begin --> json block in protocol/README.md');
  assert.ok(v.agent && v.console && v.binding);
});

test('fingerprints and consoleId', () => {
  for (const party of [v.agent, v.console])
    assert.equal(toColonHex(createHash('sha256').update(bytes(party.certificateDer)).digest()), party.fingerprint);
  assert.equal(toBase64Url(createHash('sha256').update(bytes(v.console.publicKeySpki)).digest().subarray(0, 16)), v.consoleId);
  // Each certificate carries its party's key: the SPKI bytes occur in the DER.
  for (const party of [v.agent, v.console]) assert.ok(bytes(party.certificateDer).includes(bytes(party.publicKeySpki)));
});

test('the pairing token text, tether2 as agents print it and tether1 as older agents did', () => {
  assert.equal(encodePairingToken(v.pairingToken.fields), v.pairingToken.text);
  assert.equal(encodePairingTokenV1(v.pairingToken.fields), v.pairingToken.textV1);
  for (const text of [v.pairingToken.text, v.pairingToken.textV1]) {
    const parsed = parsePairingToken(text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, v.pairingToken.fields);
  }
});

test('the pairing proof: input byte for byte, and the HMAC', () => {
  const input = pairingProofInput({
    pairingId: v.pairingToken.fields.pairingId,
    agentId: v.pairingToken.fields.agentId,
    publicKey: v.console.publicKeySpki,
    fingerprint: v.console.fingerprint,
  });
  assert.equal(text(input), v.pairingProof.input);
  assert.equal(v.pairingProof.input.split('\n')[0], 'tether-pair/1');
  const key = createHash('sha256').update(bytes(v.pairingProof.secret)).digest();
  assert.equal(createHmac('sha256', key).update(input).digest('base64url'), v.pairingProof.proof);
});

test('lan:auth: input byte for byte, and the signature verifies with the console key', () => {
  const input = lanAuthInput({ agentId: v.pairingToken.fields.agentId, consoleId: v.consoleId, nonce: v.lanAuth.nonce });
  assert.equal(text(input), v.lanAuth.input);
  assert.ok(verifies(v.console, input, v.lanAuth.signature));
  assert.ok(!verifies(v.agent, input, v.lanAuth.signature), 'not with another key');
});

test('the binding, both roles: inputs byte for byte, signatures verify; a signature for one role fails for the other', () => {
  const b = v.binding;
  const common = {
    negotiationId: b.negotiationId,
    agentFingerprint: b.agentFingerprint,
    consoleFingerprint: b.consoleFingerprint,
    agentNonce: b.agentNonce,
    consoleNonce: b.consoleNonce,
  };
  const agentInput = bindingInput({ role: 'agent', ...common });
  const consoleInput = bindingInput({ role: 'console', ...common });
  assert.equal(text(agentInput), b.agentInput);
  assert.equal(text(consoleInput), b.consoleInput);
  assert.ok(verifies(v.agent, agentInput, b.agentSignature));
  assert.ok(verifies(v.console, consoleInput, b.consoleSignature));
  assert.ok(!verifies(v.console, agentInput, b.consoleSignature), 'a console signature does not bind the agent role');
  assert.equal(b.agentFingerprint, v.agent.fingerprint);
  assert.equal(b.consoleFingerprint, v.console.fingerprint);
});

test('the private keys sign what the public keys verify (P1363, 64 bytes)', () => {
  for (const party of [v.agent, v.console]) {
    const signature = sign('sha256', Buffer.from('tether'), { key: privateKey(party), dsaEncoding: 'ieee-p1363' });
    assert.equal(signature.length, 64);
    assert.ok(verifies(party, Buffer.from('tether'), toBase64Url(signature)));
  }
});
