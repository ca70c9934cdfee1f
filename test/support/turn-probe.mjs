#!/usr/bin/env node
// Asks a TURN server for an allocation over UDP with long-term credentials (RFC 5766 / 8656): the
// unauthenticated Allocate, its 401 with REALM and NONCE, then the Allocate with USERNAME and
// MESSAGE-INTEGRITY. Run inside a test namespace; prints one JSON line:
//   {"ok":true,"relayed":"10.99.0.2:49160"}  or  {"ok":false,"code":401,"reason":"Unauthorized"}
//
//   node turn-probe.mjs <host> <port> <username> <password>
import { createHash, createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

const [host, portText, username, password] = process.argv.slice(2);
const MAGIC = 0x2112a442;
const ALLOCATE = 0x0003;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, REALM: 0x0014, NONCE: 0x0015, XOR_RELAYED_ADDRESS: 0x0016, REQUESTED_TRANSPORT: 0x0019 };

function attribute(type, value) {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

/** A request; with `key`, MESSAGE-INTEGRITY over everything before it, length counting it. */
function request(attributes, key) {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(ALLOCATE, 0);
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
  const type = message.readUInt16BE(0);
  const attrs = new Map();
  for (let at = 20; at + 4 <= message.length; ) {
    const attrType = message.readUInt16BE(at);
    const length = message.readUInt16BE(at + 2);
    attrs.set(attrType, message.subarray(at + 4, at + 4 + length));
    at += 4 + Math.ceil(length / 4) * 4;
  }
  return { type, attrs };
}

const socket = dgram.createSocket('udp4');
function exchange(message) {
  return new Promise((resolve, reject) => {
    let tries = 0;
    const timer = setInterval(() => {
      if (++tries > 5) {
        clearInterval(timer);
        reject(new Error('no answer from the TURN server'));
      } else socket.send(message, Number(portText), host);
    }, 500);
    socket.once('message', (answer) => {
      clearInterval(timer);
      resolve(parse(answer));
    });
    socket.send(message, Number(portText), host);
  });
}

function outcome(answer) {
  if (answer.type === 0x0103) {
    const xored = answer.attrs.get(ATTR.XOR_RELAYED_ADDRESS);
    const port = xored.readUInt16BE(2) ^ (MAGIC >>> 16);
    const address = (xored.readUInt32BE(4) ^ MAGIC) >>> 0;
    return { ok: true, relayed: `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}:${port}` };
  }
  const error = answer.attrs.get(ATTR.ERROR_CODE);
  return { ok: false, code: error ? error[2] * 100 + error[3] : undefined, reason: error?.subarray(4).toString('utf8') };
}

const transport = attribute(ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0]));
try {
  const challenge = await exchange(request([transport]));
  const realm = challenge.attrs.get(ATTR.REALM);
  const nonce = challenge.attrs.get(ATTR.NONCE);
  if (challenge.type === 0x0103 || !realm || !nonce) {
    console.log(JSON.stringify({ ok: false, reason: 'the server did not ask for credentials' }));
  } else {
    const key = createHash('md5').update(`${username}:${realm.toString('utf8')}:${password}`).digest();
    const answer = await exchange(request([transport, attribute(ATTR.USERNAME, Buffer.from(username)), attribute(ATTR.REALM, realm), attribute(ATTR.NONCE, nonce)], key));
    console.log(JSON.stringify(outcome(answer)));
  }
} catch (error) {
  console.log(JSON.stringify({ ok: false, reason: String(error) }));
}
socket.close();
