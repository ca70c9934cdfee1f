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
import { createHash, createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

const [host, portText, username, password, refreshAfterText, peerIp, lifetimeText] = process.argv.slice(2);
const port = Number(portText);
const MAGIC = 0x2112a442;
const METHOD = { ALLOCATE: 0x0003, REFRESH: 0x0004, CREATE_PERMISSION: 0x0008, CHANNEL_BIND: 0x0009 };
const ATTR = {
  CHANNEL_NUMBER: 0x000c, LIFETIME: 0x000d, USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009,
  XOR_PEER_ADDRESS: 0x0012, REALM: 0x0014, NONCE: 0x0015, REQUESTED_TRANSPORT: 0x0019,
};

function attribute(type, value) {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

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

/** A request; with `key`, MESSAGE-INTEGRITY over everything before it, length counting it. */
function request(method, attributes, key) {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(method, 0);
  header.writeUInt32BE(MAGIC, 4);
  randomBytes(12).copy(header, 8);
  let body = Buffer.concat(attributes);
  if (key) {
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac('sha1', key).update(Buffer.concat([header, body])).digest();
    body = Buffer.concat([body, attribute(ATTR.MESSAGE_INTEGRITY, mac)]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function parse(message) {
  const attrs = new Map();
  for (let at = 20; at + 4 <= message.length; ) {
    const attrType = message.readUInt16BE(at);
    const length = message.readUInt16BE(at + 2);
    attrs.set(attrType, message.subarray(at + 4, at + 4 + length));
    at += 4 + Math.ceil(length / 4) * 4;
  }
  // Success responses have class bits 0b10 (0x0100), errors 0b11 (0x0110).
  return { success: (message.readUInt16BE(0) & 0x0110) === 0x0100, attrs };
}

function exchange(socket, message) {
  return new Promise((resolve, reject) => {
    let tries = 0;
    const timer = setInterval(() => {
      if (++tries > 5) {
        clearInterval(timer);
        reject(new Error('no answer from the TURN server'));
      } else socket.send(message, port, host);
    }, 500);
    socket.once('message', (answer) => {
      clearInterval(timer);
      resolve(parse(answer));
    });
    socket.send(message, port, host);
  });
}

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
      const key = this.nonce ? createHash('md5').update(`${username}:${this.realm.toString('utf8')}:${password}`).digest() : undefined;
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
    report.channelBind = await session.send(METHOD.CHANNEL_BIND, [attribute(ATTR.CHANNEL_NUMBER, Buffer.from([0x40, 0x00, 0, 0])), xorAddress(peerIp, 40000)]);
    report.newAllocate = await fresh.send(METHOD.ALLOCATE, [transport, ...lifetime]);
  }
} catch (error) {
  report.error = String(error);
}
console.log(JSON.stringify(report));
session.close();
fresh.close();
