// `npm start`: the whole stack on this machine (see demo/stack.ts), until Ctrl-C.
import { parseArgs } from 'node:util';
import { DEFAULT_STACK_OPTIONS, StackError, startLocalStack } from './stack.ts';

const USAGE = `Usage: npm start -- [--port 8080] [--admin-port 9901] [--sessiond-port 50051] [--memory] [--verbose]
  --port           public port of the proxy (PORT)         0 picks a free port
  --admin-port     proxy admin API port (ADMIN_PORT)
  --sessiond-port  sessiond gRPC port (SESSIOND_PORT)
  --memory         use sessiond's embedded memory store even when Redis is available
  --verbose        print the output of every process
`;

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    process.stderr.write(`stickless: ${name} must be a port number (0-65535), not "${value}"\n\n${USAGE}`);
    process.exit(2);
  }
  return parsed;
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' }, 'admin-port': { type: 'string' }, 'sessiond-port': { type: 'string' },
    memory: { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const log = (message: string): void => void process.stdout.write(`[stickless] ${message}\n`);
try {
  const stack = await startLocalStack({
    proxyPort: port(values.port ?? process.env.PORT, DEFAULT_STACK_OPTIONS.proxyPort, '--port'),
    adminPort: port(values['admin-port'] ?? process.env.ADMIN_PORT, DEFAULT_STACK_OPTIONS.adminPort, '--admin-port'),
    sessiondPort: port(values['sessiond-port'] ?? process.env.SESSIOND_PORT, DEFAULT_STACK_OPTIONS.sessiondPort, '--sessiond-port'),
    store: values.memory ? 'memory' : 'auto',
    log,
    onOutput: values.verbose ? (name, line) => void process.stdout.write(`[${name}] ${line}\n`) : undefined,
  });
  log('ready:');
  log(`  dashboard      ${stack.urls.dashboard}`);
  log(`  stickless shop ${stack.urls.shop}     (soft affinity, carts in sessiond)`);
  log(`  sticky shop    ${stack.urls.sticky}   (hard affinity, carts in replica memory)`);
  log(`  proxy admin    ${stack.urls.admin}  (Authorization: Bearer ${stack.adminToken})`);
  log(`  sessiond       ${stack.urls.sessiond}`);
  log('Ctrl-C stops everything.');
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log('stopping...');
    stack.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  if (error instanceof StackError) {
    process.stderr.write(`stickless: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
