/**
 * The running agent's control socket, `agent.sock` in its state folder: how `tether-agent pair` and
 * `tether-agent consoles` act through the agent instead of rewriting its files beside it. The agent
 * is then the only writer of `pairings.json` and `consoles.json` while it runs (no lost update
 * between the CLI and an enrolment), every file is created by the service's own user, and `pair`
 * learns the LAN endpoint the agent really listens on.
 *
 * Who may ask is decided by the file system: the socket is mode 0600 in a folder of mode 0700, so
 * only the service's user and root reach it. One request per connection, one JSON line each way,
 * both parsed by schema.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { err, ok, type Result } from '@tether/protocol';
import { describeError } from '../deadline.js';
import { createLogger } from '../log.js';
import { EnrolledConsole, type ConsoleRegistry } from '../trust/consoles.js';
import type { PairingStore } from '../trust/pairings.js';

const log = createLogger(import.meta.url);

export const CONTROL_SOCKET = 'agent.sock';

/** Longest request or answer line; a console list of a few hundred entries fits. */
const MAX_LINE_BYTES = 1024 * 1024;
/** A client that neither asks nor reads within this long is dropped. */
const IO_TIMEOUT_MS = 5000;

export const ControlRequest = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('pair'),
    ttlMs: z
      .number()
      .int()
      .positive()
      .max(7 * 24 * 3600 * 1000),
  }),
  z.object({ op: z.literal('consoles') }),
  z.object({ op: z.literal('revoke'), id: z.string().min(1).max(256) }),
]);
export type ControlRequest = z.infer<typeof ControlRequest>;

/** What the running agent says about itself with a new pairing. */
export const PairingGrant = z.object({
  pairingId: z.string(),
  secret: z.string(),
  expiresAt: z.number(),
  agentId: z.string(),
  name: z.string(),
  fingerprint: z.string(),
  /** endpoints for the token: the configured ones, else those of the listening LAN endpoint */
  endpoints: z.array(z.string()),
  /** false when the agent runs without --lan-listen: no console can pair with it yet */
  lanListening: z.boolean(),
});
export type PairingGrant = z.infer<typeof PairingGrant>;

export const ControlAnswer = z.union([
  z.object({ ok: z.literal(true), pairing: PairingGrant }),
  z.object({ ok: z.literal(true), consoles: z.array(EnrolledConsole) }),
  z.object({ ok: z.literal(true), revoked: EnrolledConsole }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type ControlAnswer = z.infer<typeof ControlAnswer>;

/** What the socket needs from the running agent. */
export interface ControlTarget {
  pairings: PairingStore;
  consoles: ConsoleRegistry;
  /** the agent's id, name, fingerprint, token endpoints and whether its LAN endpoint listens */
  describe(): Omit<PairingGrant, 'pairingId' | 'secret' | 'expiresAt'>;
}

function answer(target: ControlTarget, request: ControlRequest): ControlAnswer {
  if (request.op === 'pair') {
    const created = target.pairings.create(request.ttlMs);
    if (!created.ok) return { ok: false, error: created.error };
    return { ok: true, pairing: { ...created.value, ...target.describe() } };
  }
  if (request.op === 'consoles') {
    const all = target.consoles.all();
    return all.ok ? { ok: true, consoles: all.value } : { ok: false, error: all.error };
  }
  const revoked = target.consoles.revoke(request.id);
  return revoked.ok ? { ok: true, revoked: revoked.value } : { ok: false, error: revoked.error };
}

/** Reads one newline-terminated line of at most MAX_LINE_BYTES; rejects on close, error or timeout. */
function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const done = (error?: Error) => {
      socket.off('data', onData).off('end', onEnd).off('error', done).off('timeout', onTimeout);
      socket.setTimeout(0);
      if (error) reject(error);
    };
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const end = buffered.indexOf('\n');
      if (end >= 0) {
        done();
        resolve(buffered.slice(0, end));
      } else if (buffered.length > MAX_LINE_BYTES) done(new Error('line too long'));
    };
    const onEnd = () => done(new Error('closed before a whole line'));
    const onTimeout = () => done(new Error('timed out'));
    socket.setTimeout(IO_TIMEOUT_MS);
    socket.on('data', onData).on('end', onEnd).on('error', done).on('timeout', onTimeout);
  });
}

