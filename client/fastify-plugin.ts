// fastify integration, two ways:
//
// 1. `sticklessSession`, a fastify plugin with the middleware's semantics (request-session.ts):
//      app.register(sticklessSession, { client: sessions });
//      app.post('/cart', async (request) => { sessionOf(request).append('cart', sku); return 'ok'; });
//    Lazy load, field-level Patch writes sent in onSend (parallel requests changing different fields
//    both land), touch when only read, regenerate() and destroy().
// 2. `createFastifySessionStore`, a store for @fastify/session, for apps that keep that plugin and its
//    `request.session` object: whole-object writes, last save wins, as with any @fastify/session store.
//
// fastify is not imported: the plugin is typed by the few members it uses, so the client package
// has no dependency on fastify and works with any fastify 4 or 5.
import { EventEmitter } from 'node:events';
import { createExpressSessionStore, type SessionApi } from './express-store.ts';
import { createRequestSession, resolveSessionOptions, type SessionMiddlewareOptions } from './middleware.ts';
import { RequestSession } from './request-session.ts';
import { mergeSetCookie } from './session-cookie.ts';

/** The members of a fastify request the plugin uses. */
interface RequestLike { headers: Record<string, string | string[] | undefined> }
/** The members of a fastify reply the plugin uses. */
interface ReplyLike {
  getHeader(name: string): unknown;
  removeHeader(name: string): unknown;
  header(name: string, value: unknown): unknown;
  readonly sent: boolean;
}
/** The members of a fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  decorateRequest(name: string, value: unknown): unknown;
  // Method syntax (bivariant parameters), so fastify's overloaded addHook fits.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  addHook(name: string, hook: (...args: any[]) => unknown): unknown;
}

export interface SticklessSessionPluginOptions extends SessionMiddlewareOptions {
  /** Name of the request property that holds the RequestSession. Default `session`. */
  decorator?: string | undefined;
}

/** The plugin; register it on the root instance (or an encapsulated one) with its options. */
export async function sticklessSession(fastify: FastifyInstanceLike, options: SticklessSessionPluginOptions): Promise<void> {
  const resolved = resolveSessionOptions(options);
  const decorator = options.decorator ?? 'session';
  fastify.decorateRequest(decorator, null);
  fastify.addHook('onRequest', async (request: RequestLike & Record<string, unknown>, reply: ReplyLike) => {
    request[decorator] = createRequestSession(resolved, request.headers, (name, value) => {
      if (reply.sent) return;
      const merged = mergeSetCookie(reply.getHeader('set-cookie'), name, value);
      reply.removeHeader('set-cookie');
      reply.header('set-cookie', merged);
    });
  });
  // onSend runs before the headers go out, so a failed write becomes fastify's error reply.
  fastify.addHook('onSend', async (request: Record<string, unknown>, _reply: ReplyLike, payload: unknown) => {
    const session = request[decorator];
    if (session instanceof RequestSession) await session.save();
    return payload;
  });
}
// Apply the decoration and hooks to the instance it is registered on (what fastify-plugin does).
Object.assign(sticklessSession, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'stickless-session' });

/** The RequestSession of a request (the plugin's `request.session`), typed. */
export function sessionOf(request: object, decorator = 'session'): RequestSession {
  const session = (request as Record<string, unknown>)[decorator];
  if (!(session instanceof RequestSession)) throw new TypeError(`request.${decorator} is not set: register sticklessSession first`);
  return session;
}

export interface FastifySessionStoreOptions {
  /** Where sessions live: usually a SessionClient for the app's namespace. */
  client: SessionApi;
  /** Time to live, in ms, of a session whose cookie has no expiry. Default 86 400 000 (1 day). */
  defaultTtlMs?: number | undefined;
  /** Name of the field that holds the @fastify/session object. Default `express` (shared layout with the express store). */
  field?: string | undefined;
}

/** The store shape @fastify/session calls (callback style). */
export interface FastifySessionStore {
  // The stored object (ExpressSessionData) goes back to @fastify/session, which restores its Session from it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  get(sessionId: string, callback: (error: unknown, session?: any) => void): void;
  set(sessionId: string, session: object, callback: (error?: unknown) => void): void;
  destroy(sessionId: string, callback: (error?: unknown) => void): void;
}

/**
 * A store for @fastify/session (`app.register(fastifySession, { secret, store: createFastifySessionStore({ client }) })`).
 * Same records as createExpressSessionStore: the session id stored is the SHA-256 of the plugin's id.
 */
export function createFastifySessionStore(options: FastifySessionStoreOptions): FastifySessionStore {
  const { client, defaultTtlMs, field } = options;
  return createExpressSessionStore({ Store: EventEmitter as unknown as abstract new () => FastifySessionStore }, {
    client,
    ...(defaultTtlMs === undefined ? {} : { defaultTtlMs }),
    ...(field === undefined ? {} : { field }),
  });
}

export { RequestSession } from './request-session.ts';
