/**
 * `npm run bench`: the whole stack on loopback (signaling in-process, the agent as a child process,
 * the console in headless Chromium, a test container), measured against plain dockerode exec.
 * Writes bench/results.json and prints a table; bench/README.md says what each key means.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { docker } from '../harness/docker.js';
import { startStack, type Stack } from '../harness/stack.js';
import { RendererBench, type BenchFile, type PromptTiming, type ResumeTiming } from './renderer-bench.js';
import { rawExecEcho, rawExecThroughput } from './raw-exec.js';
import { AGENT_NODE_ARGS, sessionMemory } from './session-memory.js';
import { relayedThroughput } from './relayed.js';
import { measurePreAuthMemory, PRE_AUTH_TRANSPORTS } from './pre-auth-bench.js';
import { measureScaleOut } from './scale-out-bench.js';
import { bytesAfterCtrlC } from './ctrl-c.js';
import { measureSignalingLoad, type StormFigures } from './signaling-load.js';
import { measureControlLoop, printControlLoop } from './control-loop.js';
import { percentile, printTable, round, spread } from './stats.js';
import { cpuDuring, cpuSeconds, dockerPids, ownRendererPids } from './proc-cpu.js';
import { RendererProfiler, type Owner } from './renderer-profile.js';
import { weriftToChromium } from './werift-chromium.js';
import { measureFloors } from './floors.js';
import { evaluateGoals, printGoals } from './goals.js';
import { writeChart } from './chart.js';
import { measureTransfers } from './transfer-bench.js';

const THROUGHPUT_RUNS = 3;
const ECHO_SAMPLES = 500;
const PROMPT_SAMPLES = 10;
/** idle sessions for the memory-per-session figures */
/** Each on its own peer connection over one LAN socket: at most MAX_NEGOTIATIONS_PER_LAN_CONNECTION (16). */
const MEMORY_SESSIONS = 16;
/** path drops in one tab, each resumed before the next (console side: dropPath with no outage) */
const RESUME_SAMPLES = 5;
/** uploads and downloads of one 50 MiB file through the console, each beside a `docker cp` of it */
const TRANSFER_RUNS = 3;
/** time-to-prompt stops early, with fewer samples, once it has taken this long */
const PROMPT_BUDGET_MS = 100_000;
/** 48 MiB of random bytes, as base64 with a newline every 76 characters: 64 MiB plus newlines */
const RANDOM_BYTES = 48 * 1024 * 1024;
const FILE = '/tmp/bench.txt';
/** the relayed path moves less: 3 MiB of random bytes, 4 MiB as base64 */
const RELAYED_RANDOM_BYTES = 3 * 1024 * 1024;
/**
 * raw werift → Chromium transfers counted for stalls (WERIFT-NOTES.md, agent/WERIFT.md "The
 * stall"), each on its own connection and ending with close() right after the last send
 */
const STALL_TRANSFERS = 30;
const STALL_TRANSFER_MIB = 8;
/** sessions of the crowd memory figures (idle and busy) */
const CROWD_SESSIONS = 100;

const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url));
const repoRoot = new URL('../', import.meta.url);

type Results = Record<string, unknown> & { errors: string[]; samples: Record<string, number[]> };
const results: Results = { date: new Date().toISOString(), errors: [], samples: {} };

/** Runs one measurement; a failure is recorded in `errors` and printed, and the bench goes on. */
async function attempt<T>(label: string, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (error) {
    const message = `${label}: ${error instanceof Error ? error.message : String(error)}`;
    results.errors.push(message);
    console.error(`[bench] ERROR ${message}`);
    return undefined;
  }
}

/** `key`, `keyMin`, `keyMax` from the samples, or null when there are none. */
function putSpread(key: string, samples: number[], digits = 2): void {
  results.samples[key] = samples.map((v) => round(v, digits));
  const s = samples.length > 0 ? spread(samples) : undefined;
  results[key] = s ? round(s.median, digits) : null;
  results[`${key}Min`] = s ? round(s.min, digits) : null;
  results[`${key}Max`] = s ? round(s.max, digits) : null;
}

