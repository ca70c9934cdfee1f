/**
 * The agent's `file:` channel (agent/src/transfer) against a real Docker engine and busybox
 * containers, driven frame by frame through an in-memory channel: the protocol's rules (credit,
 * order, digest, size), the agent's rules per container, the session's ownership, a full disk,
 * and the shell's working directory read as the session's user when the host's /proc is not used.
 * Each case checks what is left in the container (never a file under its final name that should not
 * be there, never a temporary file) and the one audit record it wrote.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { TRANSFER_CHUNK_BYTES, TRANSFER_WINDOW_BYTES, TRANSFER_WINDOW_LIMIT_BYTES } from '@tether/protocol';
import { docker, ensureDocker, startContainer, TEST_IMAGE_SH, type TestContainer } from '../../harness/docker.js';
import { AuditLog } from '../src/audit.js';
import { SessionRegistry } from '../src/session-registry.js';
import { containerCwd } from '../src/transfer/container-files.js';
import { AgentFileChannel } from '../src/transfer/file-channel.js';
import { TransferRules, type TransferRulesConfig } from '../src/transfer/transfer-rules.js';
import { FakeChannel } from './support/fake-channel.js';
import { fakeTtySession } from './support/fake-tty-session.js';

const OWNER = 'console:test';
const HOME = '/home/plc';
let container: TestContainer;
let full: TestContainer;
let auditPath: string;
let audit: AuditLog;
const registry = new SessionRegistry();
const engine = new Docker();

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sh = (c: TestContainer, script: string) => docker('exec', '-u', '1000:1000', c.id, 'sh', '-c', script);

/** A stand-in for a terminal session: what a transfer reads of one (its container, user, owner). */
const fakeSession = (c: TestContainer, sessionId: string, owner = OWNER) => fakeTtySession(engine, c, sessionId, owner);

function channel(rules: Partial<TransferRulesConfig> = {}, owner = OWNER): { port: FakeChannel; file: AgentFileChannel } {
  const port = new FakeChannel('file:test');
  const file = new AgentFileChannel(port, {
    registry,
    rules: new TransferRules({ mode: 'both', maxBytes: 0, containers: {}, ...rules }),
    audit,
    who: { path: 'lan', connection: 'test-connection' },
    owner,
    peerId: 'test',
  });
  return { port, file };
}

