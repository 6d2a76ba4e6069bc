// sessiond process entry: flags > environment > config file > defaults, validated once; then serve.
// A bad option, file or port ends the process with one line per problem naming the option as the
// user wrote it, and exit status 2. The first SIGTERM/SIGINT drains (close), a second one stops at
// once (destroy); SIGHUP reloads the TLS certificate, key and CA files.
import * as grpc from '@grpc/grpc-js';
import { SessionError } from '../proto/errors.ts';
import { redactServerConfig, ServerConfigError } from './config.ts';
import { loadServerConfig, serverHelpText, type LoadedServerConfig } from './config-sources.ts';
import { createLogger } from './logger.ts';
import { createSessionServer, type SessionServer } from './session-server.ts';

function fail(status: number, lines: string[]): never {
  process.stderr.write(lines.map((line) => `sessiond: ${line}\n`).join(''));
  process.exit(status);
}

function failOnStartError(error: unknown, nameOf: (option: string) => string): never {
  if (error instanceof ServerConfigError) fail(2, error.problems.map((p) => `${nameOf(p.option)}: ${p.message}`));
  const message = error instanceof SessionError || error instanceof Error ? error.message.split('\n')[0] : String(error);
  fail(1, [`cannot start: ${message}`]);
}

async function main(): Promise<void> {
  let loaded: LoadedServerConfig | undefined;
  try {
    loaded = loadServerConfig(process.argv.slice(2), process.env);
  } catch (error) {
    failOnStartError(error, (option) => option);
  }
  if (!loaded) {
    process.stdout.write(serverHelpText());
    process.exit(0);
  }
  const { config, nameOf } = loaded;
  const logger = createLogger(config.logLevel);
  // grpc-js writes its own errors to stderr (a failed bind adds a line); they belong in the log.
  const grpcLog = (...args: unknown[]): void => logger.warn({ component: 'grpc-js' }, args.join(' '));
  grpc.setLogger({ error: grpcLog, info: grpcLog, debug: grpcLog });
  logger.info(
    { store: config.store, config: redactServerConfig(config) },
    config.store === 'memory'
      ? 'store: memory (embedded; sessions live in this process only and do not survive a restart)'
      : config.redisSentinels.length > 0
        ? `store: redis via sentinel (${config.redisSentinelName})`
        : 'store: redis',
  );
  let server: SessionServer;
  try {
    server = await createSessionServer(config, { logger });
  } catch (error) {
    failOnStartError(error, nameOf);
  }
  logger.info({ address: server.address, tls: server.tls }, 'sessiond listening');
  let signals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    signals += 1;
    logger.info({ signal }, signals === 1 ? 'stopping gracefully (send again to stop at once)' : 'stopping at once');
    const done = signals === 1 ? server.close() : server.destroy();
    done.then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'error while stopping');
      process.exit(1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    if (server.tls === 'off') {
      logger.info({ signal: 'SIGHUP' }, 'SIGHUP: TLS is off, nothing to reload');
      return;
    }
    try {
      server.reloadTls();
      logger.info({ signal: 'SIGHUP' }, 'TLS certificate, key and CA reloaded: new connections use them');
    } catch (error) {
      const problem = error instanceof ServerConfigError ? error.problems.map((p) => `${nameOf(p.option)}: ${p.message}`).join('; ') : String(error);
      logger.error({ signal: 'SIGHUP', problem }, 'TLS reload failed: still serving the previous certificate');
    }
  });
}

await main();
