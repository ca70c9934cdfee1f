/**
 * `tether-exec`: a console in Node, and the executable example of protocol/README.md ("Writing a
 * console"). It pairs with an agent from a printed token, then runs a command in a container over
 * the agent's LAN endpoint or a cloud signaling server and prints its output, exiting with the
 * command's exit code; with no command and a terminal on stdin, it is an interactive shell.
 *
 *   tether-exec pair <token> [--name <console name>]
 *   tether-exec [--signaling-url <url> --token <token>] <agentId> <container> [-- <command …>]
 *
 * It uses @tether/protocol for every message and werift for WebRTC, and does what the README says
 * a non-browser console must: one persisted DTLS certificate for every peer connection, exactly one
 * sha-256 fingerprint line, the pin checked on the SDP and on the certificate DTLS used, the
 * binding signed over those certificates, candidates trickled both ways.
 */
import { createHash, createHmac, createPublicKey, verify } from 'node:crypto';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import { z } from 'zod';
import {
  bindingInput,
  CONTROL_CHANNEL_LABEL,
  encodeMessage,
  fingerprintOf,
  fromBase64Url,
  lanAuthInput,
  LanAuthAck,
  LanHello,
  pairingProofInput,
  parseAgentControl,
  parseAgentTtyFrame,
  parsePairingToken,
  parseValue,
  PairedAgent,
  sdpFingerprint,
  SIGNALING_ACK_TIMEOUT_MS,
  toBase64Url,
  TTY_CHANNEL_PREFIX,
  TTY_PROTOCOL,
  type AgentControlMessage,
} from '@tether/protocol';
import { exitOnceWritten } from '@tether/socket-bounds';
import { loadIdentity, signWithIdentity, type AgentKeys } from '../src/trust/identity.js';
import { readJsonFile, writeJsonFile } from '../src/trust/state-files.js';

const USAGE = `usage:
  tether-exec pair <token> [--name <console name>] [--state-dir <dir>]
  tether-exec [--signaling-url <url> --token <token>] [--state-dir <dir>] [--loopback] <agentId> <container> [-- <command …>]

Runs <command> in <container> on the agent <agentId> and exits with its exit code; with no command
and a terminal on stdin, opens an interactive shell. Without --signaling-url the agent is reached
over its LAN endpoint, which needs a pairing first (tether-exec pair <token printed by
tether-agent pair>). State (the console's key and certificate, paired agents) is kept in
--state-dir, by default ~/.config/tether-exec. --loopback gathers ICE candidates on 127.0.0.1
only, for an agent on this machine.`;

/** An agent this console paired with (the same record the desktop console keeps). */
const PairedRecord = PairedAgent.pick({ agentId: true, name: true, fingerprint: true, publicKey: true }).extend({
  endpoints: z.array(z.string()),
  consoleId: z.string(),
});
type PairedRecord = z.infer<typeof PairedRecord>;

class ExecError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

function fail(message: string, exitCode = 2): never {
  throw new ExecError(message, exitCode);
}

/** The paired agents in the state folder, by id. */
function pairedAgents(stateDir: string): Record<string, PairedRecord> {
  const read = readJsonFile(join(stateDir, 'paired.json'), {});
  if (!read.ok) fail(read.error);
  const parsed = z.record(z.string(), PairedRecord).safeParse(read.value);
  if (!parsed.success) fail(`${join(stateDir, 'paired.json')} is damaged; move it away and pair again`);
  return parsed.data;
}

async function identity(stateDir: string): Promise<AgentKeys> {
  const keys = await loadIdentity(stateDir);
  if (!keys.ok) fail(keys.error);
  return keys.value;
}

/** Waits for `event` once, or fails after `ms` with `what`. */
function once<T>(socket: Socket, event: string, what: string, ms = SIGNALING_ACK_TIMEOUT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new ExecError(`no ${what} within ${ms / 1000} s`)), ms);
    socket.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
    socket.once('connect_error', (error: Error) => {
      clearTimeout(timer);
      reject(new ExecError(`cannot connect: ${error.message}`));
    });
  });
}

