import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  encodePairingToken,
  encodePairingTokenV1,
  fromBase64Url,
  pairingProofInput,
  parsePairingToken,
  sdpFingerprint,
  toBase64Url,
  utf8Decode,
  utf8Encode,
  type PairingToken,
} from '@tether/protocol';

const fp = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');
const token: PairingToken = {
  version: 1,
  pairingId: 'AAECAwQFBgc',
  agentId: 'plc-host-1',
  name: 'Line 1 PLC — Hall 3',
  endpoints: ['192.168.1.10:7301', '[fe80::1]:7301', 'plc-host-1.local:7301'],
  fingerprint: fp,
  secret: toBase64Url(randomBytes(16)),
  expiresAt: 1_900_000_000_000,
};

describe('pairing token', () => {
  test('round-trips and is short: tether2 is well under the tether1 length, with the fingerprint and secret whole', () => {
    const text = encodePairingToken(token);
    assert.match(text, /^tether2:[A-Za-z0-9_-]+$/);
    const old = encodePairingTokenV1(token);
    assert.ok(text.length < 0.65 * old.length, `${text.length} characters, tether1 ${old.length}`);
    const parsed = parsePairingToken(`  ${text}\n`);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
    assert.deepEqual(parsed.value, token);
    // What the token pins travels whole: 32 fingerprint bytes, 16 secret bytes.
    const body = fromBase64Url(text.slice('tether2:'.length))!;
    const fingerprintBytes = Uint8Array.from(fp.split(':').map((h) => parseInt(h, 16)));
    assert.ok(Buffer.from(body).includes(Buffer.from(fingerprintBytes)));
    assert.ok(Buffer.from(body).includes(Buffer.from(fromBase64Url(token.secret)!)));
  });

  test('fields that do not fit the packed layout are written as tether1, never refused', () => {
    const long = `${'h'.repeat(250)}.local:7301`;
    // AAECAwQFBgd: base64url whose last character carries bits past the 8 bytes (not canonical).
    for (const fields of [
      { ...token, endpoints: [long] },
      { ...token, pairingId: 'AAECAwQFBgd' },
    ]) {
      const text = encodePairingToken(fields);
      assert.match(text, /^tether1:/);
      const parsed = parsePairingToken(text);
      assert.ok(parsed.ok);
      assert.deepEqual(parsed.value, fields);
    }
  });

  test('a tether1 token (agents before tether2) is still accepted', () => {
    const old = encodePairingTokenV1(token);
    assert.match(old, /^tether1:[A-Za-z0-9_-]+$/);
    const parsed = parsePairingToken(old);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, token);
  });

  test('tether2 round-trips whatever the fields', () => {
    const endpoint = fc.oneof(
      fc
        .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.integer({ min: 0, max: 65535 }))
        .map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}:${p}`),
      fc.constantFrom('[fe80::1]:7301', 'plc-host-1.local:7301', '010.1.1.1:80', '10.0.0.1:007'),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 8, maxLength: 24 }),
        fc.uint8Array({ minLength: 16, maxLength: 48 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.array(endpoint, { maxLength: 8 }),
        fc.integer({ min: 1, max: 0xffffffff }),
        (id, secret, name, endpoints, seconds) => {
          const fields: PairingToken = {
            ...token,
            pairingId: toBase64Url(id),
            secret: toBase64Url(secret),
            name,
            endpoints,
            expiresAt: seconds * 1000,
          };
          const parsed = parsePairingToken(encodePairingToken(fields));
          if (!parsed.ok) {
            // Only what the schema refuses either way (a name of white space, an endpoint out of form).
            assert.ok(!parsePairingToken(encodePairingTokenV1(fields)).ok, parsed.error.message);
            return;
          }
          assert.deepEqual(parsed.value, fields);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('white space anywhere is ignored: a token wrapped over lines, as a terminal copies it, parses', () => {
    const text = encodePairingToken(token);
    const wrapped = `  ${text.match(/.{1,37}/g)!.join('\r\n    ')} \t\n`;
    assert.notEqual(wrapped.replace(/\s/g, '').length, wrapped.length);
    const parsed = parsePairingToken(wrapped);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
    assert.deepEqual(parsed.value, token);
  });

  test('a typing error, another version or garbage is PAIRING_INVALID', () => {
    const text = encodePairingToken(token);
    const old = encodePairingTokenV1(token);
    for (const bad of [
      text.slice(0, -5),
      text.slice(0, -1),
      `${text}AA`,
      old.slice(0, -5),
      'tether2:abc',
      'tether3:abc',
      'hello',
      text.replace('tether2:', 'tether2:!'),
      old.replace('tether1:', 'tether1:!'),
    ]) {
      const parsed = parsePairingToken(bad);
      assert.ok(!parsed.ok && parsed.error.code === 'PAIRING_INVALID', bad);
    }
  });

  test('base64url and UTF-8 agree with Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = toBase64Url(bytes);
        assert.equal(text, Buffer.from(bytes).toString('base64url'));
        assert.deepEqual(fromBase64Url(text), bytes);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        assert.deepEqual(Buffer.from(utf8Encode(s)), Buffer.from(s, 'utf8'));
        assert.equal(utf8Decode(utf8Encode(s)), s);
      }),
    );
  });

  test('the proof input is what the README says', () => {
    const input = pairingProofInput({ pairingId: 'p', agentId: 'a', publicKey: 'k', fingerprint: 'ab:cd' });
    assert.equal(Buffer.from(input).toString(), 'tether-pair/1\np\na\nk\nAB:CD');
    const key = createHash('sha256').update(fromBase64Url(token.secret)!).digest();
    assert.equal(createHmac('sha256', key).update(input).digest('base64url').length, 43);
  });

  test('parsing never throws, whatever the text (tether1:97-_vw once threw a RangeError)', () => {
    const parsed = parsePairingToken('tether1:97-_vw');
    assert.ok(!parsed.ok && parsed.error.code === 'PAIRING_INVALID');
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 400 }),
        (body) => {
          const result = parsePairingToken(`tether1:${body}`);
          assert.ok(result.ok || result.error.code === 'PAIRING_INVALID');
        },
      ),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('tether1:', 'tether2:'), (bytes, prefix) => {
        const result = parsePairingToken(`${prefix}${toBase64Url(bytes)}`);
        assert.ok(result.ok || result.error.code === 'PAIRING_INVALID');
      }),
      { numRuns: 5000 },
    );
    // Every truncation and every one-byte change of a real tether2 body: refused, never thrown.
    const body = fromBase64Url(encodePairingToken(token).slice(8))!;
    for (let cut = 0; cut < body.length; cut++) {
      const result = parsePairingToken(`tether2:${toBase64Url(body.subarray(0, cut))}`);
      assert.ok(!result.ok && result.error.code === 'PAIRING_INVALID', `cut at ${cut}`);
    }
    fc.assert(
      fc.property(fc.nat(body.length - 1), fc.nat(255), (at, value) => {
        const changed = Uint8Array.from(body);
        changed[at] = value;
        const result = parsePairingToken(`tether2:${toBase64Url(changed)}`);
        assert.ok(result.ok || result.error.code === 'PAIRING_INVALID');
      }),
      { numRuns: 3000 },
    );
  });

  test('UTF-8 decoding refuses what Node would replace: overlong forms, surrogates, code points above U+10FFFF', () => {
    for (const bad of [
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf7, 0xbf, 0xbf, 0xbf],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    ]) {
      assert.equal(utf8Decode(Uint8Array.from(bad)), undefined, bad.map((b) => b.toString(16)).join(' '));
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const decoded = utf8Decode(bytes);
        const strict = (() => {
          try {
            return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
          } catch {
            return undefined;
          }
        })();
        assert.equal(decoded, strict);
      }),
      { numRuns: 20000 },
    );
  });
});

describe('the SDP fingerprint check (issue 11: a relay adds a line of its own certificate)', () => {
  const other = Array.from({ length: 32 }, (_, i) => (255 - i).toString(16).padStart(2, '0').toUpperCase()).join(':');
  const sha512 = Array.from({ length: 64 }, (_, i) => (i * 3).toString(16).padStart(2, '0').toUpperCase()).join(':');
  const session = (lines: string[]) => ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', ...lines];
  const media = (lines: string[]) => [
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    'a=setup:actpass',
    ...lines,
    'a=sctp-port:5000',
  ];
  const sdp = (sessionLines: string[], mediaLines: string[], eol = '\r\n') =>
    [...session(sessionLines), ...media(mediaLines)].join(eol) + eol;

  test('one sha-256 line, at session or media level, in any case, is the fingerprint, canonical', () => {
    for (const text of [
      sdp([], [`a=fingerprint:sha-256 ${fp}`]),
      sdp([`a=fingerprint:SHA-256 ${fp.toLowerCase()}`], []),
      sdp([], [`a=fingerprint:sha-256 ${fp}`], '\n'),
    ]) {
      const result = sdpFingerprint(text);
      assert.ok(result.ok, text);
      assert.equal(result.value, fp);
    }
  });

  test('each attack of the issue is refused with FINGERPRINT_MISMATCH', () => {
    const attacks = {
      'a sha-512 line added after the pinned one': sdp([], [`a=fingerprint:sha-256 ${fp}`, `a=fingerprint:sha-512 ${sha512}`]),
      'a sha-512 line added before the pinned one': sdp([], [`a=fingerprint:sha-512 ${sha512}`, `a=fingerprint:sha-256 ${fp}`]),
      'a second sha-256 line after': sdp([], [`a=fingerprint:sha-256 ${fp}`, `a=fingerprint:sha-256 ${other}`]),
      'a second sha-256 line before': sdp([], [`a=fingerprint:sha-256 ${other}`, `a=fingerprint:sha-256 ${fp}`]),
      'pinned at session level, another at media level': sdp([`a=fingerprint:sha-256 ${fp}`], [`a=fingerprint:sha-512 ${sha512}`]),
      'pinned at media level, another at session level': sdp(
        [`a=fingerprint:sha-384 ${sha512.slice(0, 143)}`],
        [`a=fingerprint:sha-256 ${fp}`],
      ),
      'the same line twice': sdp([`a=fingerprint:sha-256 ${fp}`], [`a=fingerprint:sha-256 ${fp}`]),
      'no line': sdp([], []),
      'only another algorithm': sdp([], [`a=fingerprint:sha-1 ${fp.slice(0, 59)}`]),
      'a malformed value': sdp([], [`a=fingerprint:sha-256 ${fp}:00`]),
      'a line a lenient parser skips (two spaces) beside the pinned one': sdp(
        [],
        [`a=fingerprint:sha-256 ${fp}`, `a=fingerprint:sha-512  ${sha512}`],
      ),
      'a line hidden after a bare CR': sdp([], [`a=fingerprint:sha-256 ${fp}\ra=fingerprint:sha-512 ${sha512}`]),
    };
    for (const [name, text] of Object.entries(attacks)) {
      const result = sdpFingerprint(text);
      assert.ok(!result.ok && result.error.code === 'FINGERPRINT_MISMATCH', name);
    }
  });

  test('property: accepted exactly when the SDP holds one fingerprint line and it is a well-formed sha-256 one', () => {
    const hex = (n: number) =>
      fc.uint8Array({ minLength: n, maxLength: n }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
    const line = fc.record({
      algorithm: fc.constantFrom('sha-256', 'SHA-256', 'sha-1', 'sha-384', 'sha-512', 'md5'),
      value: fc.oneof(hex(32), hex(48), hex(64), hex(20)),
      upper: fc.boolean(),
      level: fc.constantFrom('session', 'media'),
    });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 4 }), fc.constantFrom('\r\n', '\n'), (lines, eol) => {
        const text = (l: { algorithm: string; value: string; upper: boolean }) =>
          `a=fingerprint:${l.algorithm} ${l.upper ? l.value.toUpperCase() : l.value}`;
        const result = sdpFingerprint(
          sdp(lines.filter((l) => l.level === 'session').map(text), lines.filter((l) => l.level === 'media').map(text), eol),
        );
        const valid = lines.length === 1 && lines[0]!.algorithm.toLowerCase() === 'sha-256' && lines[0]!.value.length === 95;
        assert.equal(result.ok, valid, JSON.stringify(lines));
        if (result.ok) assert.equal(result.value, lines[0]!.value.toUpperCase());
        else assert.equal(result.error.code, 'FINGERPRINT_MISMATCH');
      }),
      { numRuns: 3000 },
    );
  });
});
