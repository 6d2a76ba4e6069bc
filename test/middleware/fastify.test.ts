// fastify, for real: the sticklessSession plugin (lazy load, Patch writes, touch, regenerate,
// destroy) and createFastifySessionStore under @fastify/session, against a real sessiond.
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import test, { type ExecutionContext } from 'ava';
import Fastify, { type FastifyInstance } from 'fastify';
import { createFastifySessionStore, expressSessionId } from '../../client/index.ts';
import { sessionOf, sticklessSession } from '../../client/fastify-plugin.ts';
import { barrier, cookieHeader, sessionBackend, setCookieId } from './middleware-harness.ts';

async function listen(t: ExecutionContext, app: FastifyInstance): Promise<string> {
  t.teardown(() => app.close());
  return app.listen({ port: 0, host: '127.0.0.1' });
}

test('plugin: an unused session costs no call; the first write creates it and sets the cookie', async (t) => {
  const { api, calls, client } = await sessionBackend(t);
  const app = Fastify();
  await app.register(sticklessSession, { client: api });
  app.get('/', async () => 'hi');
  app.post('/cart', async (request) => {
    sessionOf(request).append('cart', 'sku-1');
    return sessionOf(request).get('cart');
  });
  const url = await listen(t, app);
  t.is(await (await fetch(`${url}/`)).text(), 'hi');
  t.deepEqual(calls, []);
  const response = await fetch(`${url}/cart`, { method: 'POST' });
  t.deepEqual(await response.json(), ['sku-1']);
  const id = setCookieId(response)!;
  t.deepEqual(calls, ['create']);
  t.deepEqual((await client.get(id))?.fields, { cart: ['sku-1'] });
});

test('plugin: two parallel requests changing different fields both land', async (t) => {
  const { api, client } = await sessionBackend(t, { store: 'redis' });
  const created = await client.create({});
  const bothLoaded = barrier(2);
  const app = Fastify();
  await app.register(sticklessSession, { client: api });
  app.post<{ Querystring: { field: string } }>('/', async (request) => {
    const session = sessionOf(request);
    await session.all();
    await bothLoaded();
    session.set(request.query.field, true);
    return 'ok';
  });
  const url = await listen(t, app);
  const answers = await Promise.all(['a', 'b'].map((field) => fetch(`${url}/?field=${field}`, { method: 'POST', headers: cookieHeader(created.id) })));
  t.deepEqual(answers.map((r) => r.status), [200, 200]);
  t.deepEqual((await client.get(created.id))?.fields, { a: true, b: true });
});

test('plugin: read-only request touches; regenerate moves the id; destroy deletes and clears the cookie', async (t) => {
  const { api, calls, client } = await sessionBackend(t);
  const created = await client.create({ user: 'ada' }, { ttlMs: 60_000 });
  const app = Fastify();
  await app.register(sticklessSession, { client: api, ttlMs: 3_600_000 });
  app.get('/', async (request) => sessionOf(request).get('user'));
  app.post('/login', async (request) => {
    await sessionOf(request).regenerate({ owner: 'ada' });
    return sessionOf(request).id;
  });
  app.post('/logout', async (request) => {
    await sessionOf(request).destroy();
    return 'bye';
  });
  const url = await listen(t, app);
  t.is(await (await fetch(`${url}/`, { headers: cookieHeader(created.id) })).text(), 'ada');
  t.deepEqual(calls, ['get', 'touch']);
  t.true((await client.get(created.id))!.expiresAtMs > created.expiresAtMs + 600_000);

  const login = await fetch(`${url}/login`, { method: 'POST', headers: cookieHeader(created.id) });
  const moved = setCookieId(login)!;
  t.is(await login.text(), moved);
  t.not(moved, created.id);
  t.is(await client.get(created.id), undefined);
  t.is((await client.get(moved))?.owner, 'ada');

  const logout = await fetch(`${url}/logout`, { method: 'POST', headers: cookieHeader(moved) });
  t.is(setCookieId(logout), '');
  t.is(await client.get(moved), undefined);
});

test('plugin: a refused write becomes fastify\'s error reply with the SESS_ERR code', async (t) => {
  const { api, client } = await sessionBackend(t);
  const created = await client.create({ n: 'text' });
  const app = Fastify();
  await app.register(sticklessSession, { client: api });
  app.post('/', async (request) => {
    sessionOf(request).increment('n');
    return 'counted';
  });
  const url = await listen(t, app);
  const response = await fetch(`${url}/`, { method: 'POST', headers: cookieHeader(created.id) });
  t.is(response.status, 500);
  t.is(((await response.json()) as { code: string }).code, 'SESS_ERR_WRONG_TYPE');
});

test('@fastify/session with createFastifySessionStore keeps a session across requests and destroys it', async (t) => {
  const { client } = await sessionBackend(t);
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: 'a secret with at least 32 characters in it',
    cookie: { secure: false, maxAge: 600_000 },
    saveUninitialized: false,
    store: createFastifySessionStore({ client }),
  });
  app.post('/visit', async (request) => {
    const visits = ((request.session.get('visits' as never) as number | undefined) ?? 0) + 1;
    request.session.set('visits' as never, visits as never);
    return { visits, sessionId: request.session.sessionId };
  });
  app.post('/logout', async (request) => {
    await request.session.destroy();
    return 'bye';
  });
  const url = await listen(t, app);
  const first = await fetch(`${url}/visit`, { method: 'POST' });
  const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
  const { sessionId } = (await first.json()) as { sessionId: string };
  const second = await fetch(`${url}/visit`, { method: 'POST', headers: { cookie } });
  t.is(((await second.json()) as { visits: number }).visits, 2);
  const stored = await client.get(expressSessionId(sessionId));
  t.is((stored?.fields['express'] as { visits?: number } | undefined)?.visits, 2);
  t.true(stored!.expiresAtMs - Date.now() > 500_000, 'TTL follows the cookie maxAge');
  await fetch(`${url}/logout`, { method: 'POST', headers: { cookie } });
  t.is(await client.get(expressSessionId(sessionId)), undefined);
});
