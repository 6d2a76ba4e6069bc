// `stickless proxy routes | backends | set-affinity | drain`: the operator commands, one admin API
// call each (proxy/admin-client.ts). Tables on stdout (or the JSON answer with --json); a refusal as
// `{"error":{"code","message"}}` on stderr. Exit codes as cli/exit-codes.ts: 0 ok, 1 no such route
// or backend, 2 usage error (nothing sent), 3 the proxy refused or could not be reached.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AdminCallError, AdminClient, DEFAULT_ADMIN_TIMEOUT_MS } from '../proxy/admin-client.ts';
import type { BackendView, RouteView } from '../proxy/admin.ts';
import { EXIT, UsageError, write } from './exit-codes.ts';

/** The subcommands handled here; `stickless proxy` with anything else starts the proxy. */
export const PROXY_ADMIN_COMMANDS: ReadonlySet<string> = new Set(['routes', 'backends', 'set-affinity', 'drain']);

const COMMON = `Options (every subcommand):
  --admin <url>           admin API origin; env STICKLESS_ADMIN_URL; default http://127.0.0.1:9901
  --token-file <path>     file holding the admin token; env STICKLESS_ADMIN_TOKEN_FILE
                          (or the token itself in env STICKLESS_ADMIN_TOKEN; never a flag: flags show in ps)
  --timeout-ms <ms>       deadline of the call; default ${DEFAULT_ADMIN_TIMEOUT_MS}
  --json                  print the admin API's JSON answer instead of a table
  --help                  print this and exit 0

Exit codes: 0 ok, 1 no such route or backend, 2 usage error (nothing sent),
3 the proxy refused (bad token, invalid value) or could not be reached ({"error":{"code","message"}} on stderr).
`;

const HELP: Record<string, string> = {
  routes: `Usage: stickless proxy routes [options]\n\nLists every route: name, affinity (configured), pool, match, requests.\n\n${COMMON}`,
  backends: `Usage: stickless proxy backends [options]\n\nLists every backend: id, pool, state, weight, in-flight, requests, failures.\n\n${COMMON}`,
  'set-affinity': `Usage: stickless proxy set-affinity <route> none|soft|hard [options]\n\nSwitches the route's affinity at runtime (not written back to the file; a reload resets it).\n\n${COMMON}`,
  drain: `Usage: stickless proxy drain <backend> [--deadline <duration>] [options]\n\nThe backend takes no new pins; soft pins move on their next request; hard pins and WebSockets\nleave at the deadline (default: the pool's drainTimeoutMs). Duration: 500ms, 30s, 5m or plain ms.\n\n${COMMON}`,
};

const OPTIONS = {
  admin: { type: 'string' },
  'token-file': { type: 'string' },
  'timeout-ms': { type: 'string' },
  deadline: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs one admin subcommand (`argv` starts with it); resolves with the exit code. */
export async function runProxyAdmin(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`proxy ${command}: ${(error as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (command === undefined || !PROXY_ADMIN_COMMANDS.has(command)) throw new UsageError(`unknown proxy subcommand ${JSON.stringify(command)}; see stickless proxy --help`);
  if (values.help) {
    write(process.stdout, HELP[command]!);
    return EXIT.ok;
  }
  if (values.deadline !== undefined && command !== 'drain') throw new UsageError(`proxy ${command}: --deadline is only for drain`);
  const expect = command === 'set-affinity' ? 2 : command === 'drain' ? 1 : 0;
  if (positionals.length !== expect) throw new UsageError(`proxy ${command}: expected ${expect === 0 ? 'no arguments' : expect === 1 ? 'one backend id' : 'a route name and none|soft|hard'}`);
  const mode = positionals[1];
  if (command === 'set-affinity' && mode !== 'none' && mode !== 'soft' && mode !== 'hard') throw new UsageError(`proxy set-affinity: expected none | soft | hard, got ${JSON.stringify(mode)}`);
  const deadlineMs = values.deadline === undefined ? undefined : parseDuration(values.deadline);
  const client = new AdminClient({ url: values.admin ?? process.env['STICKLESS_ADMIN_URL'] ?? 'http://127.0.0.1:9901', token: readToken(values['token-file']), timeoutMs: parseTimeout(values['timeout-ms']) });

  try {
    let answer: unknown;
    let table: string;
    if (command === 'routes') table = routesTable((answer = await client.routes()) as RouteView[]);
    else if (command === 'backends') table = backendsTable((answer = await client.backends()) as BackendView[]);
    else if (command === 'set-affinity') table = routesTable([(answer = await client.setAffinity(positionals[0]!, mode as 'none' | 'soft' | 'hard')) as RouteView]);
    else table = backendsTable([(answer = await client.drain(positionals[0]!, deadlineMs)) as BackendView]);
    write(process.stdout, values.json ? `${JSON.stringify(answer)}\n` : table);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof AdminCallError)) throw error;
    write(process.stderr, `${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    return error.status === 404 && error.code === 'PRX_ERR_NOT_FOUND' ? EXIT.notFound : EXIT.failed;
  }
}

function readToken(file: string | undefined): string {
  const path = file ?? process.env['STICKLESS_ADMIN_TOKEN_FILE'];
  if (path !== undefined && path !== '') {
    try {
      const token = readFileSync(path, 'utf8').trim();
      if (token !== '') return token;
    } catch (error) {
      throw new UsageError(`cannot read the admin token file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    throw new UsageError(`the admin token file ${path} is empty`);
  }
  const token = process.env['STICKLESS_ADMIN_TOKEN'];
  if (token === undefined || token === '') throw new UsageError('no admin token: set STICKLESS_ADMIN_TOKEN, STICKLESS_ADMIN_TOKEN_FILE or --token-file');
  return token;
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_ADMIN_TIMEOUT_MS;
  if (!/^[1-9]\d{0,8}$/.test(value)) throw new UsageError(`--timeout-ms: expected a positive integer (ms), got ${JSON.stringify(value)}`);
  return Number(value);
}

/** `500ms`, `30s`, `5m`, `1h` or plain milliseconds → ms. */
export function parseDuration(value: string): number {
  const match = /^(\d{1,9})(ms|s|m|h)?$/.exec(value);
  if (match === null) throw new UsageError(`--deadline: expected a duration such as 500ms, 30s, 5m or plain ms, got ${JSON.stringify(value)}`);
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms']!;
  return Number(match[1]) * factor;
}

function routesTable(routes: RouteView[]): string {
  const rows = routes.map((r) => [r.name, r.affinity === r.configuredAffinity ? r.affinity : `${r.affinity} (file: ${r.configuredAffinity})`, r.pool, `${r.match.host ?? '*'}${r.match.pathPrefix}`, String(r.counters.requests)]);
  return formatTable(['ROUTE', 'AFFINITY', 'POOL', 'MATCH', 'REQUESTS'], rows);
}

function backendsTable(backends: BackendView[]): string {
  const rows = backends.map((b) => [b.id, b.pool, b.state, String(b.weight), String(b.inFlight), String(b.requests), String(b.failures), b.drainDeadline ?? '']);
  return formatTable(['BACKEND', 'POOL', 'STATE', 'WEIGHT', 'IN-FLIGHT', 'REQUESTS', 'FAILURES', 'DRAIN-DEADLINE'], rows);
}

function formatTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}
