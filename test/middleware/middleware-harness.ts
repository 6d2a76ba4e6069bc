// Shared set-up of the middleware tests: a real sessiond, a SessionClient, a counter of the calls the
// middleware made through it (the real client underneath, only counted), and small HTTP helpers.
import type { ExecutionContext } from 'ava';
import type { SessionClient } from '../../client/index.ts';
import type { SessionMiddlewareApi } from '../../client/middleware.ts';
import { setup } from '../client/client-harness.ts';
import type { StartSessiondOptions } from '../helpers/servers.ts';

export type CallLog = string[];

/** The client with every middleware call recorded by method name. */
export function counted(client: SessionClient, log: CallLog): SessionMiddlewareApi {
  const record = <K extends keyof SessionMiddlewareApi>(method: K) => ((...args: unknown[]) => {
    log.push(method);
    return (client[method] as (...a: unknown[]) => unknown)(...args);
  }) as SessionMiddlewareApi[K];
  return { get: record('get'), create: record('create'), patch: record('patch'), touch: record('touch'), regenerate: record('regenerate'), delete: record('delete') };
}

export async function sessionBackend(t: ExecutionContext, options: StartSessiondOptions = { store: 'memory' }) {
  // Generous deadlines: a busy machine is slow, and these tests are not about time.
  const { client, ns } = await setup(t, options, { deadlineMs: 30_000 });
  const calls: CallLog = [];
  return { client, ns, calls, api: counted(client, calls) };
}

/** The session id a response set (`stickless.sid=<id>`), '' for a clearing cookie, undefined for none. */
export function setCookieId(response: Response, name = 'stickless.sid'): string | undefined {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  return cookie === undefined ? undefined : cookie.slice(name.length + 1).split(';')[0];
}

export function cookieHeader(id: string, name = 'stickless.sid'): Record<string, string> {
  return { cookie: `${name}=${id}` };
}

/** Resolves when `n` callers have arrived; lets two requests overlap on purpose. */
export function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return async () => {
    arrived += 1;
    if (arrived >= n) open();
    await opened;
  };
}
