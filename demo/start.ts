// `npm start`: the whole stack on this machine (see demo/stack.ts), until Ctrl-C. A mistake in the
// flags, the port variables or a port in use is one line naming the flag or variable, exit 2; any
// other failure to start is a message without a stack trace, exit 1.
import { StackError, startLocalStack, type LocalStack } from './stack.ts';
import { USAGE, UsageError, parseStartOptions } from './start-options.ts';

const log = (message: string): void => void process.stdout.write(`[stickless] ${message}\n`);

// Ctrl-C or SIGTERM: a graceful stop once running; while starting (or a second time) exit at once,
// which kills every child started so far (demo/managed-process.ts).
let stack: LocalStack | undefined;
let stopping = false;
const stop = (): void => {
  if (stopping || !stack) process.exit(1);
  stopping = true;
  log('stopping...');
  stack.stop().then(() => process.exit(0), () => process.exit(1));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

try {
  const options = parseStartOptions(process.argv.slice(2), process.env);
  if (options.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  stack = await startLocalStack({
    proxyPort: options.proxyPort,
    adminPort: options.adminPort,
    sessiondPort: options.sessiondPort,
    portNames: options.portNames,
    store: options.store,
    log,
    onOutput: options.verbose ? (name, line) => void process.stdout.write(`[${name}] ${line}\n`) : undefined,
  });
  log('ready:');
  log(`  dashboard      ${stack.urls.dashboard}`);
  log(`  stickless shop ${stack.urls.shop}     (soft affinity, carts in sessiond)`);
  log(`  sticky shop    ${stack.urls.sticky}   (hard affinity, carts in replica memory)`);
  log(`  token shop     ${stack.urls.token}    (no affinity, carts in an encrypted cookie)`);
  log(`  proxy admin    ${stack.urls.admin}  (Authorization: Bearer ${stack.adminToken})`);
  log(`  sessiond       ${stack.urls.sessiond}`);
  log('Ctrl-C stops everything.');
} catch (error) {
  if (error instanceof UsageError || error instanceof StackError) {
    process.stderr.write(`stickless: ${error.message}\n`);
    process.exit(2);
  }
  // Not the user's input: the message (with a child's last output lines) says more than a stack.
  process.stderr.write(`stickless: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
