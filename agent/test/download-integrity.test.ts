/**
 * A download delivers every byte of the file, or fails: files made in a real container (random
 * bytes from dd, of sizes around the frame and window sizes and an 8 MiB one), read through the
 * agent's `file:` channel by a console that acknowledges slowly, so that the agent pauses the
 * container's output again and again and is paused when the command ends. What arrives must have
 * the container's own `stat` size and `sha256sum`, and the agent's `done` must say so.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { docker, ensureDocker, startContainer, TEST_IMAGE_SH, type TestContainer } from '../../harness/docker.js';
import { AuditLog } from '../src/audit.js';
import { SessionRegistry } from '../src/session-registry.js';
import { COMMIT_SCRIPT } from '../src/transfer/container-files.js';
import { AgentFileChannel } from '../src/transfer/file-channel.js';
import { TransferRules } from '../src/transfer/transfer-rules.js';
import { FakeChannel } from './support/fake-channel.js';
import { fakeTtySession } from './support/fake-tty-session.js';

const OWNER = 'console:test';
const DIR = '/home/plc/integrity';
let container: TestContainer;
let audit: AuditLog;
const registry = new SessionRegistry();
const engine = new Docker();

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sh = (script: string) => docker('exec', '-u', '1000:1000', container.id, 'sh', '-c', script);

before(async () => {
  await ensureDocker();
  container = await startContainer({ image: TEST_IMAGE_SH, namePrefix: 'files-integrity' });
  audit = new AuditLog(join(mkdtempSync(join(tmpdir(), 'tether-integrity-audit-')), 'audit.jsonl'));
  registry.add(fakeTtySession(engine, container, 'session-i', OWNER));
  await sh(`mkdir -p ${DIR}`);
});

after(async () => {
  audit?.close();
  await container?.remove();
});

/** The agent's file channel for session-i, on an in-memory channel the test plays the console on. */
function fileChannel() {
  const port = new FakeChannel('file:integrity');
  const file = new AgentFileChannel(port, {
    registry,
    rules: new TransferRules({ mode: 'both', maxBytes: 0, containers: {} }),
    audit,
    who: { path: 'lan', connection: 'test-connection' },
    owner: OWNER,
    peerId: 'test',
  });
  return { port, file };
}

/**
 * Downloads `path` as a console that acknowledges at most `ackBytes` every `ackEveryMs`: the agent
 * waits on credit most of the time. Once `stallAt` bytes have arrived, the console acknowledges
 * nothing for STALL_MS, as a busy console (or one saving to a slow disk) may: the agent's reading of
 * the container stays paused meanwhile, while the command has written its last bytes and exited.
 * Returns the bytes, the agent's `done` and its error (if any).
 */
async function slowDownload(path: string, ackBytes: number, ackEveryMs: number, stallAt = Infinity) {
  const { port, file } = fileChannel();
  port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-i', path });
  let acked = 0;
  let stalledUntil = 0;
  let stalled = false;
  const acker = setInterval(() => {
    const got = port.outputBytes();
    if (!stalled && got >= stallAt) {
      stalled = true;
      stalledUntil = Date.now() + STALL_MS;
    }
    if (Date.now() < stalledUntil) return;
    if (got > acked) {
      const bytes = Math.min(ackBytes, got - acked);
      port.deliver({ type: 'ack', bytes });
      acked += bytes;
    }
  }, ackEveryMs);
  try {
    await port.until(
      () => port.messages().some((m) => m.type === 'done' || (m.type === 'error' && m.fatal === true)),
      "the agent's done",
      5 * 60_000,
    );
  } finally {
    clearInterval(acker);
  }
  const received = Buffer.concat(port.sent.filter((f): f is Buffer => typeof f !== 'string'));
  const done = port.messages().find((m) => m.type === 'done');
  if (done) port.deliver({ type: 'done', bytes: received.length, sha256: sha256(received) });
  await file.done;
  const error = port.messages().find((m) => m.type === 'error');
  return { port, received, done, error };
}

/**
 * Longer than the Docker engine waits for an exec's output after its process exited (2 s in
 * moby's daemon/exec.go) before it closes the streams and drops what it still holds.
 */
const STALL_MS = 3500;

const SIZES = [
  8 * 1024 * 1024, // the size seen short: 8,310,784 of 8,388,608 bytes
  3 * 1024 * 1024 + 12_345,
  1024 * 1024 + 1,
  65_537,
  1,
  0,
];

