#!/usr/bin/env node
// Asks a TURN server for an allocation over UDP with long-term credentials (RFC 5766 / 8656): the
// unauthenticated Allocate, its 401 with REALM and NONCE, then the Allocate with USERNAME and
// MESSAGE-INTEGRITY. Run inside a test namespace; prints one JSON line:
//   {"ok":true,"relayed":"10.99.0.2:49160"}  or  {"ok":false,"code":401,"reason":"Unauthorized"}
//
//   node turn-probe.mjs <host> <port> <username> <password>
import dgram from 'node:dgram';
import { ATTR, attribute, exchange as exchangeWith, longTermKey, MAGIC, METHOD, request as requestWith } from './stun.mjs';

const [host, portText, username, password] = process.argv.slice(2);
const socket = dgram.createSocket('udp4');
const exchange = (message) => exchangeWith(socket, message, host, Number(portText));
const request = (attributes, key) => requestWith(METHOD.ALLOCATE, attributes, key);

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
    const key = longTermKey(username, realm, password);
    const answer = await exchange(
      request(
        [transport, attribute(ATTR.USERNAME, Buffer.from(username)), attribute(ATTR.REALM, realm), attribute(ATTR.NONCE, nonce)],
        key,
      ),
    );
    console.log(JSON.stringify(outcome(answer)));
  }
} catch (error) {
  console.log(JSON.stringify({ ok: false, reason: String(error) }));
}
socket.close();
