// `stickless up`: a local stack for trying stickless with your own app: sessiond (embedded memory
// store, or Redis with --redis-url) and the affinity proxy in front of the app's replicas. Each runs
// as a child process with its own logs; Ctrl-C (SIGINT/SIGTERM) stops both. In this repository,
// `npm start` runs the demo shop the same way.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EXIT, toJson, UsageError, write } from './exit-codes.ts';
import { missingDependencies } from './service-commands.ts';

const HELP = `Usage: stickless up --backend <url> [--backend <url> ...] [options]

Starts sessiond and the affinity proxy in front of your app's replicas, until Ctrl-C.

Options:
  --backend <url>           an app replica, e.g. http://127.0.0.1:3000; repeat for each (required)
  --port <port>             proxy port; default 8080
  --host <host>             proxy host; default 127.0.0.1
  --sessiond-listen <addr>  sessiond host:port; default 127.0.0.1:50051 (your app's SessionClient address)
  --redis-url <url>         keep sessions in Redis; default: sessiond's embedded memory store
  --affinity <mode>         none | soft | hard for every path; default soft
  --help                    print this and exit 0

Prints one JSON line {"proxy":"http://host:port","sessiond":"host:port"} once both are started.
Exit codes: 0 stopped by a signal, 2 usage error, 4 missing optional dependency, otherwise the code
of the service that stopped first.
`;

const OPTIONS = {
  backend: { type: 'string', multiple: true },
  port: { type: 'string', default: '8080' },
  host: { type: 'string', default: '127.0.0.1' },
  'sessiond-listen': { type: 'string', default: '127.0.0.1:50051' },
  'redis-url': { type: 'string' },
  affinity: { type: 'string', default: 'soft' },
  help: { type: 'boolean' },
} as const;

export async function runUp(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError(`up: ${(error as Error).message}`);
  }
  if (values.help) {
    write(process.stdout, HELP);
    return EXIT.ok;
  }
  const backends = values.backend ?? [];
  if (backends.length === 0) throw new UsageError('up: at least one --backend <url> is required');
  for (const url of backends) if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new UsageError(`up: --backend: expected an http(s) URL, got ${JSON.stringify(url)}`);
  if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65_535) throw new UsageError(`up: --port: expected 0..65535, got ${JSON.stringify(values.port)}`);
  if (!['none', 'soft', 'hard'].includes(values.affinity)) throw new UsageError(`up: --affinity: expected none | soft | hard, got ${JSON.stringify(values.affinity)}`);
  const missing = [...new Set([...missingDependencies('sessiond'), ...missingDependencies('proxy')])];
  if (missing.length > 0) {
    write(process.stderr, `stickless up: needs ${missing.join(', ')} (optional peer dependencies of stickless); run: npm install ${missing.join(' ')}\n`);
    return EXIT.missingDependency;
  }

  const dir = mkdtempSync(join(tmpdir(), 'stickless-up-'));
  const configPath = join(dir, 'proxy.json');
  const config = {
    listen: { host: values.host, port: Number(values.port) },
    keys: [randomBytes(32).toString('base64url')],
    pools: { app: { backends: backends.map((url, i) => ({ id: `app-${i + 1}`, url })) } },
    routes: [{ name: 'app', match: { pathPrefix: '/' }, pool: 'app', affinity: values.affinity }],
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });

  const main = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './main.js', import.meta.url));
  const sessiondArgs = ['sessiond', '--listen', values['sessiond-listen'], ...(values['redis-url'] ? ['--store', 'redis', '--redis-url', values['redis-url']] : ['--store', 'memory'])];
  const children: ChildProcess[] = [
    spawn(process.execPath, [main, ...sessiondArgs], { stdio: ['ignore', 'inherit', 'inherit'] }),
    spawn(process.execPath, [main, 'proxy', '--config', configPath], { stdio: ['ignore', 'inherit', 'inherit'] }),
  ];
  write(process.stdout, `${toJson({ proxy: `http://${values.host}:${values.port}`, sessiond: values['sessiond-listen'], backends })}\n`);

  let signalled = false;
  const stopAll = (signal: NodeJS.Signals): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    signalled = true;
    stopAll(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const exits = children.map((child) => new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1))));
  const first = await Promise.race(exits);
  if (!signalled) stopAll('SIGTERM');
  await Promise.all(exits);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return signalled ? EXIT.ok : first;
}
