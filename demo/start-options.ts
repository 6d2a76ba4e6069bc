// `npm start`'s command line: flags and their environment variables, parsed into the options of
// startLocalStack(). Every mistake is one UsageError naming the flag or variable as the user wrote
// it; demo/start.ts prints it as one line and exits 2.
import { parseArgs } from 'node:util';
import { DEFAULT_STACK_OPTIONS, type LocalStackOptions } from './stack.ts';

/** A command-line or environment mistake: its message is the whole explanation (no stack). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type PortOption = 'proxyPort' | 'adminPort' | 'sessiondPort';

/** The port flags, each with the environment variable read when the flag is absent. */
const PORT_FLAGS: ReadonlyArray<{ flag: string; env: string; option: PortOption; meaning: string }> = [
  { flag: 'port', env: 'PORT', option: 'proxyPort', meaning: 'public port of the proxy: the one URL to open' },
  { flag: 'admin-port', env: 'ADMIN_PORT', option: 'adminPort', meaning: 'proxy admin API port (127.0.0.1)' },
  { flag: 'sessiond-port', env: 'SESSIOND_PORT', option: 'sessiondPort', meaning: 'sessiond gRPC port (127.0.0.1)' },
];

const row = (left: string, meaning: string, fallback?: string): string =>
  `  ${left.padEnd(24)}${meaning}\n` + (fallback === undefined ? '' : `  ${''.padEnd(24)}default: ${fallback}\n`);

export const USAGE =
  'Usage: npm start -- [options]\n' +
  'Starts the whole stack on this machine (session store, sessiond, six cart-app replicas, dashboard,\n' +
  'proxy) and prints its URLs; Ctrl-C stops everything. A port of 0 picks a free one.\n\nOptions:\n' +
  PORT_FLAGS.map((p) => row(`--${p.flag} <port>`, `${p.meaning}; env ${p.env}`, String(DEFAULT_STACK_OPTIONS[p.option]))).join('') +
  row('--memory', "use sessiond's embedded memory store even when Redis is available", 'off: Redis at REDIS_URL, else a redis-server from PATH, else memory') +
  row('--verbose', 'print the output of every process', 'off') +
  row('-h, --help', 'print this help and exit');

export type StartOptions =
  | { help: true }
  | ({ help: false } & Pick<LocalStackOptions, PortOption | 'portNames' | 'store'> & { verbose: boolean });

const BOOLEAN_FLAGS = new Set(['memory', 'verbose', 'help', 'h']);
const SEE_HELP = '(npm start -- --help lists the options)';

/** Parses `npm start`'s arguments and PORT/ADMIN_PORT/SESSIOND_PORT; throws UsageError. */
export function parseStartOptions(args: string[], env: NodeJS.ProcessEnv): StartOptions {
  const { tokens } = parseArgs({
    args,
    options: Object.fromEntries([...PORT_FLAGS.map((p) => [p.flag, { type: 'string' as const }]), ...[...BOOLEAN_FLAGS].map((f) => [f, { type: 'boolean' as const }])]),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const given = new Map<string, { raw: string; value: string | undefined }>();
  for (const token of tokens) {
    if (token.kind === 'positional') throw new UsageError(`unexpected argument "${token.value}" ${SEE_HELP}`);
    if (token.kind !== 'option') continue;
    const known = BOOLEAN_FLAGS.has(token.name) || PORT_FLAGS.some((p) => p.flag === token.name);
    // parseArgs reads "-port" as the short flags -p -o -r -t: name what was typed.
    if (!known || (token.rawName.length === 2 && token.name !== 'h')) throw new UsageError(`unknown option ${token.rawName.startsWith('--') ? token.rawName : args[token.index]} ${SEE_HELP}`);
    if (BOOLEAN_FLAGS.has(token.name) && token.value !== undefined) throw new UsageError(`${token.rawName} takes no value, not "${token.value}"`);
    given.set(token.name, { raw: token.rawName, value: token.value });
  }
  if (given.has('help') || given.has('h')) return { help: true };

  const ports = {} as Record<PortOption, number>;
  const portNames = {} as LocalStackOptions['portNames'];
  for (const { flag, env: variable, option } of PORT_FLAGS) {
    const fromFlag = given.get(flag);
    const name = fromFlag ? `--${flag}` : variable;
    const text = fromFlag ? fromFlag.value : env[variable];
    portNames[option] = name;
    if (fromFlag && text === undefined) throw new UsageError(`${name} needs a value: a port number 0-65535`);
    ports[option] = text === undefined || (!fromFlag && text === '') ? DEFAULT_STACK_OPTIONS[option] : parsePort(name, text);
  }
  return { help: false, ...ports, portNames, store: given.has('memory') ? 'memory' : 'auto', verbose: given.has('verbose') };
}

function parsePort(name: string, text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port <= 65_535)) throw new UsageError(`${name} must be a port number 0-65535, not "${text}"`);
  return port;
}
