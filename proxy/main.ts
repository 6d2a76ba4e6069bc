// Process entry: `node proxy/main.ts --config proxy.yaml`.
// Invalid configuration → every problem on stderr, exit 1. SIGHUP → reload the file (a bad file is
// logged and ignored). First SIGTERM/SIGINT → close(), second → destroy().
// `workers: N` (N > 1, or auto on a multi-core machine): this process becomes the primary
// (worker-supervisor.ts) and forks N workers (worker-main.ts); signals work the same.
import { parseArgs } from 'node:util';
import { loadProxyConfigFile } from './config.ts';
import { ProxyError } from './errors.ts';
import { createLogger } from './logger.ts';
import { createProxy } from './index.ts';
import { availableParallelism } from 'node:os';

const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } } });
const configPath = values.config ?? process.env['STICKLESS_PROXY_CONFIG'];
if (configPath === undefined) {
  process.stderr.write('usage: node proxy/main.ts --config proxy.yaml (or STICKLESS_PROXY_CONFIG)\n');
  process.exit(2);
}

let config;
try {
  config = loadProxyConfigFile(configPath);
} catch (error) {
  const lines = error instanceof ProxyError ? [`${error.code}: ${configPath} is invalid:`, ...error.issues.map((i) => `  ${i}`)] : [String(error)];
  process.stderr.write(`${lines.join('\n')}\n`);
  process.exit(1);
}

const logger = createLogger(config.log.level);
const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
// Loaded only when used: a one-process proxy starts as fast as before.
const proxy = workers > 1 ? new (await import('./worker-supervisor.ts')).WorkerSupervisor({ config, workers, logger }) : createProxy({ config, logger });
try {
  await proxy.listen();
} catch (error) {
  logger.fatal({ err: error }, 'could not start');
  await proxy.destroy();
  process.exit(1);
}

process.on('SIGHUP', () => {
  try {
    void proxy.reload(loadProxyConfigFile(configPath));
  } catch (error) {
    logger.error({ issues: error instanceof ProxyError ? error.issues : undefined, err: error }, 'reload failed; keeping the running configuration');
  }
});

let stopping = false;
const stop = (signal: string) => {
  if (stopping) {
    logger.warn({ signal }, 'second signal: destroying');
    void proxy.destroy().then(() => process.exit(1));
    return;
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  void proxy.close().then(() => process.exit(0));
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
