#!/usr/bin/env node
// Keeps a TURN allocation past its credential's expiry, as a long relayed session does: an Allocate
// with long-term credentials (RFC 8656; the 401 challenge, then USERNAME and MESSAGE-INTEGRITY),
// then, once `refreshAfterMs` (Unix ms) has passed, the requests a client sends on that allocation
// with the same username: Refresh, CreatePermission and ChannelBind (a 438 stale nonce is answered
// with the new nonce, as clients do); then a new Allocate from another port with that username.
// Run inside a test namespace; prints one JSON line, each step {ok, code?, reason?, lifetime?}:
//   {"allocate":{"ok":true,"lifetime":600},"refresh":{"ok":true,"lifetime":600},
//    "createPermission":{"ok":true},"channelBind":{"ok":true},"newAllocate":{"ok":false,"code":401}}
//
//   node turn-refresh-probe.mjs <host> <port> <username> <password> <refreshAfterMs> <peer ip> [lifetime s]
import dgram from 'node:dgram';
import { ATTR, attribute, exchange as exchangeWith, longTermKey, MAGIC, METHOD, request } from './stun.mjs';

const [host, portText, username, password, refreshAfterText, peerIp, lifetimeText] = process.argv.slice(2);
const port = Number(portText);

function uint32(value) {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

/** XOR-PEER-ADDRESS for an IPv4 address and port. */
function xorAddress(ip, peerPort) {
  const value = Buffer.alloc(8);
  value.writeUInt8(0x01, 1);
  value.writeUInt16BE(peerPort ^ (MAGIC >>> 16), 2);
  const packed = ip.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
  value.writeUInt32BE((packed ^ MAGIC) >>> 0, 4);
  return attribute(ATTR.XOR_PEER_ADDRESS, value);
}

const exchange = (socket, message) => exchangeWith(socket, message, host, port);

function outcome(answer) {
  const lifetime = answer.attrs.get(ATTR.LIFETIME);
  if (answer.success) return { ok: true, ...(lifetime ? { lifetime: lifetime.readUInt32BE(0) } : {}) };
  const error = answer.attrs.get(ATTR.ERROR_CODE);
  return { ok: false, code: error ? error[2] * 100 + error[3] : undefined, reason: error?.subarray(4).toString('utf8') };
}

/** One allocation's authentication state: the realm and nonce of the last challenge. */
class Session {
  constructor() {
    this.socket = dgram.createSocket('udp4');
  }

  /** Sends `method`, authenticated once a challenge gave a realm and nonce; answers the first 401 and a 438 (stale nonce) once. */
  async send(method, attributes) {
    let result;
    for (let attempt = 0; attempt < 2; attempt++) {
      const auth = this.nonce
        ? [attribute(ATTR.USERNAME, Buffer.from(username)), attribute(ATTR.REALM, this.realm), attribute(ATTR.NONCE, this.nonce)]
        : [];
      const key = this.nonce ? longTermKey(username, this.realm, password) : undefined;
      const answer = await exchange(this.socket, request(method, [...attributes, ...auth], key));
      result = outcome(answer);
      const nonce = answer.attrs.get(ATTR.NONCE);
      const challenge = !result.ok && nonce && (result.code === 438 || (result.code === 401 && !this.nonce));
      if (!challenge) return result;
      this.nonce = nonce;
      this.realm = answer.attrs.get(ATTR.REALM) ?? this.realm;
    }
    return result;
  }

  close() {
    this.socket.close();
  }
}

const transport = attribute(ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0]));
const lifetime = lifetimeText ? [attribute(ATTR.LIFETIME, uint32(Number(lifetimeText)))] : [];
const report = {};
const session = new Session();
const fresh = new Session();
try {
  report.allocate = await session.send(METHOD.ALLOCATE, [transport, ...lifetime]);
  if (report.allocate.ok) {
    const wait = Number(refreshAfterText) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    report.refresh = await session.send(METHOD.REFRESH, lifetime);
    report.createPermission = await session.send(METHOD.CREATE_PERMISSION, [xorAddress(peerIp, 0)]);
    report.channelBind = await session.send(METHOD.CHANNEL_BIND, [
      attribute(ATTR.CHANNEL_NUMBER, Buffer.from([0x40, 0x00, 0, 0])),
      xorAddress(peerIp, 40000),
    ]);
    report.newAllocate = await fresh.send(METHOD.ALLOCATE, [transport, ...lifetime]);
  }
} catch (error) {
  report.error = String(error);
}
console.log(JSON.stringify(report));
session.close();
fresh.close();