function records(): Record<string, unknown>[] {
  let text = '';
  try {
    text = readFileSync(auditPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.event === 'transfer');
}

/** Waits for the channel's fatal error and returns its code. */
async function fatal(port: FakeChannel): Promise<string> {
  await port.until(() => port.messages().some((m) => m.type === 'error' && m.fatal === true), 'a fatal error');
  return String(port.messages().find((m) => m.type === 'error' && m.fatal === true)?.code);
}

async function accepted(port: FakeChannel): Promise<Record<string, unknown>> {
  await port.until(() => port.messages().some((m) => m.type === 'accept' || (m.type === 'error' && m.fatal === true)), 'accept');
  const accept = port.messages().find((m) => m.type === 'accept');
  assert.ok(accept, `accepted, not ${JSON.stringify(port.messages())}`);
  return accept;
}

/** Sends `bytes` in frames, waiting for the agent's acks whenever the window is full. */
async function sendAll(port: FakeChannel, bytes: Buffer): Promise<void> {
  const acked = () =>
    port
      .messages()
      .filter((m) => m.type === 'ack')
      .reduce((n, m) => n + Number(m.bytes), 0);
  for (let at = 0; at < bytes.length; at += TRANSFER_CHUNK_BYTES) {
    const frame = bytes.subarray(at, at + TRANSFER_CHUNK_BYTES);
    await port.until(
      () => at + frame.length - acked() <= TRANSFER_WINDOW_BYTES || port.messages().some((m) => m.type === 'error'),
      'credit',
    );
    port.deliver(frame);
  }
}

const leftovers = (c: TestContainer, dir: string) => sh(c, `ls -a ${dir} | grep -c tether-upload || true`);

before(async () => {
  await ensureDocker();
  container = await startContainer({ image: TEST_IMAGE_SH, namePrefix: 'files-agent' });
  full = await startContainer({
    image: TEST_IMAGE_SH,
    namePrefix: 'files-full',
    runArgs: ['--tmpfs', '/small:size=1m,uid=1000,gid=1000,mode=0755'],
  });
  auditPath = join(mkdtempSync(join(tmpdir(), 'tether-files-audit-')), 'audit.jsonl');
  audit = new AuditLog(auditPath);
  registry.add(fakeSession(container, 'session-a'));
  registry.add(fakeSession(full, 'session-full'));
  registry.add(fakeSession(container, 'session-other', 'console:someone-else'));
});

after(async () => {
  audit?.close();
  await Promise.all([container?.remove(), full?.remove()]);
});

test('an upload whose bytes and SHA-256 match is renamed into place and audited once', async () => {
  const before = records().length;
  const { port, file } = channel();
  const bytes = randomBytes(3 * 1024 * 1024 + 17);
  port.deliver({
    type: 'offer',
    direction: 'upload',
    sessionId: 'session-a',
    dir: HOME,
    name: 'ok.bin',
    size: bytes.length,
    overwrite: false,
  });
  assert.equal((await accepted(port)).path, `${HOME}/ok.bin`);
  await sendAll(port, bytes);
  port.deliver({ type: 'done', bytes: bytes.length, sha256: sha256(bytes) });
  await port.until(() => port.messages().some((m) => m.type === 'done'), "the agent's done");
  await file.done;
  assert.deepEqual(
    port.messages().find((m) => m.type === 'done'),
    { type: 'done', bytes: bytes.length, sha256: sha256(bytes), path: `${HOME}/ok.bin` },
  );
  assert.equal((await sh(container, `sha256sum ${HOME}/ok.bin`)).split(/\s+/)[0], sha256(bytes));
  assert.equal(await leftovers(container, HOME), '0');
  const mine = records().slice(before);
  assert.equal(mine.length, 1);
  assert.equal(mine[0]?.result, 'ok');
  assert.equal(mine[0]?.bytes, bytes.length);
});

test('a SHA-256 that differs is DIGEST_MISMATCH: nothing under the final name, no temporary file', async () => {
  const { port } = channel();
  const bytes = randomBytes(200_000);
  port.deliver({
    type: 'offer',
    direction: 'upload',
    sessionId: 'session-a',
    dir: HOME,
    name: 'mismatch.bin',
    size: bytes.length,
    overwrite: false,
  });
  await accepted(port);
  await sendAll(port, bytes);
  port.deliver({ type: 'done', bytes: bytes.length, sha256: sha256(Buffer.from('something else')) });
  assert.equal(await fatal(port), 'DIGEST_MISMATCH');
  await port.until(() => !port.isOpen, 'the channel to close');
  assert.equal(await sh(container, `ls ${HOME}/mismatch.bin 2>/dev/null | wc -l`), '0');
  assert.equal(await leftovers(container, HOME), '0');
});

test('bytes beyond the window, or before accept, end the transfer with BAD_MESSAGE and keep nothing', async () => {
  const { port } = channel();
  const size = 4 * TRANSFER_WINDOW_LIMIT_BYTES;
  port.deliver({ type: 'offer', direction: 'upload', sessionId: 'session-a', dir: HOME, name: 'greedy.bin', size, overwrite: false });
  await accepted(port);
  // Without waiting for acks: the agent acks what it wrote, but never more than a window at once.
  const frame = Buffer.alloc(65536, 1);
  for (let sent = 0; sent < size; sent += frame.length) port.deliver(frame);
  assert.equal(await fatal(port), 'BAD_MESSAGE');
  assert.match(String(port.messages().find((m) => m.type === 'error')?.message), /window/);
  await port.until(() => !port.isOpen, 'the channel to close');
  assert.equal(await sh(container, `ls ${HOME}/greedy.bin 2>/dev/null | wc -l`), '0');
  assert.equal(await leftovers(container, HOME), '0');

  const early = channel();
  early.port.deliver(Buffer.from('too early'));
  assert.equal(await fatal(early.port), 'BAD_MESSAGE');
});

test('a console that still sends with the former 256 KiB window is not refused (mixed versions)', async () => {
  const { port } = channel();
  port.deliver({
    type: 'offer',
    direction: 'upload',
    sessionId: 'session-a',
    dir: HOME,
    name: 'former-window.bin',
    size: 2 * TRANSFER_WINDOW_LIMIT_BYTES,
    overwrite: false,
  });
  await accepted(port);
  // A whole former window at once, as such a console sends it, in 64 KiB frames.
  const frame = Buffer.alloc(65536, 2);
  for (let sent = 0; sent < TRANSFER_WINDOW_LIMIT_BYTES; sent += frame.length) port.deliver(frame);
  const acked = () => port.messages().reduce((sum, m) => sum + (m.type === 'ack' ? Number(m.bytes) : 0), 0);
  await port.until(
    () => acked() >= TRANSFER_WINDOW_LIMIT_BYTES || port.messages().some((m) => m.type === 'error'),
    'the window acknowledged',
  );
  assert.deepEqual(
    port.messages().filter((m) => m.type === 'error'),
    [],
  );
  port.deliver({ type: 'cancel', reason: 'test' });
  await port.until(() => !port.isOpen, 'the channel to close');
  assert.equal(await leftovers(container, HOME), '0');
});

test('paths: a name with "/" or "..", a missing directory, a directory that is not, an unwritable one', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ dir: HOME, name: '../escape' }, 'BAD_PATH'],
    [{ dir: HOME, name: '/etc/passwd' }, 'BAD_PATH'],
    [{ dir: HOME, name: '..' }, 'BAD_PATH'],
    [{ dir: HOME, name: 'x'.repeat(300) }, 'BAD_PATH'],
    [{ dir: '/no/such/dir', name: 'a' }, 'FILE_NOT_FOUND'],
    [{ dir: '/etc/passwd', name: 'a' }, 'BAD_PATH'],
    [{ dir: '/etc', name: 'a' }, 'PERMISSION_DENIED'],
    [{ dir: HOME, name: 'ok.bin' }, 'FILE_EXISTS'],
  ];
  for (const [fields, code] of cases) {
    const { port } = channel();
    port.deliver({ type: 'offer', direction: 'upload', sessionId: 'session-a', size: 1, overwrite: false, ...fields });
    assert.equal(await fatal(port), code, JSON.stringify(fields));
  }
  assert.equal(await docker('exec', container.id, 'sh', '-c', 'ls /home/escape /etc/a 2>/dev/null | wc -l'), '0');
});