function putPercentiles(prefix: string, samples: number[]): void {
  results[`${prefix}P50Ms`] = samples.length > 0 ? round(percentile(samples, 50), 3) : null;
  results[`${prefix}P99Ms`] = samples.length > 0 ? round(percentile(samples, 99), 3) : null;
  results[`${prefix}Samples`] = samples.length;
}

function readVersion(...candidates: string[]): string | null {
  for (const path of candidates) {
    try {
      return (JSON.parse(readFileSync(new URL(path, repoRoot), 'utf8')) as { version: string }).version;
    } catch {
      continue;
    }
  }
  return null;
}

async function prepareFile(containerId: string, randomBytes = RANDOM_BYTES): Promise<BenchFile> {
  const out = await docker(
    'exec',
    containerId,
    'sh',
    '-c',
    `head -c ${randomBytes} /dev/urandom | base64 > ${FILE} && chmod 644 ${FILE} && wc -c < ${FILE} && sha256sum ${FILE}`,
  );
  const [size, hashLine] = out.split('\n').map((l) => l.trim());
  const sha256 = hashLine?.split(/\s+/)[0] ?? '';
  if (!/^\d+$/.test(size ?? '') || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`unexpected output preparing ${FILE}: ${out}`);
  return { path: FILE, bytes: Number(size), sha256 };
}

const mb = (bytes: number) => round(bytes / 1e6, 1);

/**
 * Two figures that say how fast this machine is, for comparing runs on different machines (the
 * CPU-per-MB figures of two runs a week apart moved together by 2× with nothing changed but the
 * machine): `syscallNs`, one read of a byte from /dev/zero (what every datagram and pipe read of the
 * agent, Docker and Chromium pays; kernel page-table isolation, for one, doubles it), and
 * `sha256MBps`, OpenSSL's SHA-256 over 64 MiB in this process (plain CPU). Best of three each.
 */
function machineSpeed(): { syscallNs: number; sha256MBps: number } {
  const fd = openSync('/dev/zero', 'r');
  const byte = Buffer.alloc(1);
  const calls = 200_000;
  let syscallNs = Infinity;
  let sha256MBps = 0;
  const data = Buffer.alloc(64 * 1024 * 1024, 0x61);
  try {
    for (let round = 0; round < 3; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) readSync(fd, byte, 0, 1, null);
      syscallNs = Math.min(syscallNs, Number(process.hrtime.bigint() - t0) / calls);
      const t1 = performance.now();
      createHash('sha256').update(data).digest();
      sha256MBps = Math.max(sha256MBps, data.length / 1e6 / ((performance.now() - t1) / 1000));
    }
  } finally {
    closeSync(fd);
  }
  return { syscallNs: round(syscallNs, 0), sha256MBps: round(sha256MBps, 0) };
}

/**
 * The RSS of a `node` that loads nothing, with the agent's Node.js and V8 flags, 2 s after it
 * starts: the floor under the agent's idle RSS (agent/README.md, "Memory").
 */
