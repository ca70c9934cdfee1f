/**
 * Real Docker for tests: starts the engine when none answers, builds the test vPLC images, and
 * runs containers that the caller owns and removes.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const imageScript = fileURLToPath(new URL('../test/image/build.sh', import.meta.url));

export const TEST_IMAGE_SH = 'tether-test-vplc:sh';
export const TEST_IMAGE_BASH = 'tether-test-vplc:bash';

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

async function engineAnswers(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

let ready: Promise<void> | undefined;

/** Starts `dockerd --bridge=none --iptables=false` when no engine answers, then builds the images. */
export function ensureDocker(): Promise<void> {
  ready ??= (async () => {
    if (!(await engineAnswers())) {
      const daemon = spawn('dockerd', ['--bridge=none', '--iptables=false'], {
        detached: true,
        stdio: 'ignore',
      });
      daemon.unref();
      const deadline = Date.now() + 60_000;
      while (!(await engineAnswers())) {
        if (Date.now() > deadline) throw new Error('the Docker engine did not answer within 60 s (dockerd started)');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await run('bash', [imageScript], { timeout: 120_000 });
  })();
  return ready;
}

export interface TestContainer {
  id: string;
  name: string;
  /** `docker top` rows as `[pid, command line]` */
  processes(): Promise<string[]>;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export interface ContainerOptions {
  image?: string;
  /** Docker labels; `tether.vplc=true` unless given */
  labels?: Record<string, string>;
  namePrefix?: string;
  /** more `docker run` options, e.g. `--memory 256m` */
  runArgs?: string[];
}

/**
 * Runs a test vPLC container (`--network none`, `--init`), labelled for the agent unless told
 * otherwise. The init (Docker's tini) reaps what a killed session leaves orphaned: without it the
 * image's `sleep` is pid 1, never reaps, and `docker top` lists killed processes as `<defunct>`.
 */
export async function startContainer(options: ContainerOptions = {}): Promise<TestContainer> {
  await ensureDocker();
  const name = `${options.namePrefix ?? 'tether-test'}-${randomBytes(4).toString('hex')}`;
  const labels = options.labels ?? { 'tether.vplc': 'true' };
  const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  const id = await docker(
    'run',
    '-d',
    '--init',
    '--network',
    'none',
    '--name',
    name,
    '--label',
    'tether.test=true',
    ...labelArgs,
    ...(options.runArgs ?? []),
    options.image ?? TEST_IMAGE_BASH,
  );
  return {
    id,
    name,
    async processes() {
      const out = await docker('top', id, '-o', 'pid,args');
      return out
        .split('\n')
        .slice(1)
        .map((line) => line.trim())
        .filter(Boolean);
    },
    async stop() {
      await docker('stop', '-t', '1', id);
    },
    async remove() {
      await docker('rm', '-f', id).catch(() => undefined);
    },
  };
}

/** Removes every container a test run left behind (label `tether.test=true`). */
export async function removeTestContainers(): Promise<void> {
  const ids = await docker('ps', '-aq', '--filter', 'label=tether.test=true');
  if (ids) await docker('rm', '-f', ...ids.split('\n'));
}
