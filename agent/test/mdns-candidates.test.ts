/**
 * Regression: the first connection from Chromium waited ~10 s while werift resolved Chromium's
 * `.local` host candidates over multicast DNS (and a late answer could add a pair on another
 * interface mid-session). Those candidates are now dropped before they reach werift.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMdnsCandidate } from '../src/peer.js';

test('Chromium mDNS host candidates are recognised', () => {
  assert.equal(
    isMdnsCandidate(
      'candidate:3170283429 1 udp 2113937151 8f3c1a52-6a5e-4b4e-9f0e-2f1b0c9d7e6a.local 54321 typ host generation 0 ufrag abcd network-cost 999',
    ),
    true,
  );
  assert.equal(isMdnsCandidate('candidate:1 1 udp 2113937151 ABCDEF.LOCAL 1 typ host'), true);
});

test('candidates with addresses are kept', () => {
  assert.equal(isMdnsCandidate('candidate:1 1 udp 2113937151 127.0.0.1 54321 typ host'), false);
  assert.equal(isMdnsCandidate('candidate:2 1 udp 1677729535 203.0.113.7 40000 typ srflx raddr 0.0.0.0 rport 0'), false);
  assert.equal(isMdnsCandidate('candidate:3 1 udp 41885439 198.51.100.2 3478 typ relay raddr 203.0.113.7 rport 40000'), false);
  assert.equal(isMdnsCandidate('candidate:4 1 udp 2113937151 fe80::1 5000 typ host'), false);
  assert.equal(isMdnsCandidate(''), false);
});
