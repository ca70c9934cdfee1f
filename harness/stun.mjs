// The STUN/TURN message code the TURN probes share (RFC 8489 / 8656): building requests with
// long-term credentials, parsing answers, and one request/answer exchange over UDP with retries.
import { createHash, createHmac, randomBytes } from 'node:crypto';

export const MAGIC = 0x2112a442;
export const METHOD = { ALLOCATE: 0x0003, REFRESH: 0x0004, CREATE_PERMISSION: 0x0008, CHANNEL_BIND: 0x0009 };
export const ATTR = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  CHANNEL_NUMBER: 0x000c,
  LIFETIME: 0x000d,
  XOR_PEER_ADDRESS: 0x0012,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_TRANSPORT: 0x0019,
};

export function attribute(type, value) {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

/** The long-term credential key: MD5 of `username:realm:password`. */
export function longTermKey(username, realm, password) {
  return createHash('md5')
    .update(`${username}:${realm.toString('utf8')}:${password}`)
    .digest();
}

/** A request; with `key`, MESSAGE-INTEGRITY over everything before it, length counting it. */
export function request(method, attributes, key) {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(method, 0);
  header.writeUInt32BE(MAGIC, 4);
  randomBytes(12).copy(header, 8);
  let body = Buffer.concat(attributes);
  if (key) {
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac('sha1', key)
      .update(Buffer.concat([header, body]))
      .digest();
    body = Buffer.concat([body, attribute(ATTR.MESSAGE_INTEGRITY, mac)]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** The message type, whether it is a success answer (class bits 0b10; errors are 0b11), and its attributes. */
export function parse(message) {
  const type = message.readUInt16BE(0);
  const attrs = new Map();
  for (let at = 20; at + 4 <= message.length; ) {
    const attrType = message.readUInt16BE(at);
    const length = message.readUInt16BE(at + 2);
    attrs.set(attrType, message.subarray(at + 4, at + 4 + length));
    at += 4 + Math.ceil(length / 4) * 4;
  }
  return { type, success: (type & 0x0110) === 0x0100, attrs };
}

/** Sends `message` from `socket` to host:port, again every 500 ms up to 5 times, and resolves with the parsed answer. */
export function exchange(socket, message, host, port) {
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
