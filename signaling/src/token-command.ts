/**
 * `tether-signaling token issue|revoke`: issues signed tokens with the server's first token secret,
 * and appends revocations to the file the running server watches. Neither needs the server running.
 */
import { parseArgs } from 'node:util';
import { ConfigFile } from './config.js';
import { appendRevocation } from './revocations.js';
import { issueToken, tokenId } from './tokens.js';

export const TOKEN_USAGE = `Usage:
  tether-signaling token issue --role agent|console --org <org> --subject <name> [--ttl 30d]
                               [--token-secret <s> | env TETHER_SIGNALING_TOKEN_SECRET | --config <file>]
      prints a signed token on stdout; an agent token's subject is its agentId
  tether-signaling token revoke <token id | token> [--revocations <file> | env TETHER_SIGNALING_REVOCATIONS | --config <file>]
      appends the token's id to the revocations file
`;

export interface CommandIo {
  env: Readonly<Record<string, string | undefined>>;
  readFile(path: string): string;
  out(text: string): void;
  err(text: string): void;
}

/** `30d`, `12h`, `15m`, `90s`, `90` (seconds) in milliseconds; undefined when malformed. */
export function parseTtl(text: string): number | undefined {
  const match = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

function readConfigFile(path: string | undefined, io: CommandIo): { ok: true; file: ConfigFile } | { ok: false; message: string } {
  if (path === undefined) return { ok: true, file: {} };
  let json: unknown;
  try {
    json = JSON.parse(io.readFile(path));
  } catch (cause) {
    return { ok: false, message: `cannot read config file ${path}: ${(cause as Error).message}` };
  }
  const parsed = ConfigFile.safeParse(json);
  if (!parsed.success)
    return { ok: false, message: `config file ${path}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}` };
  return { ok: true, file: parsed.data };
}

/** The options that take a value; any of them may stand between `revoke` and its argument. */
const VALUE_OPTIONS = new Set(['--role', '--org', '--subject', '--ttl', '--token-secret', '--revocations', '--config']);

/**
 * Token ids are base64url, so one in 32 begins with '-', which parseArgs would read as an option.
 * After `revoke`, the first argument that is neither an option nor an option's value is the token
 * or its id, whatever it begins with: it is moved behind `--`.
 */
function targetAfterRevoke(argv: readonly string[]): string[] {
  if (argv[0] !== 'revoke') return [...argv];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (VALUE_OPTIONS.has(arg)) i++;
    else if (!(arg.startsWith('--') && VALUE_OPTIONS.has(arg.split('=')[0]!)))
      return [...argv.slice(0, i), ...argv.slice(i + 1), '--', arg];
  }
  return [...argv];
}

/** Runs `token …` (argv without the leading `token`); resolves with the exit code. */
export function runTokenCommand(argv: readonly string[], io: CommandIo): number {
  const fail = (message: string, code = 2) => {
    io.err(`tether-signaling token: ${message}\n\n${TOKEN_USAGE}`);
    return code;
  };
  if (argv[0] === '--help' || argv[0] === '-h') {
    io.out(TOKEN_USAGE);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: targetAfterRevoke(argv),
      strict: true,
      allowPositionals: true,
      options: {
        role: { type: 'string' },
        org: { type: 'string' },
        subject: { type: 'string' },
        ttl: { type: 'string' },
        'token-secret': { type: 'string', multiple: true },
        revocations: { type: 'string' },
        config: { type: 'string' },
      },
    });
  } catch (cause) {
    return fail((cause as Error).message);
  }
  const { values, positionals } = parsed;
  const config = readConfigFile(values.config, io);
  if (!config.ok) return fail(config.message);
  const [action, target, ...extra] = positionals;
  if (action === 'issue' && target === undefined) {
    const secret =
      values['token-secret']?.[0] ?? io.env['TETHER_SIGNALING_TOKEN_SECRET']?.split(',')[0]?.trim() ?? config.file.tokenSecrets?.[0];
    if (!secret) return fail('no token secret: pass --token-secret, TETHER_SIGNALING_TOKEN_SECRET or tokenSecrets in --config');
    if (values.role !== 'agent' && values.role !== 'console') return fail('--role must be agent or console');
    if (!values.org || !values.subject) return fail('--org and --subject are required');
    const ttlMs = parseTtl(values.ttl ?? '30d');
    if (ttlMs === undefined || ttlMs <= 0) return fail(`--ttl ${values.ttl} is not a duration (e.g. 30d, 12h)`);
    const issued = issueToken(secret, { role: values.role, org: values.org, subject: values.subject, ttlMs });
    if (!issued.ok) return fail(issued.error);
    const { claims } = issued.value;
    io.err(
      `token ${claims.jti}: ${claims.role} ${claims.sub} in org ${claims.org}, expires ${new Date(claims.exp * 1000).toISOString()}\n`,
    );
    io.out(`${issued.value.token}\n`);
    return 0;
  }
  if (action === 'revoke' && target !== undefined && extra.length === 0) {
    const file = values.revocations ?? io.env['TETHER_SIGNALING_REVOCATIONS'] ?? config.file.revocationsFile;
    if (!file) return fail('no revocations file: pass --revocations, TETHER_SIGNALING_REVOCATIONS or revocationsFile in --config');
    const jti = target.includes('.') ? tokenId(target) : target;
    if (jti === undefined || !/^[A-Za-z0-9_-]{8,64}$/.test(jti))
      return fail(`${target.slice(0, 16)}… is neither a token id nor a tst1 token`);
    const appended = appendRevocation(file, jti);
    if (!appended.ok) return fail(appended.error, 1);
    io.out(`revoked ${jti}\n`);
    return 0;
  }
  return fail(action === undefined ? 'issue or revoke?' : `unknown or incomplete command: token ${positionals.join(' ')}`);
}
