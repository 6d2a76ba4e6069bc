// The express-session store against a real sessiond: two Express "replicas" share sessions with no
// stickiness, regenerate and destroy end the old id, and the cookie's max age becomes the TTL.
import type { Server } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import express from 'express';
import session from 'express-session';
import { createExpressSessionStore, expressSessionId, SessionError, type SessionClient } from '../../client/index.ts';
import { startRedis, type RedisHandle } from '../helpers/redis.ts';
import { setup } from './client-harness.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

declare module 'express-session' {
  interface SessionData {
    views: number;
    user: string;
  }
}

const MAX_AGE_MS = 60_000;

/** One app replica: express-session with the stickless store. */
async function replica(t: ExecutionContext, client: SessionClient, name: string): Promise<string> {
  const app = express();
  app.use(session({
    store: createExpressSessionStore(session, { client }),
    secret: 'a test secret of some length',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: MAX_AGE_MS },
  }));
  app.get('/views', (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ replica: name, views: req.session.views, user: req.session.user ?? null });
  });
  app.post('/login', (req, res, next) => {
    const views = req.session.views;
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = 'ada';
      req.session.views = views ?? 0;
      res.json({ replica: name, user: 'ada' });
    });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.json({ replica: name })));
  });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** A browser with one cookie jar. */
function browser() {
  let cookie = '';
  return {
    get cookie() {
      return cookie;
    },
    async call(url: string, method = 'GET'): Promise<Record<string, unknown>> {
      const response = await fetch(url, { method, headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(30_000) });
      const set = response.headers.getSetCookie()[0];
      if (set) cookie = set.split(';')[0]!;
      if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
      return (await response.json()) as Record<string, unknown>;
    },
  };
}

function sidOf(cookie: string): string {
  // connect.sid=s%3A<sid>.<signature>
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}

test('two app replicas share one session with no stickiness', async (t) => {
  const { client } = await setup(t, { redis });
  const a = await replica(t, client, 'a');
  const b = await replica(t, client, 'b');
  const user = browser();
  const seen = [];
  for (const base of [a, b, a, b, b, a]) seen.push(await user.call(`${base}/views`));
  t.deepEqual(seen.map((r) => r.views), [1, 2, 3, 4, 5, 6]);
  t.deepEqual(seen.map((r) => r.replica), ['a', 'b', 'a', 'b', 'b', 'a']);
});

test('the session lives in sessiond under the hash of the sid, with the cookie max age as TTL', async (t) => {
  const { client } = await setup(t, { redis });
  const base = await replica(t, client, 'a');
  const user = browser();
  const before = Date.now();
  await user.call(`${base}/views`);
  const stored = await client.get(expressSessionId(sidOf(user.cookie)));
  t.truthy(stored);
  t.like(stored!.fields.express as object, { views: 1 });
  t.true(stored!.expiresAtMs >= before + MAX_AGE_MS - 2000 && stored!.expiresAtMs <= Date.now() + MAX_AGE_MS + 2000, 'TTL from cookie.maxAge');
});

test('regenerate moves the data to a new sid and destroy ends the session, on any replica', async (t) => {
  const { client } = await setup(t, { redis });
  const a = await replica(t, client, 'a');
  const b = await replica(t, client, 'b');
  const user = browser();
  await user.call(`${a}/views`);
  await user.call(`${b}/views`);
  const oldSid = sidOf(user.cookie);
  await user.call(`${a}/login`, 'POST');
  const newSid = sidOf(user.cookie);
  t.not(newSid, oldSid);
  t.is(await client.get(expressSessionId(oldSid)), undefined, 'the old sid is gone');
  t.like(await user.call(`${b}/views`), { views: 3, user: 'ada' });
  await user.call(`${b}/logout`, 'POST');
  t.is(await client.get(expressSessionId(newSid)), undefined, 'destroyed');
  t.like(await user.call(`${a}/views`), { views: 1, user: null });
});

test('store errors reach express-session as errors, not as empty sessions', async (t) => {
  const failing = {
    get: () => Promise.reject(new SessionError('SESS_ERR_STORE_UNAVAILABLE', 'down')),
  } as unknown as SessionClient;
  const store = createExpressSessionStore(session, { client: failing }) as unknown as {
    get(sid: string, cb: (error?: unknown, value?: unknown) => void): void;
  };
  const error = await new Promise((resolve) => store.get('some-sid', (e) => resolve(e)));
  t.true(error instanceof SessionError && error.code === 'SESS_ERR_STORE_UNAVAILABLE');
});
