// The framework-free middleware (client/middleware.ts) on a plain node:http server and on Express,
// against a real sessiond: lazy load, Patch writes, touch on read, regenerate, destroy.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import express from 'express';
import { sessionMiddleware, type RequestSession, type SessionMiddlewareOptions } from '../../client/middleware.ts';
import { signVersionToken } from '../../client/session-cookie.ts';
import { barrier, cookieHeader, sessionBackend, setCookieId } from './middleware-harness.ts';

type Handler = (req: IncomingMessage & { session: RequestSession }, res: ServerResponse) => Promise<void> | void;

/** A node:http server running the middleware connect-style, then `handler`; closed in teardown. */
async function serve(t: ExecutionContext, options: SessionMiddlewareOptions, handler: Handler): Promise<string> {
  const middleware = sessionMiddleware(options);
  const server = createServer((req, res) => {
    middleware(req, res, () => {
      Promise.resolve(handler(req as IncomingMessage & { session: RequestSession }, res)).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: { code: (error as { code?: string }).code, message: String(error) } }));
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a request that does not use its session makes no sessiond call and sets no cookie', async (t) => {
  const { api, calls } = await sessionBackend(t);
  const url = await serve(t, { client: api }, (_req, res) => void res.end('hi'));
  const response = await fetch(`${url}/`, { headers: cookieHeader('a'.repeat(43)) });
  t.is(await response.text(), 'hi');
  t.is(setCookieId(response), undefined);
  t.deepEqual(calls, []);
});

test('the first write creates the session in one call and sets its cookie; the next request reads it', async (t) => {
  const { api, calls, client } = await sessionBackend(t);
  const url = await serve(t, { client: api }, async (req, res) => {
    if (req.method === 'POST') req.session.set('user', 'ada').increment('visits');
    res.end(JSON.stringify(await req.session.all()));
  });
  const first = await fetch(`${url}/`, { method: 'POST' });
  const id = setCookieId(first);
  t.regex(id ?? '', /^[A-Za-z0-9_-]{43}$/);
  t.deepEqual(await first.json(), { user: 'ada', visits: 1 });
  t.deepEqual(calls, ['create']);
  t.deepEqual((await client.get(id!))?.fields, { user: 'ada', visits: 1 });

  const second = await fetch(`${url}/`, { headers: cookieHeader(id!) });
  t.deepEqual(await second.json(), { user: 'ada', visits: 1 });
  t.is(setCookieId(second), undefined);
});

test('two parallel requests of one session changing different fields both land', async (t) => {
  const { api, client } = await sessionBackend(t, { store: 'redis' });
  const created = await client.create({ a: 0, b: 0 });
  const bothLoaded = barrier(2);
  const url = await serve(t, { client: api }, async (req, res) => {
    const field = new URL(req.url ?? '/', 'http://x').searchParams.get('field')!;
    await req.session.all(); // both read version 1 before either writes
    await bothLoaded();
    req.session.set(field, `set by ${field}`);
    res.end('ok');
  });
  const [ra, rb] = await Promise.all([
    fetch(`${url}/?field=a`, { method: 'POST', headers: cookieHeader(created.id) }),
    fetch(`${url}/?field=b`, { method: 'POST', headers: cookieHeader(created.id) }),
  ]);
  t.is(ra.status, 200);
  t.is(rb.status, 200);
  const stored = await client.get(created.id);
  t.deepEqual(stored?.fields, { a: 'set by a', b: 'set by b' });
  t.is(stored?.version, 3);
});

test('a request that only reads touches the session: expiry extended, version unchanged', async (t) => {
  const { api, calls, client } = await sessionBackend(t);
  const created = await client.create({ cart: ['sku-1'] }, { ttlMs: 60_000 });
  const url = await serve(t, { client: api, ttlMs: 3_600_000 }, async (req, res) => void res.end(JSON.stringify(await req.session.get('cart'))));
  const response = await fetch(`${url}/`, { headers: cookieHeader(created.id) });
  t.deepEqual(await response.json(), ['sku-1']);
  t.deepEqual(calls, ['get', 'touch']);
  const after = await client.get(created.id);
  t.is(after?.version, created.version);
  t.true(after!.expiresAtMs > created.expiresAtMs + 600_000, 'expiry moved to about an hour from now');
});

test('a cookie naming no live session is never adopted: the first write gets a new id', async (t) => {
  const { api, client } = await sessionBackend(t);
  const planted = randomBytes(32).toString('base64url'); // well-formed, never created
  const url = await serve(t, { client: api }, async (req, res) => {
    req.session.set('user', 'ada');
    res.end('ok');
  });
  const response = await fetch(`${url}/`, { method: 'POST', headers: cookieHeader(planted) });
  const id = setCookieId(response)!;
  t.truthy(id);
  t.not(id, planted);
  t.is(await client.get(planted), undefined);
  t.deepEqual((await client.get(id!))?.fields, { user: 'ada' });
});