export interface ControlSocket {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on `agent.sock` in the state folder. Call it only while holding the folder's lock: a
 * socket file left there is then a dead agent's, and is replaced.
 */
export async function listenControlSocket(stateDir: string, target: ControlTarget): Promise<Result<ControlSocket, string>> {
  const path = join(stateDir, CONTROL_SOCKET);
  try {
    unlinkSync(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') return err(`cannot remove the old ${path}: ${describeError(cause)}`);
  }
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    readLine(socket).then(
      (line) => {
        let reply: ControlAnswer;
        let parsed;
        try {
          parsed = ControlRequest.safeParse(JSON.parse(line));
        } catch {
          parsed = undefined;
        }
        if (!parsed?.success)
          reply = { ok: false, error: 'not a control request this agent understands; is the CLI the same version as the agent?' };
        else {
          reply = answer(target, parsed.data);
          log.info('control request', { op: parsed.data.op, ok: reply.ok, ...(reply.ok ? {} : { error: reply.error }) });
        }
        socket.end(JSON.stringify(reply) + '\n');
      },
      (cause: unknown) => {
        log.warn('control connection dropped', { error: describeError(cause) });
        socket.destroy();
      },
    );
  });
  const listening = await new Promise<Result<void, string>>((resolve) => {
    server.once('error', (cause) => resolve(err(`cannot listen on ${path}: ${describeError(cause)}`)));
    server.listen(path, () => resolve(ok(undefined)));
  });
  if (!listening.ok) return listening;
  server.on('error', (cause) => log.error('control socket failed', { path, error: describeError(cause) }));
  try {
    chmodSync(path, 0o600);
  } catch (cause) {
    server.close();
    return err(`cannot restrict ${path}: ${describeError(cause)}`);
  }
  let closed: Promise<void> | undefined;
  return ok({
    path,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  });
}

/** Why the CLI could not ask the running agent. */
export type ControlFailure =
  /** nobody listens on the socket: no agent runs on this folder (or an agent without the socket) */
  | { code: 'NOT_RUNNING'; message: string }
  /** the socket exists but this user may not use it */
  | { code: 'DENIED'; message: string }
  /** the agent was reached but the exchange failed */
  | { code: 'FAILED'; message: string };

/** Sends one request to the agent running on `stateDir` and returns its answer. */
export function askAgent(stateDir: string, request: ControlRequest): Promise<Result<ControlAnswer, ControlFailure>> {
  const path = join(stateDir, CONTROL_SOCKET);
  return new Promise((resolve) => {
    const socket = connect(path);
    let settled = false;
    const settle = (result: Result<ControlAnswer, ControlFailure>) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(result);
    };
    socket.once('error', (cause: NodeJS.ErrnoException) => {
      if (cause.code === 'ENOENT' || cause.code === 'ECONNREFUSED')
        settle(err({ code: 'NOT_RUNNING', message: `no agent answers on ${path}` }));
      else if (cause.code === 'EACCES' || cause.code === 'EPERM') {
        settle(err({ code: 'DENIED', message: `${path}: permission denied; run this as root or as the agent's own user` }));
      } else settle(err({ code: 'FAILED', message: `${path}: ${describeError(cause)}` }));
    });
    socket.once('connect', () => {
      socket.write(JSON.stringify(request) + '\n');
      readLine(socket).then(
        (line) => {
          let parsed;
          try {
            parsed = ControlAnswer.safeParse(JSON.parse(line));
          } catch {
            parsed = undefined;
          }
          settle(
            parsed?.success
              ? ok(parsed.data)
              : err({
                  code: 'FAILED',
                  message: `the agent on ${path} answered something this CLI does not understand; is it the same version?`,
                }),
          );
        },
        (cause: unknown) => settle(err({ code: 'FAILED', message: `the agent on ${path} did not answer: ${describeError(cause)}` })),
      );
    });
  });
}
