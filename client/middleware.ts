// Framework-free session middleware for `(req, res, next)` handlers (connect, Express, Hono's Node
// server, plain node:http). It puts a RequestSession on `req.session` and sends its queued writes
// just before the response ends; see request-session.ts for what is read and written when.
//
//   const sessions = new SessionClient({ address: '127.0.0.1:50051', namespace: 'shop' });
//   app.use(sessionMiddleware({ client: sessions }));
//   app.post('/cart', async (req, res) => { req.session.append('cart', req.body.sku); res.end('ok'); });
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionError } from '../proto/errors.ts';
import { RequestSession, type SessionMiddlewareApi } from './request-session.ts';
import {
  DEFAULT_SESSION_COOKIE_OPTIONS, mergeSetCookie, readCookie, readSessionCookie, serializeSessionCookie, signVersionToken, verifyVersionToken,
  type SessionCookieOptions,
} from './session-cookie.ts';
import { traceCallOptions } from './trace-context.ts';

export interface SessionMiddlewareOptions {
  /** Where sessions live: usually a SessionClient of the app's namespace (its near cache included). */
  client: SessionMiddlewareApi;
  /** Session cookie attributes; fields not given keep DEFAULT_SESSION_COOKIE_OPTIONS. */
  cookie?: Partial<SessionCookieOptions> | undefined;
  /** Time to live of created and written sessions, in ms. Default: sessiond's default TTL. */
  ttlMs?: number | undefined;
  /** Extend the expiry of a session a request read but did not write (one Touch). Default true. */
  touchOnRead?: boolean | undefined;
  /** Deadline of each session call, in ms. Default: the client's. */
  deadlineMs?: number | undefined;
  /**
   * Version tokens: a signed cookie (`stickless.v` by default, same attributes as the session cookie)
   * with the highest version this browser saw or wrote, so its next read on any replica, near cache
   * included, is at least that new (read-your-writes, monotonic reads). `secret`: the HMAC key(s); the
   * first signs, all verify. Sensitive. Default: off.
   */
  versionTokens?: { secret: string | readonly string[]; cookieName?: string | undefined } | undefined;
}

/** The middleware's options after defaults, as the fastify plugin uses them too. */
export interface ResolvedSessionOptions {
  client: SessionMiddlewareApi;
  cookie: Readonly<SessionCookieOptions>;
  ttlMs: number | undefined;
  touchOnRead: boolean;
  deadlineMs: number | undefined;
  versionTokens: { secrets: readonly string[]; cookie: Readonly<SessionCookieOptions> } | undefined;
}

/** Checks the options once; throws `SESS_ERR_INVALID_ARGUMENT` naming every bad one. */
export function resolveSessionOptions(options: SessionMiddlewareOptions): Readonly<ResolvedSessionOptions> {
  const problems: string[] = [];
  const client = options.client as Partial<SessionMiddlewareApi> | undefined;
  if (!client || typeof client.get !== 'function' || typeof client.patch !== 'function') problems.push('client: expected a SessionClient');
  const cookie = { ...DEFAULT_SESSION_COOKIE_OPTIONS, ...withoutUndefined(options.cookie ?? {}) };
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie.name)) problems.push(`cookie.name: expected a cookie token, got ${JSON.stringify(cookie.name)}`);
  if (!['strict', 'lax', 'none'].includes(cookie.sameSite)) problems.push(`cookie.sameSite: expected 'strict' | 'lax' | 'none', got ${JSON.stringify(cookie.sameSite)}`);
  if (cookie.sameSite === 'none' && !cookie.secure) problems.push('cookie.sameSite: \'none\' needs cookie.secure: true (browsers drop it otherwise)');
  if (cookie.maxAgeMs !== undefined && !(Number.isInteger(cookie.maxAgeMs) && cookie.maxAgeMs > 0)) problems.push(`cookie.maxAgeMs: expected a positive integer (ms), got ${String(cookie.maxAgeMs)}`);
  const { ttlMs, deadlineMs } = options;
  if (ttlMs !== undefined && !(Number.isInteger(ttlMs) && ttlMs > 0)) problems.push(`ttlMs: expected a positive integer (ms), got ${String(ttlMs)}`);
  if (deadlineMs !== undefined && !(Number.isInteger(deadlineMs) && deadlineMs > 0)) problems.push(`deadlineMs: expected a positive integer (ms), got ${String(deadlineMs)}`);
  let versionTokens: ResolvedSessionOptions['versionTokens'];
  if (options.versionTokens !== undefined) {
    const { secret, cookieName = 'stickless.v' } = options.versionTokens;
    const secrets = typeof secret === 'string' ? [secret] : [...(secret ?? [])];
    if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length < 16)) problems.push('versionTokens.secret: expected a string of at least 16 characters, or an array of them');
    if (cookieName === cookie.name) problems.push(`versionTokens.cookieName: must differ from cookie.name (${JSON.stringify(cookie.name)})`);
    versionTokens = { secrets: Object.freeze(secrets), cookie: Object.freeze({ ...cookie, name: cookieName }) };
  }
  if (problems.length > 0) throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `invalid session middleware options: ${problems.join('; ')}`);
  return Object.freeze({ client: options.client, cookie: Object.freeze(cookie), ttlMs, touchOnRead: options.touchOnRead ?? true, deadlineMs, versionTokens });
}

