// Version tokens for express-session: the highest session version a browser has seen or written,
// carried in a signed cookie beside the session cookie, so the user's next request on any app
// replica reads at least that version (read-your-writes and monotonic reads per user; the near cache
// answers only when its copy is that new). Wrap the express-session middleware:
//
//   app.use(versionTokens(session({ store: createExpressSessionStore(session, { client }), secret }), { secret }));
//
// The wrapper opens an AsyncLocalStorage context per request, in which the store reads the token
// (`minVersionFor`) and records the versions it reads and writes (`noteVersion`). Before the response
// is sent it saves a modified session itself (express-session would save after the headers are out,
// too late to set a cookie) and sets the token of the version that save produced. The token is
// `<version>.<HMAC-SHA256(secret, sid + version)>`: bound to the session id, so it is worthless for
// any other session, and a token that does not verify (tampered, another session's, an old secret) is
// ignored as if absent: never an error page. A response streamed with res.write() before end() keeps
// the previous token (its headers left before the save).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionError } from '../proto/errors.ts';
import { signVersionToken, verifyVersionToken } from './session-cookie.ts';

export interface VersionTokenOptions {
  /**
   * Key(s) of the token's HMAC: usually the app's express-session secret. With several, the first
   * signs and every one verifies (rotation). Sensitive.
   */
  secret: string | readonly string[];
  /** Cookie name. Default `stickless.v`. */
  cookieName?: string;
  /** Cookie attributes. Default `{ path: '/', httpOnly: true, sameSite: 'lax', secure: false }`. */
  cookie?: { path?: string; domain?: string; httpOnly?: boolean; secure?: boolean; sameSite?: 'lax' | 'strict' | 'none' };
}

export const DEFAULT_VERSION_TOKEN_OPTIONS = Object.freeze({
  cookieName: 'stickless.v',
  cookie: Object.freeze({ path: '/', httpOnly: true, secure: false, sameSite: 'lax' as const }),
});

interface TokenContext {
  /** The token cookie as received, not yet verified (it is verified against a sid). */
  received: string | undefined;
  readonly secrets: readonly string[];
  /** sid -> the highest version read or written in this request. */
  seen: Map<string, number>;
}

const context = new AsyncLocalStorage<TokenContext>();

/** The version the current request's token vouches for `sid`; 0 without a valid token (or outside a request). */
export function minVersionFor(sid: string): number {
  const ctx = context.getStore();
  return ctx ? verifyVersionToken(ctx.received, sid, ctx.secrets) : 0;
}

/** Records that `sid` was read or written at `version` during the current request (outside one: nothing). */
export function noteVersion(sid: string, version: number): void {
  const seen = context.getStore()?.seen;
  if (seen) seen.set(sid, Math.max(seen.get(sid) ?? 0, version));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- express' NextFunction takes `any`
type Next = (error?: any) => void;
interface SessionRequest extends IncomingMessage {
  sessionID?: string;
  session?: { save(callback: (error?: unknown) => void): void; cookie?: { expires?: Date | null | false } } & Record<string, unknown>;
}

/** Wraps express-session's middleware with version tokens; see the top of this file. */
export function versionTokens<Req extends IncomingMessage, Res extends ServerResponse>(
  sessionMiddleware: (req: Req, res: Res, next: Next) => void,
  options: VersionTokenOptions,
): (req: Req, res: Res, next: Next) => void {
  const secrets = typeof options.secret === 'string' ? [options.secret] : [...(options.secret ?? [])];
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', 'versionTokens: secret: expected a non-empty string or array of them');
  }
  const name = options.cookieName ?? DEFAULT_VERSION_TOKEN_OPTIONS.cookieName;
  const attributes = { ...DEFAULT_VERSION_TOKEN_OPTIONS.cookie, ...options.cookie };

  return (request, response, next) => {
    const req = request as Req & SessionRequest;
    const res = response as ServerResponse;
    const raw = readCookie(req.headers.cookie, name);
    const ctx: TokenContext = { received: raw, secrets, seen: new Map() };
    context.run(ctx, () => sessionMiddleware(req, response, (error) => {
      if (error) return next(error);
      const loadedId = req.sessionID;
      const loaded = snapshot(req.session);
      const end = res.end;
      res.end = function (this: ServerResponse, ...args: unknown[]) {
        res.end = end;
        const finish = (): ServerResponse => end.apply(res, args as Parameters<typeof end>);
        const session = req.session;
        const sid = req.sessionID;
        if (res.headersSent) return finish();
        if (!session || !sid) {
          if (raw !== undefined) res.appendHeader('set-cookie', serialize(name, '', { ...attributes, expires: new Date(0) }));
          return finish();
        }
        const setToken = (): void => {
          const version = Math.max(ctx.seen.get(sid) ?? 0, minVersionFor(sid));
          const value = version > 0 ? signVersionToken(secrets[0]!, sid, version) : undefined;
          if (value !== undefined && value !== raw) {
            const expires = session.cookie?.expires instanceof Date ? session.cookie.expires : undefined;
            res.appendHeader('set-cookie', serialize(name, value, { ...attributes, expires }));
          }
        };
        if (sid === loadedId && snapshot(session) === loaded) {
          setToken();
          return finish();
        }
        // Saved here, before the headers leave; express-session then sees it saved and does not again.
        context.run(ctx, () => session.save((saveError) => {
          if (saveError) {
            res.statusCode = 500;
            res.end = end;
            return next(saveError);
          }
          setToken();
          finish();
        }));
        return res;
      } as ServerResponse['end'];
      next();
    }));
  };
}

/** The session's data as express-session compares it: everything but the cookie. */
function snapshot(session: SessionRequest['session']): string | undefined {
  if (!session) return undefined;
  return JSON.stringify(session, (key, value: unknown) => (key === 'cookie' ? undefined : value));
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) {
      try {
        return decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function serialize(name: string, value: string, a: VersionTokenOptions['cookie'] & { expires?: Date | undefined }): string {
  let cookie = `${name}=${encodeURIComponent(value)}; Path=${a.path ?? '/'}`;
  if (a.domain) cookie += `; Domain=${a.domain}`;
  if (a.expires) cookie += `; Expires=${a.expires.toUTCString()}`;
  if (a.httpOnly) cookie += '; HttpOnly';
  if (a.secure) cookie += '; Secure';
  if (a.sameSite) cookie += `; SameSite=${a.sameSite[0]!.toUpperCase()}${a.sameSite.slice(1)}`;
  return cookie;
}