for (const size of SIZES) {
  test(`a ${size}-byte file made in the container arrives whole under a slow console: its stat size and sha256sum`, async () => {
    const path = `${DIR}/random-${size}.bin`;
    await sh(`head -c ${size} /dev/urandom > ${path}`);
    const [statSize, containerSha] = (await sh(`stat -c %s ${path} && sha256sum ${path}`)).split(/\s+/);
    assert.equal(Number(statSize), size);
    // 64 KiB per 5 ms: below what the agent could send, so its reading is paused most of the time;
    // and a stall of the console with 1.5 MiB to go: the Docker engine holds that much, and `cat` exits.
    const { received, done, error } = await slowDownload(path, 64 * 1024, 5, Math.max(0, size - 1536 * 1024));
    assert.equal(error, undefined, JSON.stringify(error));
    assert.ok(done, 'the agent sent done');
    assert.equal(received.length, size, `received ${received.length} of ${size} bytes`);
    assert.equal(sha256(received), containerSha);
    assert.equal(done.bytes, size);
    assert.equal(done.sha256, containerSha);
  });
}

test('an 8 MiB file from dd, downloaded five times under a slow console, arrives whole every time', async () => {
  const path = `${DIR}/dd-8m.bin`;
  await sh(`dd if=/dev/urandom of=${path} bs=1M count=8 2>/dev/null`);
  const [statSize, containerSha] = (await sh(`stat -c %s ${path} && sha256sum ${path}`)).split(/\s+/);
  for (let run = 0; run < 5; run++) {
    const { received, done } = await slowDownload(path, 256 * 1024, 2, Number(statSize) - (run + 1) * 384 * 1024);
    assert.ok(done, `run ${run}: the agent sent done`);
    assert.equal(received.length, Number(statSize), `run ${run}: received ${received.length} of ${statSize} bytes`);
    assert.equal(sha256(received), containerSha, `run ${run}`);
  }
});

test('a directory of 8 MiB downloads as a whole tar archive under a console that stalls near its end', async () => {
  await sh(`mkdir -p ${DIR}/tree/sub && head -c 8388608 /dev/urandom > ${DIR}/tree/sub/big.bin && echo hi > ${DIR}/tree/a.txt`);
  const bigSha = (await sh(`sha256sum ${DIR}/tree/sub/big.bin`)).split(/\s+/)[0];
  for (const behind of [512 * 1024, 1536 * 1024]) {
    const { received, done, error } = await slowDownload(`${DIR}/tree`, 64 * 1024, 5, 8 * 1024 * 1024 - behind);
    assert.equal(error, undefined, JSON.stringify(error));
    assert.ok(done, 'the agent sent done');
    assert.equal(done.bytes, received.length);
    const listing = execFileSync('tar', ['-tf', '-'], { input: received }).toString().split('\n').filter(Boolean).sort();
    assert.deepEqual(listing, ['./tree/', './tree/a.txt', './tree/sub/', './tree/sub/big.bin']);
    const big = execFileSync('tar', ['-xOf', '-', './tree/sub/big.bin'], { input: received, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(sha256(big), bigSha, `behind ${behind}`);
  }
});

test('a file cut short while it downloads ends with TRANSFER_FAILED naming both sizes, never with done', async () => {
  const size = 8 * 1024 * 1024;
  const path = `${DIR}/shrinks.bin`;
  await sh(`head -c ${size} /dev/urandom > ${path}`);
  const { port, file } = fileChannel();
  port.deliver({ type: 'offer', direction: 'download', sessionId: 'session-i', path });
  // Without acks the agent stops at the window; the file is cut meanwhile, behind what `cat` has read.
  await port.until(() => port.outputBytes() > 0, 'the first bytes');
  await sh(`: > ${path}`);
  await port.until(
    () => {
      port.ackReceived();
      return port.messages().some((m) => m.type === 'done' || m.type === 'error');
    },
    'the end of the download',
    60_000,
  );
  await file.done;
  assert.equal(
    port.messages().find((m) => m.type === 'done'),
    undefined,
  );
  const error = port.messages().find((m) => m.type === 'error');
  assert.equal(error?.code, 'TRANSFER_FAILED', JSON.stringify(error));
  assert.match(String(error?.message), new RegExp(`delivered \\d+ bytes of ${path}, whose size was ${size}`));
  assert.ok(port.outputBytes() < size);
});

test("an upload's temporary file of another size than offered is not renamed into place (exit 12) and is removed", async () => {
  await sh(`printf 12345 > ${DIR}/.tether-upload-x.part`);
  const ran = await engine.getContainer(container.id).exec({
    Cmd: ['/bin/sh', '-c', COMMIT_SCRIPT, 'tether-transfer', DIR, '.tether-upload-x.part', 'final.txt', '0', '6'],
    User: '1000:1000',
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await ran.start({});
  stream.resume();
  await new Promise((resolve) => stream.on('end', resolve));
  await waitForExit(ran);
  assert.equal((await ran.inspect()).ExitCode, 12);
  assert.equal(await sh(`ls -a ${DIR} | grep -c -e final.txt -e tether-upload-x || true`), '0');
});

async function waitForExit(exec: Docker.Exec): Promise<void> {
  while ((await exec.inspect()).Running) await new Promise((resolve) => setTimeout(resolve, 50));
}