test('regenerate moves the session to a new id (old id gone); destroy deletes it and clears the cookie', async (t) => {
  const { api, client } = await sessionBackend(t);
  const created = await client.create({ cart: ['sku-1'] });
  const url = await serve(t, { client: api }, async (req, res) => {
    if (req.url === '/login') {
      req.session.set('user', 'ada');
      await req.session.regenerate({ owner: 'ada' });
    } else if (req.url === '/logout') {
      await req.session.destroy();
    }
    res.end(req.session.id ?? '');
  });
  const login = await fetch(`${url}/login`, { method: 'POST', headers: cookieHeader(created.id) });
  const moved = setCookieId(login)!;
  t.truthy(moved);
  t.not(moved, created.id);
  t.is(await login.text(), moved);
  t.is(await client.get(created.id), undefined);
  const after = await client.get(moved!);
  t.deepEqual(after?.fields, { cart: ['sku-1'], user: 'ada' });
  t.is(after?.owner, 'ada');

  const logout = await fetch(`${url}/logout`, { method: 'POST', headers: cookieHeader(moved!) });
  t.is(setCookieId(logout), '');
  t.regex(logout.headers.getSetCookie()[0] ?? '', /Max-Age=0/);
  t.is(await client.get(moved!), undefined);
});

test('a write that sessiond refuses answers 500 with its code instead of the handler\'s response', async (t) => {
  const { api, client } = await sessionBackend(t);
  const created = await client.create({ n: 'text' });
  const url = await serve(t, { client: api }, (req, res) => {
    req.session.increment('n');
    res.end('counted');
  });
  const response = await fetch(`${url}/`, { method: 'POST', headers: cookieHeader(created.id) });
  t.is(response.status, 500);
  t.is(((await response.json()) as { error: { code: string } }).error.code, 'SESS_ERR_WRONG_TYPE');
  t.is((await client.get(created.id))?.fields['n'], 'text');
});

test('works as Express middleware (app.use)', async (t) => {
  const { api } = await sessionBackend(t);
  const app = express();
  app.use(sessionMiddleware({ client: api }));
  app.post('/cart', async (req, res) => {
    const session = (req as unknown as { session: RequestSession }).session;
    session.append('cart', 'sku-1');
    res.json(await session.get('cart'));
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const first = await fetch(`${url}/cart`, { method: 'POST' });
  const id = setCookieId(first)!;
  t.deepEqual(await first.json(), ['sku-1']);
  const second = await fetch(`${url}/cart`, { method: 'POST', headers: cookieHeader(id) });
  t.deepEqual(await second.json(), ['sku-1', 'sku-1']);
});

test('bad options are one error naming each', (t) => {
  const error = t.throws(() => sessionMiddleware({ client: {} as never, ttlMs: -1, cookie: { sameSite: 'none' } }));
  t.is((error as { code?: string }).code, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error!.message, /client: expected a SessionClient.*cookie.sameSite.*ttlMs: expected a positive integer/);
});

test('version tokens: a write sets a signed token of its version; a read below the token is refused, a forged token ignored', async (t) => {
  const { api, client } = await sessionBackend(t);
  const secret = 'a version-token secret of some length';
  const url = await serve(t, { client: api, versionTokens: { secret } }, async (req, res) => {
    if (req.method === 'POST') req.session.increment('visits');
    res.end(JSON.stringify((await req.session.get('visits')) ?? null));
  });
  const first = await fetch(`${url}/`, { method: 'POST' });
  const id = setCookieId(first)!;
  t.is(setCookieId(first, 'stickless.v'), signVersionToken(secret, id, 1));
  const second = await fetch(`${url}/`, { method: 'POST', headers: { cookie: `stickless.sid=${id}; stickless.v=${signVersionToken(secret, id, 1)}` } });
  t.is(setCookieId(second, 'stickless.v'), signVersionToken(secret, id, 2));
  t.is((await client.get(id))?.version, 2);

  // A token from the future (as after a failover that lost acknowledged writes): never served older.
  const ahead = await fetch(`${url}/`, { headers: { cookie: `stickless.sid=${id}; stickless.v=${signVersionToken(secret, id, 9)}` } });
  t.is(ahead.status, 500);
  t.is(((await ahead.json()) as { error: { code: string } }).error.code, 'SESS_ERR_VERSION_BEHIND');
  const forged = await fetch(`${url}/`, { headers: { cookie: `stickless.sid=${id}; stickless.v=${signVersionToken('another secret entirely', id, 9)}` } });
  t.is(forged.status, 200);
  t.is(await forged.json(), 2);
});
