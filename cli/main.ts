#!/usr/bin/env node
// The `stickless` command: `session ...` talks to sessiond through the client; `sessiond`, `proxy`
// and `up` start the services. Exit codes are in cli/exit-codes.ts and docs/cli.md.
import { EXIT, UsageError, write } from './exit-codes.ts';

const HELP = `Usage: stickless <command> [options]

Commands:
  session get|ls|rm|watch|revoke   read and manage sessions in sessiond (stickless session --help)
  sessiond [flags]                 run sessiond (flags: stickless sessiond --help)
  proxy --config <file>            run the affinity proxy (stickless proxy --help)
  proxy routes|backends|set-affinity|drain   operate a running proxy (stickless proxy routes --help)
  up [options]                     run a local stack: sessiond + a proxy in front of your app (stickless up --help)

Options:
  --help        print this and exit 0
  --version     print the package version and exit 0

Exit codes: 0 ok, 1 not found, 2 usage error, 3 sessiond refused or failed (code on stderr as JSON),
4 an optional dependency is missing. Services keep their own codes (docs/cli.md).
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      write(process.stdout, HELP);
      return command === undefined ? EXIT.usage : EXIT.ok;
    case '--version': {
      const { readFileSync } = await import('node:fs');
      const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      write(process.stdout, `${manifest.version}\n`);
      return EXIT.ok;
    }
    case 'session':
      return (await import('./session-command.ts')).runSessionCommand(rest);
    case 'sessiond':
    case 'proxy':
      if (command === 'proxy' && ['routes', 'backends', 'set-affinity', 'drain'].includes(rest[0] ?? '')) return (await import('./proxy-admin.ts')).runProxyAdmin(rest);
      return (await import('./service-commands.ts')).runService(command, rest);
    case 'up':
      return (await import('./up-command.ts')).runUp(rest);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; see stickless --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== EXIT.running) process.exitCode = code; },
  (error: unknown) => {
    if (error instanceof UsageError) {
      write(process.stderr, `stickless: ${error.message}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    write(process.stderr, `stickless: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.failed;
  },
);
