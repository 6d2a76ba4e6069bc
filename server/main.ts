// sessiond process entry: flags > environment > config file > defaults, validated once; then serve.
// The first SIGTERM/SIGINT drains (close), a second one stops at once (destroy).
import { parseArgs } from 'node:util';
import { SessionError } from '../proto/errors.ts';
import { parseServerConfig, readServerConfigFile, readServerEnv, redactServerConfig, SERVER_ENV_VARS, type ServerConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { createSessionServer } from './session-server.ts';

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const USAGE = `Usage: node server/main.ts [--config file.yaml] [--<option> value ...]

Options (each also an environment variable; see docs/configuration.md):
${Object.entries(SERVER_ENV_VARS).map(([option, env]) => `  --${kebab(option).padEnd(24)} ${env}`).join('\n')}
`;

function readFlags(argv: string[]): { file: string | undefined; raw: Record<string, unknown> } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' }, help: { type: 'boolean' } };
  for (const option of Object.keys(SERVER_ENV_VARS)) options[kebab(option)] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const raw: Record<string, unknown> = {};
  for (const option of Object.keys(SERVER_ENV_VARS) as Array<keyof ServerConfig>) {
    const value = values[kebab(option)];
    if (typeof value !== 'string') continue;
    if (option === 'redisSentinels') raw[option] = value.split(',').map((s) => s.trim()).filter(Boolean);
    else if (option === 'namespaceTokens') raw[option] = JSON.parse(value);
    else raw[option] = value;
  }
  return { file: typeof values.config === 'string' ? values.config : process.env.STICKLESS_CONFIG, raw };
}

async function main(): Promise<void> {
  let config: Readonly<ServerConfig>;
  try {
    const flags = readFlags(process.argv.slice(2));
    const file = flags.file ? readServerConfigFile(flags.file) : {};
    config = parseServerConfig(file, readServerEnv(process.env), flags.raw);
  } catch (error) {
    const message = error instanceof SessionError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`sessiond: ${message}\n\n${USAGE}`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  logger.info(
    { store: config.store, config: redactServerConfig(config) },
    config.store === 'memory'
      ? 'store: memory (embedded; sessions live in this process only and do not survive a restart)'
      : config.redisSentinels.length > 0
        ? `store: redis via sentinel (${config.redisSentinelName})`
        : 'store: redis',
  );
  const server = await createSessionServer(config, { logger });
  logger.info({ address: server.address }, 'sessiond listening');
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
}

await main();
