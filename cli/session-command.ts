// `stickless session get|ls|rm|watch|revoke`: one SessionClient call each, the answer as JSON on
// stdout, a SessionError as `{"error":{"code","message"}}` on stderr (exit 3).
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { status } from '@grpc/grpc-js';
import { SessionError } from '../proto/errors.ts';
import { SessionClient } from '../client/session-client.ts';
import { EXIT, toJson, UsageError, write } from './exit-codes.ts';

const HELP = `Usage: stickless session <subcommand> [options]

Subcommands:
  get <id>                  the session as JSON (id, version, fields, times, owner); exit 1 if missing
  ls --owner <owner>        the owner's live sessions as a JSON array (metadata and handles, no ids)
  rm <id>                   delete it; prints {"deleted":true}; exit 1 if there was nothing to delete
  watch <id>                one JSON line per change until DELETED or EXPIRED (Ctrl-C ends it, exit 0);
                            a stream sessiond ends or loses is reopened (a new SNAPSHOT) for up to 30 s
  revoke --owner <owner>    delete every session of the owner (or only --handle ones); prints {"revoked":n}

Options (every subcommand):
  --address <host:port>     sessiond address; env STICKLESS_ADDRESS; default 127.0.0.1:50051
  --namespace <name>        namespace; env STICKLESS_NAMESPACE; required
  --token <token>           namespace token; env STICKLESS_TOKEN (prefer the variable: flags show in ps)
  --deadline-ms <ms>        deadline of the call; default 5000
  --handle <handle>         (revoke) only this handle; repeat for several
  --help                    print this and exit 0

Exit codes: 0 ok, 1 not found, 2 usage error, 3 sessiond refused or failed.
`;

const OPTIONS = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  token: { type: 'string' },
  'deadline-ms': { type: 'string' },
  owner: { type: 'string' },
  handle: { type: 'string', multiple: true },
  help: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function takesValue(arg: string | undefined): boolean {
  const name = arg?.startsWith('--') ? arg.slice(2) : undefined;
  return name !== undefined && name in OPTIONS && OPTIONS[name as keyof typeof OPTIONS].type === 'string';
}

/** A session id (43 base64url characters) may start with '-', which parseArgs would take for an option. */
const DASHED_SESSION_ID = /^-[A-Za-z0-9_-]{42}$/;

