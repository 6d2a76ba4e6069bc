// `stickless sessiond` and `stickless proxy`: the services' own entry points (server/main.ts,
// proxy/main.ts) run in this process with the remaining arguments, so flags, help, signals and exit
// codes are exactly theirs. Their dependencies are optional peers of the package: when one is missing
// this says which to install (exit 4) instead of a module-resolution stack.
import { fileURLToPath } from 'node:url';
import { EXIT, write } from './exit-codes.ts';

export const SERVICE_DEPENDENCIES = {
  sessiond: ['@grpc/reflection', 'grpc-health-check', 'ioredis', 'pino', 'prom-client', 'yaml', 'zod'],
  proxy: ['pino', 'prom-client', 'undici', 'yaml', 'zod'],
} as const;

const PROXY_HELP = `Usage: stickless proxy --config <file.yaml>   (or STICKLESS_PROXY_CONFIG)

Runs the affinity proxy. Every option lives in the file: see docs/proxy.md and proxy/proxy.example.yaml.
SIGHUP reloads the file; SIGTERM drains, a second SIGTERM stops at once.
Exit codes: 0 stopped, 1 invalid configuration or start failure, 2 no --config.
`;

/** Names of the service's dependencies that cannot be resolved from here. */
export function missingDependencies(service: keyof typeof SERVICE_DEPENDENCIES): string[] {
  return SERVICE_DEPENDENCIES[service].filter((name) => {
    try {
      import.meta.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

export async function runService(service: 'sessiond' | 'proxy', argv: string[]): Promise<number> {
  if (service === 'proxy' && (argv.includes('--help') || argv.includes('-h'))) {
    write(process.stdout, PROXY_HELP);
    return EXIT.ok;
  }
  const missing = missingDependencies(service);
  if (missing.length > 0) {
    write(process.stderr, `stickless ${service}: needs ${missing.join(', ')} (optional peer dependencies of stickless); run: npm install ${missing.join(' ')}\n`);
    return EXIT.missingDependency;
  }
  // The entry points read process.argv themselves; argv[1] is the entry's real path, so anything that
  // re-runs the script (cluster workers fork process.argv[1]) starts the same service.
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const entry = fileURLToPath(new URL(service === 'sessiond' ? `../server/main.${ext}` : `../proxy/main.${ext}`, import.meta.url));
  process.argv = [process.argv[0] ?? process.execPath, entry, ...argv];
  if (service === 'sessiond') await import('../server/main.ts');
  else await import('../proxy/main.ts');
  return EXIT.running;
}