test('an upload over a symbolic link replaces the link, never the file it points to', async () => {
  await sh(container, `echo original > ${HOME}/target.txt && ln -sf ${HOME}/target.txt ${HOME}/link.txt`);
  const { port, file } = channel();
  const bytes = Buffer.from('replacement\n');
  port.deliver({
    type: 'offer',
    direction: 'upload',
    sessionId: 'session-a',
    dir: HOME,
    name: 'link.txt',
    size: bytes.length,
    overwrite: true,
  });
  await accepted(port);
  port.deliver(bytes);
  port.deliver({ type: 'done', bytes: bytes.length, sha256: sha256(bytes) });
  await file.done;
  assert.equal(await sh(container, `cat ${HOME}/target.txt`), 'original');
  assert.equal(await sh(container, `[ -L ${HOME}/link.txt ] && echo link || cat ${HOME}/link.txt`), 'replacement');
});

test('a full disk in the container is NO_SPACE, and leaves neither the file nor its temporary', async () => {
  const { port } = channel();
  const bytes = randomBytes(3 * 1024 * 1024);
  port.deliver({
    type: 'offer',
    direction: 'upload',
    sessionId: 'session-full',
    dir: '/small',
    name: 'big.bin',
    size: bytes.length,
    overwrite: false,
  });
  await accepted(port);
  await sendAll(port, bytes).catch(() => undefined);
  assert.equal(await fatal(port), 'NO_SPACE');
  await port.until(() => !port.isOpen, 'the channel to close');
  assert.equal(await sh(full, 'ls -a /small | grep -v "^\\.\\.\\?$" | wc -l'), '0');
});