async function emptyNodeRssMB(nodeArgs: string[]): Promise<number> {
  const child = spawn(process.execPath, [...nodeArgs, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
    if (!Number.isFinite(kb)) throw new Error('no VmRSS');
    return mb(kb * 1024);
  } finally {
    child.kill();
  }
}

/** CPU of the agent, the console's renderer and Docker during one throughput run. */
interface RunCpu {
  /** % of one core, over the run */
  agentPct: number;
  agentS: number;
  rendererS: number;
  dockerS: number;
}

/** Runs `body` and measures the CPU seconds of the agent, Chromium's renderer(s) and Docker meanwhile. */
async function withCpu<T>(agentPid: number, containerId: string, body: () => Promise<T>): Promise<{ value: T; cpu: RunCpu }> {
  const agent0 = cpuSeconds(agentPid);
  const t0 = performance.now();
  let rendererS = 0;
  const docker = await cpuDuring(
    () => dockerPids(containerId),
    async () => {
      const renderer = await cpuDuring(ownRendererPids, body);
      rendererS = renderer.cpuS;
      return renderer.value;
    },
  );
  const agentS = cpuSeconds(agentPid) - agent0;
  return {
    value: docker.value,
    cpu: { agentPct: (100 * agentS) / ((performance.now() - t0) / 1000), agentS, rendererS, dockerS: docker.cpuS },
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  let stack: Stack | undefined;
  let rssTimer: ReturnType<typeof setInterval> | undefined;
  try {
    console.log('[bench] starting signaling, agent, Chromium and a container…');
    // Ten fresh connections in a row for time to prompt: each ends its session while the next
    // starts, which the default limit of sessions per container would refuse.
    // The agent runs with the V8 flags of the shipped systemd unit (agent/systemd).
    stack = await startStack({ name: 'bench', agentArgs: ['--max-sessions-per-container', '0'], agentNodeArgs: AGENT_NODE_ARGS });
    const agent = stack.agent;
    const container = await stack.startContainer();
    const [file, ui] = await Promise.all([prepareFile(container.id), stack.openConsole({ bench: true })]);
    results.file = file;
    const cpuList = cpus();
    results.versions = {
      node: process.version,
      chromium: stack.browser.version(),
      werift: readVersion('agent/node_modules/werift/package.json', 'node_modules/werift/package.json'),
      docker: await docker('version', '--format', '{{.Server.Version}}').catch(() => null),
      machine: {
        cpus: cpuList.length,
        cpuModel: cpuList[0]?.model ?? null,
        memoryGB: round(totalmem() / 1e9, 1),
        kernel: release(),
        ...machineSpeed(),
      },
    };
    results.agentRssIdleMB = mb(agent.rssBytes());
    results.nodeEmptyRssMB = await emptyNodeRssMB(AGENT_NODE_ARGS).catch(() => null);
    let rssPeak = agent.rssBytes();
    rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, agent.rssBytes())), 250);

    const connectStart = performance.now();
    console.log('[bench] connecting the console to the agent…');
    await ui.connectAgent(agent.agentId, 60_000);
    results.firstConnectMs = round(performance.now() - connectStart, 0);
    const bench = new RendererBench(ui, agent.agentId, container.name);

    const xterm: number[] = [];
    const channel: number[] = [];
    const raw: number[] = [];
    const cpuXterm: RunCpu[] = [];
    const cpuChannel: RunCpu[] = [];
    const fileMB = file.bytes / 1e6;
    let rendererJs: Record<Owner, number> | undefined;
    let rendererJsRunS: number | undefined;
    for (let run = 1; run <= THROUGHPUT_RUNS; run++) {
      console.log(`[bench] throughput run ${run}/${THROUGHPUT_RUNS} (${mb(file.bytes)} MB each: xterm, count, raw exec)…`);
      // The last xterm run is profiled in the page (its figure is kept out of the throughput median:
      // the profiler costs the page time): where the renderer's JavaScript time goes.
      const profiled = run === THROUGHPUT_RUNS;
      const profiler = profiled ? new RendererProfiler(ui.page) : undefined;
      await profiler?.start();
      const x = await attempt(`throughput run ${run}`, () => withCpu(agent.pid, container.id, () => bench.throughput(file, 'xterm')));
      const owners = await profiler?.stop();
      if (x !== undefined && !profiled) {
        xterm.push(x.value);
        cpuXterm.push(x.cpu);
      }
      if (x !== undefined && owners) {
        rendererJs = owners;
        rendererJsRunS = x.cpu.rendererS;
      }
      const c = await attempt(`channel throughput run ${run}`, () =>
        withCpu(agent.pid, container.id, () => bench.throughput(file, 'count')),
      );
      if (c !== undefined) {
        channel.push(c.value);
        cpuChannel.push(c.cpu);
      }
      const r = await attempt(`raw exec throughput run ${run}`, () => rawExecThroughput(container.id, file.path, file.bytes));
      if (r !== undefined) raw.push(r);
    }
    putSpread('throughputMBps', xterm);
    putSpread('channelThroughputMBps', channel);
    putSpread('rawExecThroughputMBps', raw);
    const median = (values: number[], digits = 1) => (values.length > 0 ? round(percentile(values, 50), digits) : null);
    results.agentCpuPctThroughput = median(
      cpuXterm.map((c) => c.agentPct),
      0,
    );
    results.agentCpuPctChannelThroughput = median(
      cpuChannel.map((c) => c.agentPct),
      0,
    );
    results.agentCpuMsPerMB = median(cpuChannel.map((c) => (1000 * c.agentS) / fileMB));
    results.agentCpuMsPerMBXterm = median(cpuXterm.map((c) => (1000 * c.agentS) / fileMB));
    results.rendererCpuMsPerMB = median(cpuXterm.map((c) => (1000 * c.rendererS) / fileMB));
    results.rendererCpuMsPerMBCount = median(cpuChannel.map((c) => (1000 * c.rendererS) / fileMB));
    results.dockerCpuMsPerMB = median(cpuChannel.map((c) => (1000 * c.dockerS) / fileMB));
    const rawMedian = raw.length > 0 ? percentile(raw, 50) : undefined;
    results.channelVsRawExec = rawMedian && channel.length > 0 ? round(percentile(channel, 50) / rawMedian, 3) : null;
    results.xtermVsRawExec = rawMedian && xterm.length > 0 ? round(percentile(xterm, 50) / rawMedian, 3) : null;
    if (rendererJs && rendererJsRunS) {
      const ms = (owner: Owner) => round(rendererJs![owner] / fileMB, 1);
      results.rendererJsMsPerMB = {
        tether: ms('tether'),
        harness: ms('harness'),
        xterm: ms('xterm'),
        libraries: ms('libraries'),
        gc: ms('gc'),
        program: ms('program'),
        other: ms('other'),
      };
      results.tetherShareOfRendererCpu = round(rendererJs.tether / (1000 * rendererJsRunS), 3);
    } else {
      results.rendererJsMsPerMB = null;
      results.tetherShareOfRendererCpu = null;
    }

    console.log(`[bench] keystroke echo, ${ECHO_SAMPLES} samples through the console, then through plain exec…`);
    putPercentiles('echo', (await attempt('echo', () => bench.echo(ECHO_SAMPLES))) ?? []);
    putPercentiles('rawExecEcho', (await attempt('raw exec echo', () => rawExecEcho(container.id, ECHO_SAMPLES))) ?? []);

    console.log(`[bench] time to prompt, up to ${PROMPT_SAMPLES} fresh connections…`);
    const prompts: PromptTiming[] = [];
    const promptStart = performance.now();
    for (let i = 0; i < PROMPT_SAMPLES && performance.now() - promptStart < PROMPT_BUDGET_MS; i++) {
      const timing = await attempt(`time to prompt ${i + 1}`, async () => {
        const t = await bench.timeToPrompt();
        if (!t.ok) throw new Error(`${t.error} (stages so far: ${JSON.stringify(t.stages)})`);
        return t;
      });
      if (timing) prompts.push(timing);
    }
    putSpread(
      'timeToPromptMs',
      prompts.flatMap((p) => (p.stages.firstByte === undefined ? [] : [p.stages.firstByte])),
      1,
    );
    const stageNames = ['ice', 'secure-channel', 'ready', 'opened', 'firstByte'];
    results.timeToPromptStagesMs = Object.fromEntries(
      stageNames.map((name) => {
        const values = prompts.map((p) => p.stages[name]).filter((v): v is number => v !== undefined);
        return [name, values.length > 0 ? round(percentile(values, 50), 1) : null];
      }),
    );

    console.log(`[bench] time to resume, ${RESUME_SAMPLES} path drops in one tab…`);
    const resumes = await attempt('time to resume', async () => {
      const tabId = await bench.openTab();
      const timings: ResumeTiming[] = [];
      try {
        for (let i = 0; i < RESUME_SAMPLES; i++) {
          const t = await bench.timeToResume(tabId);
          if (!t.ok) throw new Error(`drop ${i + 1}: ${t.error}`);
          timings.push(t);
        }
      } finally {
        await bench.closeTab(tabId);
      }
      return timings;
    });
    putSpread(
      'timeToResumeMs',
      (resumes ?? []).flatMap((t) => (t.resumedMs === undefined ? [] : [t.resumedMs])),
      1,
    );
    putSpread(
      'resumeReconnectReadyMs',
      (resumes ?? []).flatMap((t) => (t.readyMs === undefined ? [] : [t.readyMs])),
      1,
    );

    console.log(
      `[bench] file transfers: ${TRANSFER_RUNS} uploads and downloads of 50 MiB through the console, and docker cp of the same file…`,
    );
    const transfers = await attempt('file transfers', () => measureTransfers(ui, agent.agentId, container, TRANSFER_RUNS));
    putSpread('uploadMBps', transfers?.upload ?? []);
    putSpread('downloadMBps', transfers?.download ?? []);
    putSpread('dockerCpUploadMBps', transfers?.dockerCpUpload ?? []);
    putSpread('dockerCpDownloadMBps', transfers?.dockerCpDownload ?? []);
    results.transferFileBytes = transfers?.fileBytes ?? null;
    putPercentiles('echoDuringUpload', transfers?.echoDuringUpload ?? []);
    putPercentiles('echoDuringDownload', transfers?.echoDuringDownload ?? []);

    clearInterval(rssTimer);
    results.agentRssPeakMB = mb(Math.max(rssPeak, agent.rssBytes()));
    results.agentRssAfterMB = mb(agent.rssBytes());
    await stack.close();
    stack = undefined;

    console.log(`[bench] relayed throughput: console and agent behind NAT, through coturn, ${THROUGHPUT_RUNS} runs…`);
    const relayed = await attempt('relayed throughput', () =>
      relayedThroughput(THROUGHPUT_RUNS, (id) => prepareFile(id, RELAYED_RANDOM_BYTES)),
    );
    putSpread('relayedThroughputMBps', relayed?.samples ?? []);
    results.relayedFileBytes = relayed?.fileBytes ?? null;
    results.relayedAgentPath = relayed?.agentPath ?? null;

    console.log('[bench] signaling scale-out: relay on one node and across two over Redis, then a node killed…');
    Object.assign(results, (await attempt('scale-out', () => measureScaleOut())) ?? {});

    console.log(`[bench] signaling before authentication: ${PRE_AUTH_TRANSPORTS} transports that send a binary event and never CONNECT…`);
    Object.assign(results, (await attempt('pre-auth memory', () => measurePreAuthMemory())) ?? {});

    console.log('[bench] bytes after Ctrl-C during a flood (yes), consoles that ack at once and that lag…');
    const ctrlC = await attempt('bytes after Ctrl-C', () => bytesAfterCtrlC(5));
    putSpread('bytesAfterCtrlC', ctrlC?.samples ?? [], 0);
    putSpread('bytesAfterCtrlCLagging', ctrlC?.laggingSamples ?? [], 0);
    results.signalingLoad = await measureSignalingLoad(undefined, (label, error) => {
      const message = `${label}: ${error instanceof Error ? error.message : String(error)}`;
      results.errors.push(message);
      console.error(`[bench] ERROR ${message}`);
    });
    console.log("[bench] the control loop beside a debug session: alone, beside a Tether session's hogs, beside plain docker exec's…");
    results.controlLoop = (await attempt('control loop', () => measureControlLoop())) ?? null;

    console.log(`[bench] raw werift → Chromium: ${STALL_TRANSFERS} transfers of ${STALL_TRANSFER_MIB} MiB, stalls counted…`);
    const rawWerift = await attempt('werift → Chromium transfers', () =>
      weriftToChromium(STALL_TRANSFERS, STALL_TRANSFER_MIB * 1024 * 1024, undefined, { closeAfter: true }),
    );
    results.weriftChromiumTransfers = rawWerift?.transfers ?? null;
    results.weriftChromiumStalls = rawWerift?.stalls ?? null;
    results.weriftChromiumMBps = rawWerift?.mbps ?? null;
    results.weriftSenderCpuMsPerMB = rawWerift?.senderCpuMsPerMB ?? null;
    results.weriftChromiumStallDetails = rawWerift?.stallDetails ?? [];

    console.log('[bench] the floors: Chromium ↔ Chromium, a native peer (libdatachannel) and werift → Chromium, transfers and echo…');
    Object.assign(
      results,
      await measureFloors((label, error) => {
        const message = `${label}: ${error instanceof Error ? error.message : String(error)}`;
        results.errors.push(message);
        console.error(`[bench] ERROR ${message}`);
      }),
    );

    console.log(
      `[bench] agent memory per session: ${MEMORY_SESSIONS} idle sessions on their own agent, then ${CROWD_SESSIONS} idle and busy…`,
    );
    const memory = await attempt('memory per session', () => sessionMemory(MEMORY_SESSIONS, CROWD_SESSIONS));
    results.agentRssPerSessionMB = memory?.rssPerSessionMB ?? null;
    results.agentHeapPerSessionMB = memory?.heapPerSessionMB ?? null;
    results.agentRssPerTabMB = memory?.rssPerTabMB ?? null;
    results.agentHeapPerTabMB = memory?.heapPerTabMB ?? null;
    results.memorySessions = memory?.sessions ?? null;
    results.crowdSessions = memory?.crowd ?? null;
    results.agentRssPerSessionCrowdIdleMB = memory?.rssPerSessionCrowdIdleMB ?? null;
    results.agentRssPerSessionCrowdBusyMB = memory?.rssPerSessionCrowdBusyMB ?? null;
    results.agentHeapPerSessionCrowdBusyMB = memory?.heapPerSessionCrowdBusyMB ?? null;
  } catch (error) {
    results.errors.push(`bench aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    console.error(`[bench] ABORTED: ${String(error)}`);
    if (stack) console.error(`--- agent log tail ---\n${stack.agent.logs().slice(-40).join('\n')}`);
  } finally {
    clearInterval(rssTimer);
    await stack?.close();
    results.durationS = round((performance.now() - started) / 1000, 1);
    results.goals = evaluateGoals(results);
    writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
    writeChart();
  }
  report();
}

function report(): void {
  const show = (key: string, unit: string, withSpread = true): [string, string, string?] => {
    const value = results[key];
    if (value === null || value === undefined) return [key, 'n/a (see errors)'];
    const extra = withSpread && results[`${key}Min`] !== undefined ? `min ${results[`${key}Min`]}, max ${results[`${key}Max`]}` : undefined;
    return [key, `${String(value)} ${unit}`, extra];
  };
  const versions = results.versions as Record<string, unknown> | undefined;
  const rows: Array<[string, string, string?]> = [
    ['key', 'median', 'spread'],
    show('throughputMBps', 'MB/s'),
    show('channelThroughputMBps', 'MB/s'),
    show('rawExecThroughputMBps', 'MB/s'),
    show('relayedThroughputMBps', 'MB/s'),
    show('uploadMBps', 'MB/s'),
    show('downloadMBps', 'MB/s'),
    show('dockerCpUploadMBps', 'MB/s'),
    show('dockerCpDownloadMBps', 'MB/s'),
    show('echoP50Ms', 'ms', false),
    show('echoP99Ms', 'ms', false),
    show('echoDuringUploadP50Ms', 'ms', false),
    show('echoDuringUploadP99Ms', 'ms', false),
    show('echoDuringDownloadP50Ms', 'ms', false),
    show('echoDuringDownloadP99Ms', 'ms', false),
    show('rawExecEchoP50Ms', 'ms', false),
    show('rawExecEchoP99Ms', 'ms', false),
    show('timeToPromptMs', 'ms'),
    show('firstConnectMs', 'ms', false),
    show('timeToResumeMs', 'ms'),
    show('resumeReconnectReadyMs', 'ms'),
    show('agentCpuPctThroughput', '% of a core', false),
    show('agentCpuPctChannelThroughput', '% of a core', false),
    show('agentCpuMsPerMB', 'ms/MB', false),
    show('agentCpuMsPerMBXterm', 'ms/MB', false),
    show('rendererCpuMsPerMB', 'ms/MB', false),
    show('dockerCpuMsPerMB', 'ms/MB', false),
    show('channelVsRawExec', '× raw exec', false),
    show('xtermVsRawExec', '× raw exec', false),
    show('tetherShareOfRendererCpu', 'of the renderer', false),
    show('weriftChromiumStalls', `of ${String(results.weriftChromiumTransfers)} transfers`, false),
    show('weriftSenderCpuMsPerMB', 'ms/MB', false),
    show('floorChromiumPairMBps', 'MB/s', false),
    show('floorNativePeerMBps', 'MB/s', false),
    show('floorWeriftMBps', 'MB/s', false),
    show('floorNativePeerCpuMsPerMB', 'ms/MB', false),
    show('floorWeriftCpuMsPerMB', 'ms/MB', false),
    show('floorChromiumPairEchoP50Ms', 'ms', false),
    show('floorChromiumPairEchoP99Ms', 'ms', false),
    show('floorNativePeerEchoP50Ms', 'ms', false),
    show('floorNativePeerEchoP99Ms', 'ms', false),
    show('floorWeriftEchoP50Ms', 'ms', false),
    show('floorWeriftEchoP99Ms', 'ms', false),
    show('agentRssIdleMB', 'MB', false),
    show('nodeEmptyRssMB', 'MB', false),
    show('agentRssPeakMB', 'MB', false),
    show('agentRssAfterMB', 'MB', false),
    show('agentRssPerSessionMB', 'MB', false),
    show('agentHeapPerSessionMB', 'MB', false),
    show('agentRssPerTabMB', 'MB', false),
    show('agentHeapPerTabMB', 'MB', false),
    show('agentRssPerSessionCrowdIdleMB', 'MB', false),
    show('agentRssPerSessionCrowdBusyMB', 'MB', false),
    show('relayP50Ms', 'ms', false),
    show('relayP99Ms', 'ms', false),
    show('crossNodeRelayP50Ms', 'ms', false),
    show('crossNodeRelayP99Ms', 'ms', false),
    show('nodeDeathToReachableMs', 'ms', false),
    show('nodeDeathToGhostGoneMs', 'ms', false),
    show('bytesAfterCtrlC', 'bytes'),
    show('bytesAfterCtrlCLagging', 'bytes'),
    show('preAuthAttackRssPeakGrowthMB', 'MB', false),
    show('preAuthAttackRssGrowthMB', 'MB', false),
    ['durationS', `${String(results.durationS)} s`],
  ];
  console.log('');
  printTable(rows);
  console.log(`\ntimeToPromptStagesMs  ${JSON.stringify(results.timeToPromptStagesMs ?? null)}`);
  const storms = (results.signalingLoad ?? []) as StormFigures[];
  if (storms.length > 0) {
    console.log(
      '\nsignaling storms (10 consoles): agents, nodes, connects/s, consoles see all (ratio), presence bytes per console (× snapshot), relay p99, server CPU, departure event-loop delay p99',
    );
    for (const s of storms) {
      console.log(
        `  ${s.agents} × ${s.nodes}: ${s.connectsPerSecond}/s, ${s.consolesSeeAllMs} ms (${s.seeAllRatio}), ${s.presenceBytesPerConsole} B (${s.bytesRatio}), ${s.relayP99Ms} ms, ${s.serverCpuPct} %` +
          (s.departure ? `, ${s.departure.eventLoopDelayP99Ms} ms` : ''),
      );
    }
  }
  console.log(`versions              ${JSON.stringify(versions ?? null)}`);
  if (results.controlLoop) printControlLoop(results.controlLoop as Record<string, unknown>);
  printGoals(results.goals as ReturnType<typeof evaluateGoals>);
  console.log(`\nwritten to ${resultsPath}`);
  if (results.errors.length > 0) {
    console.log(`\n${results.errors.length} error(s):`);
    for (const error of results.errors) console.log(`  - ${error}`);
    process.exitCode = 1;
  }
}

await main();