async function emitWithAck(socket: Socket, event: string, payload: unknown): Promise<unknown> {
  try {
    return await socket.timeout(SIGNALING_ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch (cause) {
    fail(`${event} not acknowledged: ${(cause as Error).message}`);
  }
}

/** A LAN socket to one of the agent's endpoints, greeted (`lan:hello`) by the expected agent. */
async function lanSocket(endpoints: string[], agentId: string): Promise<{ socket: Socket; nonce: string }> {
  const reasons: string[] = [];
  for (const endpoint of endpoints) {
    const socket = io(`http://${endpoint}`, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      const hello = parseValue(LanHello, await once<unknown>(socket, 'lan:hello', `lan:hello from ${endpoint}`));
      if (!hello.ok) fail(`${endpoint}: ${hello.error.message}`);
      if (hello.value.agentId !== agentId) fail(`${endpoint} is agent ${hello.value.agentId}, not ${agentId}`);
      return { socket, nonce: hello.value.nonce };
    } catch (error) {
      socket.disconnect();
      reasons.push(`${endpoint}: ${(error as Error).message}`);
    }
  }
  fail(`no LAN endpoint of ${agentId} answered (${reasons.join('; ')})`);
}

function authAck(raw: unknown, what: string) {
  const ack = parseValue(LanAuthAck, raw);
  if (!ack.ok) fail(`${what}: ${ack.error.message}`);
  if (!ack.value.ok) fail(`${what} refused: ${ack.value.error.code}: ${ack.value.error.message}`);
  return ack.value;
}

/** `tether-exec pair <token>`: enrolls this console's key and certificate with the agent. */
async function pair(stateDir: string, text: string, name: string): Promise<void> {
  const token = parsePairingToken(text.replace(/\s+/g, ''));
  if (!token.ok) fail(`${token.error.code}: ${token.error.message}`);
  const t = token.value;
  if (t.expiresAt < Date.now()) fail('PAIRING_EXPIRED: the token has expired; run tether-agent pair again');
  const keys = await identity(stateDir);
  const { socket } = await lanSocket(t.endpoints, t.agentId);
  try {
    const key = createHash('sha256').update(fromBase64Url(t.secret)!).digest();
    const proof = createHmac('sha256', key)
      .update(pairingProofInput({ pairingId: t.pairingId, agentId: t.agentId, publicKey: keys.publicKey, fingerprint: keys.fingerprint }))
      .digest('base64url');
    const ack = authAck(
      await emitWithAck(socket, 'pair:enroll', {
        pairingId: t.pairingId,
        consoleName: name,
        publicKey: keys.publicKey,
        fingerprint: keys.fingerprint,
        proof,
      }),
      'pairing',
    );
    // The agent that answered must be the token's: its certificate's fingerprint, and its identity key inside that certificate.
    const certificate = Buffer.from(fromBase64Url(ack.agent.certificate) ?? []);
    if (fingerprintOf(createHash('sha256').update(certificate).digest()) !== t.fingerprint)
      fail('FINGERPRINT_MISMATCH: the agent that answered is not the one the token names');
    if (!certificate.includes(Buffer.from(fromBase64Url(ack.agent.publicKey) ?? [1])))
      fail("FINGERPRINT_MISMATCH: the agent's key is not its certificate's");
    const all = pairedAgents(stateDir);
    all[t.agentId] = {
      agentId: t.agentId,
      name: t.name,
      endpoints: t.endpoints,
      fingerprint: t.fingerprint,
      publicKey: ack.agent.publicKey,
      consoleId: ack.consoleId,
    };
    writeJsonFile(join(stateDir, 'paired.json'), all);
    process.stdout.write(`paired with ${t.name} (${t.agentId}) as console ${ack.consoleId}\n`);
  } finally {
    socket.disconnect();
  }
}

/** The signaling path: `send` for webrtc:* events, `on` for what comes back for this negotiation. */
interface Signaling {
  socket: Socket;
  close(): void;
}

async function cloudSignaling(url: string, token: string, agentId: string): Promise<Signaling> {
  const socket = io(url, { auth: { role: 'console', token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const listed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ExecError(`agent ${agentId} is not online at ${url}`)), SIGNALING_ACK_TIMEOUT_MS);
    // The snapshot, then diffs (protocol/README.md, "Presence"): the agent in either is online.
    const seen = (agents: { agentId: string }[] | undefined) => {
      if (!agents?.some((a) => a.agentId === agentId)) return;
      clearTimeout(timer);
      resolve();
    };
    socket.on('presence:snapshot', (snapshot: { agents?: { agentId: string }[] }) => seen(snapshot.agents));
    socket.on('presence:diff', (diff: { joins?: { agentId: string }[] }) => seen(diff.joins));
    socket.once('connect_error', (error: Error) => {
      clearTimeout(timer);
      reject(new ExecError(`cannot connect to ${url}: ${error.message}`));
    });
  });
  await listed;
  return { socket, close: () => socket.disconnect() };
}

async function lanSignaling(record: PairedRecord, keys: AgentKeys): Promise<Signaling> {
  const { socket, nonce } = await lanSocket(record.endpoints, record.agentId);
  const signature = signWithIdentity(keys, lanAuthInput({ agentId: record.agentId, consoleId: record.consoleId, nonce }));
  authAck(await emitWithAck(socket, 'lan:auth', { consoleId: record.consoleId, signature }), 'authentication');
  return { socket, close: () => socket.disconnect() };
}

/** One peer connection to the agent, checked and bound; resolves with its channels once `ready`. */
async function connect(signaling: Signaling, agentId: string, keys: AgentKeys, paired: PairedRecord | undefined, loopback: boolean) {
  const sessionId = toBase64Url(createHash('sha256').update(`${Date.now()}-${Math.random()}`).digest().subarray(0, 16));
  const pc = new RTCPeerConnection({
    // The same certificate on every connection: the agent pins it (pairing) and resumes by it.
    dtls: { keys: { certPem: keys.certPem, keyPem: keys.keyPem, signatureHash: { hash: 4, signature: 3 } } },
    ...(loopback ? { iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceUseIpv6: false } : {}),
  });
  const socket = signaling.socket;
  let refused: string | undefined;
  socket.on('webrtc:answer', async (message: { sessionId: string; sdp: string }) => {
    if (message.sessionId !== sessionId) return;
    const declared = sdpFingerprint(message.sdp);
    if (!declared.ok) return void (refused = `FINGERPRINT_MISMATCH: ${declared.error.message}`);
    if (paired && declared.value !== paired.fingerprint)
      return void (refused = `FINGERPRINT_MISMATCH: the answer's certificate is ${declared.value}, the paired agent's ${paired.fingerprint}`);
    await pc
      .setRemoteDescription({ type: 'answer', sdp: message.sdp })
      .catch((error: unknown) => (refused = `the answer was refused: ${String(error)}`));
  });
  socket.on(
    'webrtc:ice',
    (message: { sessionId: string; candidate: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null } | null }) => {
      // An agent's end-of-candidates (null) is not passed on; a candidate may trickle after the answer.
      if (message.sessionId === sessionId && message.candidate) {
        void pc
          .addIceCandidate({
            candidate: message.candidate.candidate,
            sdpMid: message.candidate.sdpMid ?? undefined,
            sdpMLineIndex: message.candidate.sdpMLineIndex ?? undefined,
          })
          .catch(() => undefined);
      }
    },
  );
  socket.on('webrtc:disconnect', (message: { sessionId: string; reason: string; code?: string; offline?: boolean }) => {
    if (message.sessionId === sessionId && !message.offline) refused = `${message.code ?? 'DISCONNECTED'}: ${message.reason}`;
  });
  pc.onIceCandidate.subscribe((candidate) => {
    const json = candidate?.toJSON();
    socket.emit('webrtc:ice', {
      sessionId,
      candidate: json ? { candidate: json.candidate, sdpMid: json.sdpMid, sdpMLineIndex: json.sdpMLineIndex } : null,
    });
  });
  const control = pc.createDataChannel(CONTROL_CHANNEL_LABEL, { protocol: TTY_PROTOCOL });
  const tty = pc.createDataChannel(`${TTY_CHANNEL_PREFIX}exec`, { protocol: TTY_PROTOCOL });
  await pc.setLocalDescription(await pc.createOffer());
  const offered = (await emitWithAck(socket, 'webrtc:offer', { sessionId, agentId, sdp: pc.localDescription!.sdp })) as {
    ok: boolean;
    error?: { code: string; message: string };
  };
  if (!offered.ok) fail(`${offered.error?.code}: ${offered.error?.message}`);
  const until = async (done: () => boolean, what: string) => {
    for (const started = Date.now(); !done(); ) {
      if (refused) fail(refused);
      if (Date.now() - started > 30_000) fail(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await until(() => control.readyState === 'open', 'the control channel');
  // The pin, on the certificate DTLS actually used: before anything is sent on a channel.
  const der = pc.dtlsTransports.map((t) => t.dtls?.remoteCertificate).find((c) => c !== undefined);
  if (!der) fail('the DTLS handshake left no certificate to check');
  const observed = fingerprintOf(createHash('sha256').update(der).digest());
  if (paired && observed !== paired.fingerprint)
    fail(`FINGERPRINT_MISMATCH: the DTLS handshake presented ${observed}, the paired agent's is ${paired.fingerprint}`);
  const controlMessages: AgentControlMessage[] = [];
  control.onMessage.subscribe((data) => {
    const parsed = typeof data === 'string' ? parseAgentControl(data) : undefined;
    if (parsed?.ok) {
      controlMessages.push(parsed.value);
      if (parsed.value.type === 'ping')
        control.send(encodeMessage({ type: 'pong', ...(parsed.value.id === undefined ? {} : { id: parsed.value.id }) }));
    }
  });
  const consoleNonce = toBase64Url(createHash('sha256').update(`${sessionId}-nonce-${Math.random()}`).digest().subarray(0, 16));
  control.send(
    encodeMessage({
      type: 'hello',
      protocol: TTY_PROTOCOL,
      peer: { kind: 'console', version: 'tether-exec' },
      capabilities: [],
      nonce: consoleNonce,
    }),
  );
  await until(() => controlMessages.some((m) => m.type === 'hello' || (m.type === 'error' && m.fatal === true)), "the agent's hello");
  const hello = controlMessages.find((m) => m.type === 'hello');
  if (!hello || hello.type !== 'hello') fail(`refused: ${JSON.stringify(controlMessages.at(-1))}`);
  if (hello.protocol !== TTY_PROTOCOL) fail(`UNSUPPORTED_PROTOCOL: the agent speaks ${hello.protocol}`);
  if (paired) {
    const common = {
      negotiationId: sessionId,
      agentFingerprint: observed,
      consoleFingerprint: keys.fingerprint,
      agentNonce: hello.nonce ?? '',
      consoleNonce,
    };
    const agentKey = createPublicKey({ key: Buffer.from(fromBase64Url(paired.publicKey)!), format: 'der', type: 'spki' });
    if (
      !hello.signature ||
      !verify(
        'sha256',
        bindingInput({ role: 'agent', ...common }),
        { key: agentKey, dsaEncoding: 'ieee-p1363' },
        Buffer.from(fromBase64Url(hello.signature) ?? []),
      )
    ) {
      fail("FINGERPRINT_MISMATCH: the agent's binding signature does not verify: this is not the agent you paired with");
    }
    control.send(
      encodeMessage({
        type: 'auth',
        consoleId: paired.consoleId,
        signature: signWithIdentity(keys, bindingInput({ role: 'console', ...common })),
      }),
    );
    await until(() => controlMessages.some((m) => m.type === 'auth-ok' || (m.type === 'error' && m.fatal === true)), 'auth-ok');
    const answer = controlMessages.find((m) => m.type === 'auth-ok' || m.type === 'error');
    if (answer?.type !== 'auth-ok') fail(`refused: ${JSON.stringify(answer)}`);
  } else if (hello.auth === 'required') {
    fail('NOT_PAIRED: this agent serves paired consoles only; run tether-exec pair <token> first');
  }
  await until(() => tty.readyState === 'open', 'the terminal channel');
  return {
    tty,
    close: async () => {
      // Bounded: the command's result is known by now, and a close that does not finish must not
      // keep tether-exec from exiting with it. The agent's answer to the disconnect is awaited, so
      // that it closes its side at once rather than when the path times out (some 30 s later).
      const deadline = new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref());
      await Promise.race([
        socket
          .timeout(CLOSE_WAIT_MS)
          .emitWithAck('webrtc:disconnect', { sessionId, reason: 'tether-exec done' })
          .catch(() => undefined),
        deadline,
      ]);
      await Promise.race([pc.close(), deadline]);
    },
  };
}

/** How long tether-exec waits for its peer connection to close once the command has ended. */
const CLOSE_WAIT_MS = 2000;

/** Runs `command` (or an interactive shell) on the open terminal channel; resolves with the exit code. */
function runOnTerminal(tty: RTCDataChannel, target: string, command: string | undefined): Promise<number> {
  const interactive = command === undefined;
  const cols = process.stdout.columns || 80;
  const rows = process.stdout.rows || 24;
  return new Promise((resolve, reject) => {
    let started = false;
    let unacked = 0;
    // The command's output starts after this marker, which only printf's output contains (the
    // line that prints it is echoed before `stty -echo` has run, with the marker as `\036` text).
    const marker = Buffer.from('\x1eTETHER-EXEC\x1e');
    let pending = Buffer.alloc(0);
    const write = (bytes: Buffer) => {
      if (interactive) return void process.stdout.write(bytes);
      if (!started) {
        pending = Buffer.concat([pending, bytes]);
        const at = pending.indexOf(marker);
        if (at < 0) return;
        started = true;
        bytes = pending.subarray(at + marker.length);
        // The shell becomes the command: its exit code is the session's, and no prompt or `exit` follows.
        tty.send(Buffer.from(`exec sh -c '${command!.replaceAll("'", "'\\''")}'\n`));
      }
      process.stdout.write(bytes);
    };
    tty.onMessage.subscribe((data) => {
      const frame = parseAgentTtyFrame(data);
      if (!frame.ok) return;
      const message = frame.value;
      if (message.kind === 'bytes') {
        write(Buffer.from(message.bytes));
        unacked += message.bytes.length;
        if (unacked >= 32 * 1024) {
          tty.send(encodeMessage({ type: 'ack', bytes: unacked }));
          unacked = 0;
        }
        return;
      }
      const m = message.message;
      if (m.type === 'opened') {
        if (interactive) {
          process.stdin.setRawMode?.(true);
          process.stdin.on('data', (chunk: Buffer) => tty.send(chunk));
          process.stdout.on('resize', () =>
            tty.send(encodeMessage({ type: 'resize', cols: process.stdout.columns, rows: process.stdout.rows })),
          );
        } else {
          // No echo, no CR before LF: the output is the command's own bytes.
          tty.send(Buffer.from("stty -echo -onlcr 2>/dev/null; PS1=; printf '\\036TETHER-EXEC\\036'\n"));
        }
      } else if (m.type === 'exit') {
        resolve(m.code ?? 1);
      } else if (m.type === 'error' && m.fatal) {
        reject(new ExecError(`${m.code}: ${m.message}`));
      } else if (m.type === 'ping') {
        tty.send(encodeMessage({ type: 'pong', ...(m.id === undefined ? {} : { id: m.id }) }));
      }
    });
    // Unacked bytes below a batch are acknowledged now and then, as a console does when output pauses.
    const timer = setInterval(() => {
      if (unacked > 0 && tty.readyState === 'open') {
        tty.send(encodeMessage({ type: 'ack', bytes: unacked }));
        unacked = 0;
      }
    }, 50);
    timer.unref();
    // A channel that closes before `exit` (the agent stopped, the path failed for good) ends the
    // run with an error instead of leaving it waiting.
    tty.stateChanged.subscribe((state) => {
      if (state === 'closed') reject(new ExecError('the terminal channel closed before the command exited', 1));
    });
    tty.send(encodeMessage({ type: 'open', target, cols, rows }));
  });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'signaling-url': { type: 'string' },
      token: { type: 'string' },
      'state-dir': { type: 'string' },
      name: { type: 'string' },
      loopback: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const stateDir = values['state-dir'] ?? join(homedir(), '.config', 'tether-exec');
  if (positionals[0] === 'pair') {
    if (!positionals[1]) fail(`pair needs the token\n${USAGE}`);
    await pair(stateDir, positionals.slice(1).join(''), values.name ?? `tether-exec on ${process.env['HOSTNAME'] ?? 'this host'}`);
    return 0;
  }
  const [agentId, target, ...command] = positionals;
  if (!agentId || !target) fail(USAGE);
  if (command.length === 0 && !process.stdin.isTTY) fail('no command, and stdin is not a terminal for an interactive shell');
  const keys = await identity(stateDir);
  const paired = pairedAgents(stateDir)[agentId];
  let signaling: Signaling;
  if (values['signaling-url']) {
    if (!values.token) fail('--signaling-url needs --token (a console token of that server)');
    signaling = await cloudSignaling(values['signaling-url'], values.token, agentId);
  } else {
    if (!paired) fail(`agent ${agentId} is not paired with this console: run tether-exec pair <token> first, or give --signaling-url`);
    signaling = await lanSignaling(paired, keys);
  }
  try {
    const connection = await connect(signaling, agentId, keys, paired, values.loopback === true);
    try {
      return await runOnTerminal(connection.tty, target, command.length > 0 ? command.join(' ') : undefined);
    } finally {
      await connection.close();
    }
  } finally {
    signaling.close();
  }
}

// A reader that went away (`tether-exec … | head`) is not an error of the command.
process.stdout.on('error', () => undefined);

main(process.argv.slice(2)).then(
  // Once stdout has taken all of the output, however slow its reader (protocol/README.md, "Writing a console").
  (code) => exitOnceWritten(code),
  (error: unknown) => {
    process.stderr.write(`tether-exec: ${error instanceof Error ? error.message : String(error)}\n`);
    exitOnceWritten(error instanceof ExecError ? error.exitCode : 1);
  },
);
