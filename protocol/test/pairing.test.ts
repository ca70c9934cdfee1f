import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  encodePairingToken,
  fromBase64Url,
  pairingProofInput,
  parsePairingToken,
  sdpFingerprints,
  toBase64Url,
  utf8Decode,
  utf8Encode,
  type PairingToken,
} from '@tether/protocol';

const fp = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');
const token: PairingToken = {
  version: 1, pairingId: 'AAECAwQFBgc', agentId: 'plc-host-1', name: 'Line 1 PLC — Hall 3',
  endpoints: ['192.168.1.10:7301', '[fe80::1]:7301', 'plc-host-1.local:7301'], fingerprint: fp,
  secret: toBase64Url(randomBytes(16)), expiresAt: 1_900_000_000_000,
};

describe('pairing token', () => {
  test('round-trips and stays short enough for a QR code', () => {
    const text = encodePairingToken(token);
    assert.match(text, /^tether1:[A-Za-z0-9_-]+$/);
    assert.ok(text.length < 340, `${text.length} characters`);
    const parsed = parsePairingToken(`  ${text}\n`);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, token);
  });

  test('a typing error, another version or garbage is PAIRING_INVALID', () => {
    const text = encodePairingToken(token);
    for (const bad of [text.slice(0, -5), 'tether2:abc', 'hello', text.replace('tether1:', 'tether1:!')]) {
      const parsed = parsePairingToken(bad);
      assert.ok(!parsed.ok && parsed.error.code === 'PAIRING_INVALID', bad);
    }
  });

  test('base64url and UTF-8 agree with Node', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      const text = toBase64Url(bytes);
      assert.equal(text, Buffer.from(bytes).toString('base64url'));
      assert.deepEqual(fromBase64Url(text), bytes);
    }));
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => {
      assert.deepEqual(Buffer.from(utf8Encode(s)), Buffer.from(s, 'utf8'));
      assert.equal(utf8Decode(utf8Encode(s)), s);
    }));
  });

  test('the proof input is what the README says', () => {
    const input = pairingProofInput({ pairingId: 'p', agentId: 'a', publicKey: 'k', fingerprint: 'ab:cd' });
    assert.equal(Buffer.from(input).toString(), 'tether-pair/1\np\na\nk\nAB:CD');
    const key = createHash('sha256').update(fromBase64Url(token.secret)!).digest();
    assert.equal(createHmac('sha256', key).update(input).digest('base64url').length, 43);
  });

  test('fingerprints are read from session and media level, sha-256 only, canonical', () => {
    const sdp = `v=0\r\na=fingerprint:sha-256 ${fp.toLowerCase()}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:sha-256 ${fp}\r\na=fingerprint:sha-1 AA:BB\r\n`;
    assert.deepEqual(sdpFingerprints(sdp), [fp]);
  });
});
