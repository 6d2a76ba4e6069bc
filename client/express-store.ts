// An express-session Store backed by sessiond, so an existing Express app switches from in-memory
// (sticky) sessions to shared ones in one line:
//
//   import session from 'express-session';
//   app.use(session({ store: createExpressSessionStore(session, { client }), secret, resave: false, saveUninitialized: false }));
//
// express-session keeps its own session ids (any genid works): the stickless id is the SHA-256 of
// it, so every sid maps to a valid 256-bit id and a Redis dump still shows neither. The whole
// express-session object is one field, written with Put (Create the first time), so concurrent
// requests of one user behave as with any express-session store: the last save wins. For atomic
// counters and carts, call the SessionClient's `patch()` directly.
//
// Give it a SessionClient with `nearCache` on, and wrap express-session with `versionTokens`
// (client/version-token.ts): reads are then answered from memory on the replica that served the
// user last, and a user's next request on any replica sees at least what they last saw or wrote.
// A read whose session the store holds older than the user's token (a Redis failover lost writes)
// fails with SESS_ERR_VERSION_BEHIND, passed to express-session as an error, never as older data.
import { createHash } from 'node:crypto';
import { SessionError } from '../proto/errors.ts';
import type { SessionClient } from './session-client.ts';
import { minVersionFor, noteVersion } from './version-token.ts';

/** The calls the store makes. A SessionClient satisfies it; so does anything of the same shape. */
export type SessionApi = Pick<SessionClient, 'get' | 'put' | 'create' | 'delete' | 'touch'>;

export interface ExpressSessionStoreOptions {
  /** Where sessions live: usually a SessionClient for the app's namespace. */
  client: SessionApi;
  /**
   * Time to live, in ms, of a session whose cookie has no expiry (a browser-session cookie).
   * Sessions with `cookie.maxAge` live exactly that long. Default 86 400 000 (1 day).
   */
  defaultTtlMs?: number;
  /** Name of the field that holds the express-session object. Default `express`. */
  field?: string;
}

export const DEFAULT_EXPRESS_STORE_OPTIONS = Object.freeze({ defaultTtlMs: 86_400_000, field: 'express' });

type Callback<T = unknown> = (error?: unknown, value?: T) => void;

/** What express-session hands a store: its session object (a cookie plus the app's data). */
export interface ExpressSessionData {
  cookie?: { expires?: Date | string | null | undefined; maxAge?: number | null | undefined } | undefined;
  [key: string]: unknown;
}

/** The stickless session id under which express-session's `sid` is stored. */
export function expressSessionId(sid: string): string {
  return createHash('sha256').update(sid).digest('base64url');
}

/**
 * Builds the store. `session` is the express-session module (or anything with its `Store` class):
 * stores must inherit from it, and taking it as an argument keeps express-session out of the
 * client's dependencies.
 */
export function createExpressSessionStore<S extends object>(session: { Store: abstract new () => S }, options: ExpressSessionStoreOptions): S {
  const client = options.client;
  const field = options.field ?? DEFAULT_EXPRESS_STORE_OPTIONS.field;
  const defaultTtlMs = options.defaultTtlMs ?? DEFAULT_EXPRESS_STORE_OPTIONS.defaultTtlMs;
  if (!Number.isInteger(defaultTtlMs) || defaultTtlMs <= 0) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `defaultTtlMs: expected a positive integer, got ${String(defaultTtlMs)}`);
  }

  const ttlOf = (data: ExpressSessionData): number => {
    const expires = data.cookie?.expires;
    if (expires) return Math.max(1, new Date(expires).getTime() - Date.now());
    const maxAge = data.cookie?.maxAge;
    return typeof maxAge === 'number' && maxAge > 0 ? maxAge : defaultTtlMs;
  };
  const settle = <T>(work: Promise<T>, callback: Callback<T> | undefined): void => {
    work.then((value) => callback?.(null, value), (error: unknown) => callback?.(error));
  };
  const isCode = (error: unknown, code: string): boolean => error instanceof SessionError && error.code === code;

  async function save(sid: string, data: ExpressSessionData): Promise<void> {
    const id = expressSessionId(sid);
    // JSON first: express-session's Cookie and Date values become what its JSON-based stores keep.
    const fields = { [field]: JSON.parse(JSON.stringify(data)) as unknown };
    const ttlMs = ttlOf(data);
    let written: { version: number };
    try {
      written = await client.put(id, fields, { ttlMs });
    } catch (error) {
      if (!isCode(error, 'SESS_ERR_NOT_FOUND')) throw error;
      try {
        written = await client.create(fields, { id, ttlMs });
      } catch (createError) {
        // Another request created it first: write over it, as a second save would.
        if (!isCode(createError, 'SESS_ERR_ALREADY_EXISTS')) throw createError;
        written = await client.put(id, fields, { ttlMs });
      }
    }
    noteVersion(sid, written.version);
  }

  async function load(sid: string): Promise<ExpressSessionData | null> {
    const snapshot = await client.get(expressSessionId(sid), { fields: [field], minVersion: minVersionFor(sid) });
    if (snapshot) noteVersion(sid, snapshot.version);
    return (snapshot?.fields[field] as ExpressSessionData | undefined) ?? null;
  }

  const Base = session.Store as unknown as new () => object;
  class SticklessExpressStore extends Base {
    get(sid: string, callback: Callback<ExpressSessionData | null>): void {
      settle(load(sid), callback);
    }

    set(sid: string, data: ExpressSessionData, callback?: Callback<void>): void {
      settle(save(sid, data), callback);
    }

    touch(sid: string, data: ExpressSessionData, callback?: Callback<void>): void {
      settle(client.touch(expressSessionId(sid), { ttlMs: ttlOf(data) }).then(() => undefined), callback);
    }

    destroy(sid: string, callback?: Callback<void>): void {
      settle(client.delete(expressSessionId(sid)).then(() => undefined), callback);
    }
  }
  return new SticklessExpressStore() as S;
}