test('rules: off refuses, download-only refuses uploads, the size limit refuses larger files both ways', async () => {
  const off = channel({ mode: 'off' });
  off.port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-a', path: `${HOME}/ok.bin` });
  assert.equal(await fatal(off.port), 'TRANSFER_NOT_ALLOWED');
  const listOff = channel({ mode: 'off' });
  listOff.port.deliver({ type: 'list', sessionId: 'session-a' });
  assert.equal(await fatal(listOff.port), 'TRANSFER_NOT_ALLOWED');

  const downloadOnly = channel({ containers: { [container.name]: { mode: 'download' } } });
  downloadOnly.port.deliver({
    type: 'offer',
    direction: 'upload',
    sessionId: 'session-a',
    dir: HOME,
    name: 'no.bin',
    size: 1,
    overwrite: false,
  });
  assert.equal(await fatal(downloadOnly.port), 'TRANSFER_NOT_ALLOWED');
  const allowedDownload = channel({ containers: { [container.name]: { mode: 'download' } } });
  allowedDownload.port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-a', path: `${HOME}/target.txt` });
  assert.equal((await accepted(allowedDownload.port)).size, 'original\n'.length);

  const small = channel({ maxBytes: 1000 });
  small.port.deliver({
    type: 'offer',
    direction: 'upload',
    sessionId: 'session-a',
    dir: HOME,
    name: 'large.bin',
    size: 1001,
    overwrite: false,
  });
  assert.equal(await fatal(small.port), 'FILE_TOO_LARGE');
  const smallDown = channel({ maxBytes: 1000 });
  smallDown.port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-a', path: `${HOME}/ok.bin` });
  assert.equal(await fatal(smallDown.port), 'FILE_TOO_LARGE');
});

test("sessions: another console's session is SESSION_FORBIDDEN, an unknown one SESSION_NOT_FOUND", async () => {
  const other = channel();
  other.port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-other', path: '/etc/passwd' });
  assert.equal(await fatal(other.port), 'SESSION_FORBIDDEN');
  const gone = channel();
  gone.port.deliver({ type: 'list', sessionId: 'no-such-session' });
  assert.equal(await fatal(gone.port), 'SESSION_NOT_FOUND');
});

test("a download is sent under credit, ends with done and the SHA-256, and the console's done is audited as verified", async () => {
  const before = records().length;
  const { port, file } = channel();
  port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-a', path: `${HOME}/ok.bin` });
  const accept = await accepted(port);
  assert.equal(accept.kind, 'file');
  // Without acks the agent stops at the window.
  await port.until(() => port.outputBytes() >= TRANSFER_WINDOW_BYTES - TRANSFER_CHUNK_BYTES, 'a window of bytes');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(port.outputBytes() <= TRANSFER_WINDOW_BYTES, `at most a window unacknowledged, got ${port.outputBytes()}`);
  const size = Number(accept.size);
  await port.until(
    () => {
      port.ackReceived();
      return port.messages().some((m) => m.type === 'done');
    },
    "the agent's done",
    60_000,
  );
  const received = Buffer.concat(port.sent.filter((f): f is Buffer => typeof f !== 'string'));
  assert.equal(received.length, size);
  const done = port.messages().find((m) => m.type === 'done');
  assert.equal(done?.sha256, sha256(received));
  port.deliver({ type: 'done', bytes: received.length, sha256: sha256(received) });
  await file.done;
  const mine = records().slice(before);
  assert.equal(mine.length, 1);
  assert.equal(mine[0]?.result, 'ok');
});

