/**
 * `tether-agent pair` and `tether-agent consoles list|revoke`: they work on the state folder, which
 * the running agent reads on every pairing and every offer, so they need no connection to it.
 */
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { z } from 'zod';
import { encodePairingToken, LanEndpoint, PAIRING_TTL_MS } from '@tether/protocol';
import { duration } from './config.js';
import { ConsoleRegistry } from './trust/consoles.js';
import { loadIdentity } from './trust/identity.js';
import { PairingStore } from './trust/pairings.js';
import { defaultStateDir, readJsonFile, writeJsonFile } from './trust/state-files.js';

export const DEFAULT_LAN_PORT = 7301;

/** What the running agent writes at start (`agent.json`), so that `pair` names it as it runs. */
export const RunningAgent = z.object({ agentId: z.string(), name: z.string(), lanPort: z.number().optional(), lanHost: z.string().optional() });

export function writeRunningAgent(stateDir: string, info: z.infer<typeof RunningAgent>): void {
  writeJsonFile(join(stateDir, 'agent.json'), info);
}

export const COMMANDS_HELP = `Usage:
  tether-agent pair [--ttl 10m] [--lan-endpoint host:port]... [--state-dir dir] [--agent-id id] [--name name]
      prints a QR code and a pairing token for one console (one use, expires after --ttl)
  tether-agent consoles list [--state-dir dir]
  tether-agent consoles revoke <console id> [--state-dir dir]
`;

function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address));
}

/**
 * Console ids are base64url, so one in 32 begins with '-', which parseArgs would read as an
 * option. After `consoles revoke`, the first argument that is not the command's own option is the
 * id, whatever it begins with: it is moved behind `--`.
 */
function idAfterRevoke(rest: string[]): string[] {
  if (rest[0] !== 'revoke') return rest;
  const args = rest.slice(1);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return rest;
    if (arg === '--state-dir') i++;
    else if (!arg.startsWith('--state-dir=') && arg !== '--json') return ['revoke', ...args.slice(0, i), ...args.slice(i + 1), '--', arg];
  }
  return rest;
}

export async function runCommand(argv: string[], env: NodeJS.ProcessEnv, out: (text: string) => void): Promise<number> {
  const [command, ...given] = argv;
  const rest = command === 'consoles' ? idAfterRevoke(given) : given;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest, strict: true, allowPositionals: true,
      options: {
        'state-dir': { type: 'string' }, ttl: { type: 'string' }, 'lan-endpoint': { type: 'string', multiple: true },
        'agent-id': { type: 'string' }, name: { type: 'string' }, 'no-qr': { type: 'boolean' }, json: { type: 'boolean' },
      },
    });
  } catch (cause) {
    out(`tether-agent: ${(cause as Error).message}\n${COMMANDS_HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const stateDir = values['state-dir'] ?? env.TETHER_AGENT_STATE_DIR ?? defaultStateDir(env);
  if (command === 'consoles') {
    const registry = new ConsoleRegistry(stateDir);
    if (positionals[0] === 'list') {
      const all = registry.all();
      if (!all.ok) return (out(`tether-agent: ${all.error}\n`), 1);
      if (values.json) out(JSON.stringify(all.value, null, 2) + '\n');
      else for (const c of all.value) out(`${c.id}  ${c.revokedAt ? 'revoked ' : 'active  '} ${c.fingerprint}  ${c.name}  (enrolled ${c.enrolledAt})\n`);
      return 0;
    }
    if (positionals[0] === 'revoke' && positionals[1]) {
      const revoked = registry.revoke(positionals[1]);
      if (!revoked.ok) return (out(`tether-agent: ${revoked.error}\n`), 1);
      out(`revoked ${revoked.value.id} (${revoked.value.name})\n`);
      return 0;
    }
    out(COMMANDS_HELP);
    return 2;
  }
  // pair
  const keys = await loadIdentity(stateDir);
  if (!keys.ok) return (out(`tether-agent: ${keys.error}\n`), 1);
  const running = readJsonFile(join(stateDir, 'agent.json'), {});
  const info = RunningAgent.partial().safeParse(running.ok ? running.value : {});
  const agent = info.success ? info.data : {};
  const ttl = duration(values.ttl ?? '10m');
  if (typeof ttl !== 'number' || ttl <= 0) return (out(`tether-agent: --ttl ${values.ttl} is not a duration (e.g. 10m)\n`), 2);
  const agentId = values['agent-id'] ?? env.TETHER_AGENT_ID ?? agent.agentId;
  const name = (values.name ?? env.TETHER_AGENT_NAME ?? agent.name ?? agentId ?? '').slice(0, 64);
  if (!agentId) return (out('tether-agent: start the agent once (it records its id in the state folder) or pass --agent-id\n'), 2);
  const port = agent.lanPort ?? DEFAULT_LAN_PORT;
  const listenHost = agent.lanHost && agent.lanHost !== '0.0.0.0' && agent.lanHost !== '::' ? [agent.lanHost] : hostAddresses();
  const endpoints = values['lan-endpoint'] ?? listenHost.map((h) => (h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`));
  const bad = endpoints.find((e) => !LanEndpoint.safeParse(e).success);
  if (bad) return (out(`tether-agent: ${bad} is not host:port\n`), 2);
  const pending = new PairingStore(stateDir).create(ttl);
  if (!pending.ok) return (out(`tether-agent: ${pending.error}\n`), 1);
  const token = encodePairingToken({
    version: 1, pairingId: pending.value.pairingId, agentId, name: name || agentId, endpoints: endpoints.slice(0, 8),
    fingerprint: keys.value.fingerprint, secret: pending.value.secret, expiresAt: pending.value.expiresAt,
  });
  if (!values['no-qr']) out(await QRCode.toString(token, { type: 'terminal', small: true, errorCorrectionLevel: 'L' }));
  out(`\nPairing token for ${name || agentId} (one console, valid until ${new Date(pending.value.expiresAt).toISOString()}):\n\n${token}\n\n`);
  out(`Agent fingerprint: sha-256 ${keys.value.fingerprint}\n`);
  return 0;
}

export const isCommand = (argv: string[]) => argv[0] === 'pair' || argv[0] === 'consoles';

export { PAIRING_TTL_MS };
