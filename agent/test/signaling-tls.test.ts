/**
 * The agent reaching its signaling server over TLS (`--signaling-url https://…`), as every example
 * in the docs has it: the node itself speaks plain HTTP, and TLS ends in front of it (a load
 * balancer, a reverse proxy; here a TLS listener of the test's own that forwards to the node). The
 * real built agent, the real node, a certificate from a CA of the test's making:
 * - with the CA given to Node (`NODE_EXTRA_CA_CERTS`) the agent registers and a console sees it;
 * - without it the agent refuses the server, and its log names the certificate problem and what to
 *   do, where it used to say only "websocket error".
 */
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { io } from 'socket.io-client';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';

const CONSOLE_TOKEN = 'console-tls-0123456789abcdef';
const AGENT_TOKEN = 'agent-tls-0123456789abcdef';
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/** PEM of a private key. */
async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
}

/** A CA, and a server certificate it signed for localhost and 127.0.0.1. */
async function makeCertificates(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as never);
  const now = Date.now();
  const caKeys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Tether test CA',
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 24 * 3600_000),
    signingAlgorithm: ALGORITHM,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const serverKeys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 24 * 3600_000),
    signingAlgorithm: ALGORITHM,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  return { caPem: ca.toString('pem'), certPem: server.toString('pem'), keyPem: await keyPem(serverKeys.privateKey) };
}

/** The agents a console is told of (`presence:snapshot`), polled until `predicate` holds. */
async function consoleSees(url: string, agentId: string): Promise<void> {
  for (;;) {
    const socket = io(url, {
      auth: { role: 'console', token: CONSOLE_TOKEN },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const ids = await new Promise<string[]>((resolve) => {
      socket.once('presence:snapshot', (snapshot: { agents: { agentId: string }[] }) => resolve(snapshot.agents.map((a) => a.agentId)));
      socket.once('connect_error', () => resolve([]));
    });
    socket.disconnect();
    if (ids.includes(agentId)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the agent and a signaling server behind TLS', () => {
  let signaling: Awaited<ReturnType<typeof startSignalingServer>>;
  let front: TlsServer;
  let httpsUrl = '';
  let caFile = '';
  const agents: AgentProcess[] = [];

  before(async () => {
    const certs = await makeCertificates();
    caFile = join(mkdtempSync(join(tmpdir(), 'tether-tls-ca-')), 'ca.pem');
    writeFileSync(caFile, certs.caPem);
    signaling = await startSignalingServer({
      port: 0,
      host: '127.0.0.1',
      consoleTokens: [CONSOLE_TOKEN],
      agentTokens: [AGENT_TOKEN],
      logger: createJsonLogger({ level: 'warn', write: () => undefined }),
    });
    const backend = new URL(signaling.url);
    // TLS ends here, as at a reverse proxy; the bytes go on to the node as they are.
    front = createTlsServer({ key: certs.keyPem, cert: certs.certPem }, (client) => {
      const upstream = tcpConnect(Number(backend.port), backend.hostname);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    front.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    httpsUrl = `https://localhost:${(front.address() as { port: number }).port}`;
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await new Promise((resolve) => front?.close(resolve));
    await signaling?.close();
  });

  test('with its CA given to Node (NODE_EXTRA_CA_CERTS), the agent registers over https and a console sees it', async () => {
    const agent = await startAgent({
      signalingUrl: httpsUrl,
      token: AGENT_TOKEN,
      agentId: 'tls-agent',
      name: 'TLS agent',
      env: { NODE_EXTRA_CA_CERTS: caFile },
    });
    agents.push(agent);
    await consoleSees(signaling.url, 'tls-agent');
    assert.ok(!agent.logs().some((line) => line.includes('signaling connection failed')), agent.logs().join('\n'));
  });

  test('without it, the agent refuses the server, and its log says why and what to do', async () => {
    const agent = await startAgent({
      signalingUrl: httpsUrl,
      token: AGENT_TOKEN,
      agentId: 'tls-untrusted',
      name: 'Untrusted',
      readyMessage: 'signaling connection failed',
    });
    agents.push(agent);
    const failure = agent.logs().find((line) => line.includes('"msg":"signaling connection failed"'))!;
    const entry = JSON.parse(failure.slice(failure.indexOf('{'))) as { error: string };
    assert.match(entry.error, /certificate/i, failure);
    assert.match(entry.error, /NODE_EXTRA_CA_CERTS/, failure);
  });
});
