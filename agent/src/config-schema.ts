/**
 * The agent configuration's schema, its defaults, and the one type every part of the agent reads.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { AgentId, DEFAULT_RESUME_GRACE_MS, LanEndpoint } from '@tether/protocol';
import { LOG_LEVELS } from './log.js';
import { DEFAULT_EXEC_USER } from './session-rules.js';
import { cpuSet, MIN_SESSION_MEMORY_BYTES, parseMemorySize, SESSION_PRIORITIES } from './session-standing.js';
import { DEFAULT_TRANSFER_MAX_BYTES, TRANSFER_MODES } from './transfer/transfer-rules.js';
import { defaultStateDir } from './trust/state-files.js';

/** A configuration layer before validation: whatever one source gave. */
export type ConfigLayer = Record<string, unknown>;

export const IceServerConfig = z.object({
  urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

/** A Linux CPU list: `1`, `2-3`, `0,2-3`. */
export const CpuList = z.string().refine((v) => cpuSet(v) !== undefined, { message: 'a CPU list such as 1, 2-3 or 0,2' });

/** A size in bytes, or with a unit: `256m`, `1g`, `65536k`; at least 16 MiB. */
export const MemorySize = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = parseMemorySize(value);
  if (bytes === undefined || bytes < MIN_SESSION_MEMORY_BYTES) {
    ctx.issues.push({ code: 'custom', input: value, message: `a size of at least 16m, such as 256m or 1g (got ${JSON.stringify(value)})` });
    return z.NEVER;
  }
  return bytes;
});

const ProcessCount = z.number().int().min(1).max(4_194_304);

/** A container's sessions' standing; each field wins over the container's labels and the agent's default. */
export const StandingRuleConfig = z.strictObject({
  priority: z.enum(SESSION_PRIORITIES).optional(),
  cpus: CpuList.optional(),
  memory: MemorySize.optional(),
  processes: ProcessCount.optional(),
});