type Next = (error?: unknown) => void;
type RequestWithSession = IncomingMessage & { session?: RequestSession };

/**
 * The middleware. A session write that fails before the headers went out answers 500 with
 * `{"error":{"code":"SESS_ERR_..."}}` instead of the handler's response (the handler's change did
 * not happen); after the headers went out, the connection is cut so the client does not take a
 * half-applied answer for a complete one.
 */
export function sessionMiddleware(options: SessionMiddlewareOptions): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const resolved = resolveSessionOptions(options);
  return (req: RequestWithSession, res, next) => {
    const session = createRequestSession(resolved, req.headers, (name, value) => {
      if (!res.headersSent) res.setHeader('set-cookie', mergeSetCookie(res.getHeader('set-cookie'), name, value));
    });
    req.session = session;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    let ending = false;
    res.end = ((...args: unknown[]) => {
      if (ending) return res;
      ending = true;
      session.save().then(
        () => end(...args),
        (error: unknown) => {
          if (res.headersSent) {
            res.destroy(error as Error);
            return;
          }
          const code = error instanceof SessionError ? error.code : 'SESS_ERR_INTERNAL';
          res.statusCode = 500;
          res.setHeader('content-type', 'application/json');
          res.removeHeader('content-length');
          end(JSON.stringify({ error: { code, message: 'the session could not be saved' } }));
        },
      );
      return res;
    }) as typeof res.end;
    next();
  };
}

/**
 * The RequestSession of one request: the ids and token from its Cookie header, its trace context,
 * and `setCookie(name, serialized)` to put (or replace) one Set-Cookie on the response.
 */
export function createRequestSession(
  resolved: ResolvedSessionOptions,
  headers: Record<string, string | string[] | undefined>,
  setCookie: (name: string, serialized: string) => void,
): RequestSession {
  const id = readSessionCookie(headers['cookie'], resolved.cookie.name);
  const tokens = resolved.versionTokens;
  const received = tokens ? readCookie(headers['cookie'], tokens.cookie.name) : undefined;
  return new RequestSession({
    client: resolved.client,
    id,
    setCookie: (value) => setCookie(resolved.cookie.name, serializeSessionCookie(resolved.cookie, value)),
    ttlMs: resolved.ttlMs,
    touchOnRead: resolved.touchOnRead,
    callOptions: { deadlineMs: resolved.deadlineMs, ...traceCallOptions(headers) },
    versionToken: tokens && {
      minVersion: id === undefined ? 0 : verifyVersionToken(received, id, tokens.secrets),
      set: (sessionId, version) => {
        if (sessionId === undefined && received === undefined) return;
        const value = sessionId === undefined ? undefined : signVersionToken(tokens.secrets[0]!, sessionId, version);
        if (value !== received) setCookie(tokens.cookie.name, serializeSessionCookie(tokens.cookie, value));
      },
    },
  });
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export { RequestSession, type SessionMiddlewareApi } from './request-session.ts';