function parse(argv: string[]) {
  // Move such ids behind '--' (where parseArgs reads positionals only), unless they are an option's value.
  const ids = argv.filter((arg, i) => DASHED_SESSION_ID.test(arg) && !takesValue(argv[i - 1]));
  const args = ids.length === 0 || argv.includes('--') ? argv : [...argv.filter((arg) => !ids.includes(arg)), '--', ...ids];
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function clientFrom(values: Values): SessionClient {
  const namespace = values.namespace ?? process.env['STICKLESS_NAMESPACE'];
  if (!namespace) throw new UsageError('--namespace (or STICKLESS_NAMESPACE) is required');
  const deadline = values['deadline-ms'] ?? '5000';
  if (!/^[1-9]\d*$/.test(deadline)) throw new UsageError(`--deadline-ms: expected a positive integer (ms), got ${JSON.stringify(deadline)}`);
  const address = values.address ?? process.env['STICKLESS_ADDRESS'] ?? '127.0.0.1:50051';
  const token = values.token ?? process.env['STICKLESS_TOKEN'];
  return new SessionClient({ address, namespace, token: token || undefined, deadlineMs: Number(deadline) });
}

function one(positionals: string[], sub: string, what: string): string {
  const [value, extra] = positionals;
  if (value === undefined || extra !== undefined) throw new UsageError(`session ${sub}: expected exactly one ${what}`);
  return value;
}

function owner(values: Values, sub: string): string {
  if (!values.owner) throw new UsageError(`session ${sub}: --owner <owner> is required`);
  return values.owner;
}

export async function runSessionCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    write(process.stdout, HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  const { values, positionals } = parse(rest);
  if (values.help) {
    write(process.stdout, HELP);
    return EXIT.ok;
  }
  if (!['get', 'ls', 'rm', 'watch', 'revoke'].includes(sub)) throw new UsageError(`unknown session subcommand ${JSON.stringify(sub)}; see stickless session --help`);
  // Check the arguments before dialing anything.
  const target = sub === 'ls' || sub === 'revoke' ? owner(values, sub) : one(positionals, sub, 'session id');
  if ((sub === 'ls' || sub === 'revoke') && positionals.length > 0) throw new UsageError(`session ${sub}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const client = clientFrom(values);
  try {
    return await run(client, sub, target, values);
  } catch (error) {
    if (!(error instanceof SessionError)) throw error;
    write(process.stderr, `${toJson({ error: { code: error.code, message: error.message } })}\n`);
    return EXIT.failed;
  } finally {
    await client.destroy();
  }
}

async function run(client: SessionClient, sub: string, target: string, values: Values): Promise<number> {
  switch (sub) {
    case 'get': {
      const snapshot = await client.get(target);
      if (!snapshot) return notFound();
      const { rawFields: _raw, fieldErrors, ...shown } = snapshot;
      const errors = Object.fromEntries(Object.entries(fieldErrors).map(([name, e]) => [name, { code: e.code, message: e.message }]));
      write(process.stdout, `${toJson({ ...shown, fieldErrors: errors })}\n`);
      return EXIT.ok;
    }
    case 'ls':
      write(process.stdout, `${toJson(await client.listByOwner(target))}\n`);
      return EXIT.ok;
    case 'rm': {
      const deleted = await client.delete(target);
      write(process.stdout, `${toJson({ deleted })}\n`);
      return deleted ? EXIT.ok : EXIT.notFound;
    }
    case 'revoke': {
      const revoked = await client.revokeByOwner(target, { handles: values.handle ?? [] });
      write(process.stdout, `${toJson({ revoked })}\n`);
      return EXIT.ok;
    }
    default:
      return watch(client, target);
  }
}

/** How long `watch` keeps reopening a stream that ended without DELETED or EXPIRED before it gives up (exit 3). */
const WATCH_REOPEN_FOR_MS = 30_000;
const WATCH_REOPEN_DELAY_MS = 500;
/** Failures after which the session may still be there: sessiond unreachable, Redis away (and see cancelledBySessiond). */
const REOPENABLE = new Set(['SESS_ERR_SERVICE_UNAVAILABLE', 'SESS_ERR_STORE_UNAVAILABLE']);

/** gRPC CANCELLED that this process did not ask for: a sessiond shutting down cancels its open streams. */
function cancelledBySessiond(error: SessionError): boolean {
  return (error.cause as { code?: unknown } | undefined)?.code === status.CANCELLED;
}

async function watch(client: SessionClient, id: string): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let first = true;
  let failingSince: number | undefined;
  try {
    for (;;) {
      let failure: SessionError | undefined;
      try {
        for await (const event of client.watch(id, { signal: stop.signal })) {
          write(process.stdout, `${toJson(event)}\n`);
          failingSince = undefined;
          if (first && event.kind === 'DELETED') return EXIT.notFound;
          first = false;
          if (event.kind === 'DELETED' || event.kind === 'EXPIRED') return EXIT.ok;
        }
      } catch (error) {
        if (stop.signal.aborted) return EXIT.ok;
        if (!(error instanceof SessionError) || !(REOPENABLE.has(error.code) || cancelledBySessiond(error))) throw error;
        failure = error;
      }
      if (stop.signal.aborted) return EXIT.ok;
      // The stream ended before the session did (sessiond stopped, a restart, a lost connection):
      // open it again; its SNAPSHOT shows the current version, so a jump tells of missed changes.
      failingSince ??= Date.now();
      if (Date.now() - failingSince > WATCH_REOPEN_FOR_MS) {
        throw new SessionError(failure?.code ?? 'SESS_ERR_SERVICE_UNAVAILABLE', `watch: the stream could not be reopened for ${WATCH_REOPEN_FOR_MS / 1000} s${failure ? `: ${failure.message}` : ''}`);
      }
      write(process.stderr, `${toJson({ reopening: { reason: failure ? failure.code : 'the stream ended before the session', inMs: WATCH_REOPEN_DELAY_MS } })}\n`);
      await sleep(WATCH_REOPEN_DELAY_MS, undefined, { signal: stop.signal }).catch(() => {}); // Ctrl-C: ends at the loop's check
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function notFound(): number {
  write(process.stderr, `${toJson({ error: { code: 'SESS_ERR_NOT_FOUND', message: 'no such session (or it has expired)' } })}\n`);
  return EXIT.notFound;
}