export const AgentConfig = z
  .object({
    /** the cloud signaling server; optional when the LAN endpoint is on */
    signalingUrl: z.url({ protocol: /^(https?|wss?)$/ }).optional(),
    token: z.string().min(1).max(4096).optional(),
    agentId: AgentId,
    name: z.string().min(1).max(128),
    /** Docker labels a container must carry (all of them) to be exposed; an empty value matches any. */
    labels: z.record(z.string().min(1), z.string()),
    /** STUN/TURN servers; none by default, so ICE never depends on a server the operator did not name. */
    iceServers: z.array(IceServerConfig),
    /** Extra host candidate addresses, e.g. 127.0.0.1, which werift otherwise skips. */
    iceHosts: z.array(z.union([z.ipv4(), z.ipv6()])),
    /** Binds ICE to this IPv4 address only (werift `iceInterfaceAddresses.udp4`). */
    iceInterface: z.ipv4().optional(),
    /** `relay`: gather and use TURN relay candidates only (werift's forceTurn); `all` by default. */
    iceTransportPolicy: z.enum(['all', 'relay']),
    dockerSocket: z.string().min(1),
    /** Shells to try in order; the first that exists in the container is started. */
    shells: z.array(z.string().regex(/^\//, 'an absolute path')).min(1),
    /** User the exec runs as unless a container's `tether.user` label or `users` names another. */
    user: z.string().min(1),
    /** Exec user per container name. */
    users: z.record(z.string(), z.string().min(1)),
    logLevel: z.enum(LOG_LEVELS),
    /** Identity, enrolled consoles, pending pairings, audit log. */
    stateDir: z.string().min(1),
    /** `host:port` for the agent's own LAN signaling endpoint; off when unset. */
    lanListen: LanEndpoint.optional(),
    /** Endpoints printed in pairing tokens; default: the LAN listen address, or this host's IPv4 addresses. */
    lanEndpoints: z.array(LanEndpoint).max(8),
    /** Whether cloud offers need an enrolled console fingerprint (the LAN path always does). */
    requirePairing: z.enum(['auto', 'always', 'never']),
    /** Containers exposed by name (glob with `*` and `?`), in addition to the label rule. */
    exposeNames: z.array(z.string().min(1)),
    maxSessionsPerContainer: z.number().int().min(0),
    idleTimeoutMs: z.number().int().min(0),
    maxSessionMs: z.number().int().min(0),
    /** How long a session outlives its lost channel, waiting for a resume; 0: no resume. */
    resumeGraceMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 3600 * 1000),
    /** Append-only JSON-lines audit log; default `audit.jsonl` in the state folder. */
    auditLog: z.string().min(1).optional(),
    /**
     * While the audit log cannot be written: `closed` refuses new sessions (AUDIT_UNAVAILABLE), `open`
     * lets them start; either way the records are held and written after a gap record once it can.
     */
    auditFailure: z.enum(['closed', 'open']),
    /** Folder for asciicast v2 recordings; none when unset. */
    recordDir: z.string().min(1).optional(),
    /** Adds what was typed to recordings (asciicast `i` events); the tab says so. Off: it holds passwords. */
    recordInput: z.boolean(),
    /** `idle`: sessions run at nice 19, SCHED_IDLE where allowed, idle I/O, oom_score_adj 1000; `normal`: as Docker starts them. */
    sessionPriority: z.enum(SESSION_PRIORITIES),
    /** CPUs every session may run on unless a container's rule or label says otherwise. */
    sessionCpus: CpuList.optional(),
    /** RLIMIT_AS of each session process, unless a container's rule or label says otherwise. */
    sessionMemory: MemorySize.optional(),
    /** RLIMIT_NPROC (processes of the exec user), unless a container's rule or label says otherwise. */
    sessionProcesses: ProcessCount.optional(),
    /** Per container name, its sessions' standing. */
    sessionRules: z.record(z.string().min(1), StandingRuleConfig),
    // ---- file transfers (transfer/transfer-rules.ts) ----
    /** `off`, `download` (downloads only) or `both`, unless a container's rule says otherwise. */
    transfers: z.enum(TRANSFER_MODES),
    /** The largest file (or directory archive) moved, in bytes; 0: no limit. */
    transferMaxBytes: z.number().int().min(0),
    /** Per container name: its own mode and size limit; wins over the defaults and the container's label. */
    transferRules: z.record(
      z.string().min(1),
      z.strictObject({ mode: z.enum(TRANSFER_MODES).optional(), maxBytes: z.number().int().min(0).optional() }),
    ),
  })
  .refine((c) => c.signalingUrl !== undefined || c.lanListen !== undefined, {
    message: 'give --signaling-url (cloud) or --lan-listen (LAN endpoint), or both',
    path: ['signalingUrl'],
  })
  .refine((c) => c.signalingUrl === undefined || c.token !== undefined, {
    message: '--token is required with --signaling-url',
    path: ['token'],
  })
  .refine((c) => !c.recordInput || c.recordDir !== undefined, { message: '--record-input needs --record-dir', path: ['recordInput'] });

export type AgentConfig = z.infer<typeof AgentConfig>;
export type IceServerConfig = z.infer<typeof IceServerConfig>;

export const DEFAULT_LABELS = { 'tether.vplc': 'true' };
export const DEFAULT_SHELLS = ['/bin/bash', '/bin/sh'];

/** The host name as an agent id: letters, digits, `_`, `.` and `-`, at most 64 characters. */
export function sanitizeAgentId(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
  return id.length > 0 ? id : 'tether-agent';
}

/** What a setting is when no source gives it. */
export function defaults(): ConfigLayer {
  const host = hostname() || 'tether-agent';
  return {
    agentId: sanitizeAgentId(host),
    name: host.slice(0, 128),
    labels: DEFAULT_LABELS,
    iceServers: [],
    iceHosts: [],
    iceTransportPolicy: 'all',
    dockerSocket: '/var/run/docker.sock',
    shells: DEFAULT_SHELLS,
    logLevel: 'info',
    user: DEFAULT_EXEC_USER,
    users: {},
    stateDir: defaultStateDir(),
    lanEndpoints: [],
    requirePairing: 'auto',
    exposeNames: [],
    maxSessionsPerContainer: 4,
    idleTimeoutMs: 0,
    maxSessionMs: 0,
    resumeGraceMs: DEFAULT_RESUME_GRACE_MS,
    auditFailure: 'closed',
    recordInput: false,
    sessionPriority: 'idle',
    sessionRules: {},
    transfers: 'both',
    transferMaxBytes: DEFAULT_TRANSFER_MAX_BYTES,
    transferRules: {},
  };
}
