/**
 * The baseline the agent is measured against: the same container output and the same keystroke
 * echo through plain dockerode exec in Node, with no WebRTC in between.
 */
import Docker from 'dockerode';
import type { Duplex } from 'node:stream';

const docker = new Docker();

async function startTty(containerId: string, cmd: string[]): Promise<{ stream: Duplex; done: Promise<void> }> {
  const exec = await docker.getContainer(containerId).exec({
    Cmd: cmd,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: true })) as Duplex;
  const done = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
  });
  return { stream, done };
}

/**
 * MB/s (10^6 bytes of file content, `expectedBytes`) of `cat <file>` through a TTY exec, timed from
 * creating the exec to the end of its stream; the TTY's added '\r's arrive but are not counted.
 */
export async function rawExecThroughput(containerId: string, file: string, expectedBytes: number): Promise<number> {
  const started = performance.now();
  const { stream, done } = await startTty(containerId, ['cat', file]);
  let received = 0;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  if (received < expectedBytes) {
    throw new Error(`raw exec delivered ${received} of ${expectedBytes} bytes`);
  }
  return expectedBytes / 1e6 / seconds;
}

/** Round-trip milliseconds of one keystroke echoed by `cat` on a TTY, `samples` times. */
export async function rawExecEcho(containerId: string, samples: number): Promise<number[]> {
  const { stream } = await startTty(containerId, ['cat']);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      const echoed = new Promise<void>((resolve) => {
        const onData = (chunk: Buffer) => {
          if (chunk.includes(ch)) {
            stream.off('data', onData);
            resolve();
          }
        };
        stream.on('data', onData);
      });
      const t0 = performance.now();
      stream.write(ch);
      await echoed;
      latencies.push(performance.now() - t0);
    }
  } finally {
    // cat may be gone before the end-of-file reaches it: a late EPIPE is no failure of the run.
    stream.on('error', () => undefined);
    stream.write('\x04');
    stream.destroy();
  }
  return latencies;
}
