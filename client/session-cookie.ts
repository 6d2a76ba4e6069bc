// The session-id cookie of the middleware: read one cookie from a Cookie header, write Set-Cookie.
// The value is the session id itself (256 random bits, base64url): unguessable, so it needs no
// signature; a value that is not shaped like an id is ignored rather than sent to sessiond. Beside it,
// an optional signed version token (the highest version this browser saw) for read-your-writes.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Attributes of the session cookie. */
export interface SessionCookieOptions {
  /** Cookie name. Default `stickless.sid`. */
  name: string;
  /** Default `/`. */
  path: string;
  /** Default: none (host-only cookie). */
  domain?: string | undefined;
  /** Send only over HTTPS. Default false; set it true in production behind TLS. */
  secure: boolean;
  /** Default true: scripts cannot read the id. */
  httpOnly: boolean;
  /** Default `lax`. */
  sameSite: 'strict' | 'lax' | 'none';
  /**
   * Cookie lifetime in ms (`Max-Age`). Default: none, a browser-session cookie; the session's own
   * expiry in sessiond still applies either way.
   */
  maxAgeMs?: number | undefined;
}

export const DEFAULT_SESSION_COOKIE_OPTIONS: Readonly<SessionCookieOptions> = Object.freeze({
  name: 'stickless.sid',
  path: '/',
  secure: false,
  httpOnly: true,
  sameSite: 'lax',
});

// 32 bytes in base64url: 43 characters, the last one carrying 2 zero bits (what sessiond accepts).
const SESSION_ID = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** The session id in a Cookie header, or undefined when absent or not shaped like an id. */
export function readSessionCookie(header: string | string[] | undefined, name: string): string | undefined {
  const value = readCookie(header, name)?.replace(/^"(.*)"$/, '$1');
  return value !== undefined && SESSION_ID.test(value) ? value : undefined;
}

/** A Set-Cookie value carrying `value` (a session id or version token), or clearing the cookie when undefined. */
export function serializeSessionCookie(options: SessionCookieOptions, id: string | undefined): string {
  const parts = [`${options.name}=${id ?? ''}`, `Path=${options.path}`];
  if (options.domain) parts.push(`Domain=${options.domain}`);
  if (id === undefined) parts.push('Max-Age=0', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  else if (options.maxAgeMs !== undefined) parts.push(`Max-Age=${Math.floor(options.maxAgeMs / 1000)}`);
  if (options.httpOnly) parts.push('HttpOnly');
  if (options.secure) parts.push('Secure');
  parts.push(`SameSite=${options.sameSite[0]!.toUpperCase()}${options.sameSite.slice(1)}`);
  return parts.join('; ');
}

/** Replaces this cookie's earlier Set-Cookie value (first write, then regenerate) and keeps the others. */
export function mergeSetCookie(existing: unknown, name: string, value: string): string[] {
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
  return [...list.filter((cookie) => !cookie.startsWith(`${name}=`)), value];
}

/**
 * Version-token cookie value: `<version>.<HMAC-SHA256(secret, id + version)>`, the format of
 * version-token.ts, bound to one session id so it is worthless for any other session.
 */
export function signVersionToken(secret: string, id: string, version: number): string {
  return `${version}.${createHmac('sha256', secret).update(`${id}\n${version}`).digest('base64url').slice(0, 22)}`;
}

/** The version a token vouches for `id` under any of `secrets`; 0 when absent, malformed or not verifying. */
export function verifyVersionToken(token: string | undefined, id: string, secrets: readonly string[]): number {
  const match = token === undefined ? null : /^([1-9][0-9]{0,15})\.[A-Za-z0-9_-]{22}$/.exec(token);
  if (!match) return 0;
  const version = Number(match[1]);
  if (!Number.isSafeInteger(version)) return 0;
  const given = Buffer.from(token!);
  return secrets.some((secret) => {
    const expected = Buffer.from(signVersionToken(secret, id, version));
    return expected.length === given.length && timingSafeEqual(expected, given);
  }) ? version : 0;
}

/** The raw value of cookie `name`, or undefined. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text) return undefined;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