test('a listing names every entry, whatever its name, with its kind; the prefix filters', async () => {
  await sh(
    container,
    `mkdir -p ${HOME}/list/sub && touch ${HOME}/list/plain "${HOME}/list/with space" ${HOME}/list/.hidden "${HOME}/list/new
line" && ln -sf sub ${HOME}/list/to-sub`,
  );
  const { port } = channel();
  port.deliver({ type: 'list', sessionId: 'session-a', path: `${HOME}/list` });
  await port.until(() => port.messages().some((m) => m.type === 'listing' || m.type === 'error'), 'a listing');
  assert.ok(
    port.messages().some((m) => m.type === 'listing'),
    JSON.stringify(port.messages()),
  );
  const listing = port.messages().find((m) => m.type === 'listing') as unknown as {
    path: string;
    entries: { name: string; kind: string; link?: boolean }[];
    allowed: unknown;
  };
  assert.equal(listing.path, `${HOME}/list`);
  assert.deepEqual(listing.entries, [
    { name: '.hidden', kind: 'file' },
    { name: 'new\nline', kind: 'file' },
    { name: 'plain', kind: 'file' },
    { name: 'sub', kind: 'directory' },
    { name: 'to-sub', kind: 'directory', link: true },
    { name: 'with space', kind: 'file' },
  ]);
  assert.deepEqual(listing.allowed, { upload: true, download: true, maxBytes: 0 });
  const filtered = channel();
  filtered.port.deliver({ type: 'list', sessionId: 'session-a', path: `${HOME}/list`, prefix: 'p' });
  await filtered.port.until(() => filtered.port.messages().some((m) => m.type === 'listing'), 'a filtered listing');
  assert.deepEqual((filtered.port.messages().find((m) => m.type === 'listing') as unknown as { entries: unknown[] }).entries, [
    { name: 'plain', kind: 'file' },
  ]);
});

test('a directory downloads as a tar of ./<name>; through a symbolic link, the directory it points to', async () => {
  await sh(container, `mkdir -p ${HOME}/real/inner && echo hi > ${HOME}/real/inner/a.txt && ln -sfn real ${HOME}/alias`);
  const { port } = channel();
  port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-a', path: `${HOME}/alias` });
  const accept = await accepted(port);
  assert.equal(accept.kind, 'directory');
  assert.equal(accept.name, 'real.tar');
  await port.until(() => {
    port.ackReceived();
    return port.messages().some((m) => m.type === 'done');
  }, 'the archive');
  const archive = Buffer.concat(port.sent.filter((f): f is Buffer => typeof f !== 'string'));
  const listing = execFileSync('tar', ['-tf', '-'], { input: archive }).toString().split('\n').filter(Boolean).sort();
  assert.deepEqual(listing, ['./real/', './real/inner/', './real/inner/a.txt']);
  port.deliver({ type: 'done', bytes: archive.length, sha256: sha256(archive) });
});

test("without the host's /proc, the shell's working directory is read inside the container as the session's user", async () => {
  const exec = await engine.getContainer(container.id).exec({
    Cmd: ['/bin/sh', '-c', 'cd /tmp && exec sleep 30'],
    Env: ['TETHER_SESSION=session-cwd'],
    User: '1000:1000',
    Tty: true,
    AttachStdout: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false, Tty: true } as Docker.ExecStartOptions);
  try {
    const files = { container: engine.getContainer(container.id), user: '1000:1000', sessionId: 'session-cwd', hostPid: 0 };
    let cwd = await containerCwd(files, 'cwd-test');
    for (let i = 0; i < 20 && !(cwd.ok && cwd.value === '/tmp'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      cwd = await containerCwd(files, 'cwd-test');
    }
    assert.deepEqual(cwd, { ok: true, value: '/tmp' });
  } finally {
    stream.destroy();
    await docker('exec', container.id, 'sh', '-c', 'pkill -f "sleep 30" || true');
  }
});
