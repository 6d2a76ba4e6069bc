// The express-session store with a near cache on each replica and signed version tokens: a user
// bouncing between two Express replicas always sees their own last write (read-your-writes) and
// never an older session; reads are answered from the cache on the replica that served them last;
// a tampered token is ignored (never an error page); a token above what the store holds (writes
// lost) is an error, never older data.
import type { Server } from 'node:http';
import { createHmac } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import express from 'express';
import session from 'express-session';
import { createExpressSessionStore, versionTokens, type SessionClient } from '../../client/index.ts';
import { startRedis, type RedisHandle } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';
import { connect, namespace } from './client-harness.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

declare module 'express-session' {
  interface SessionData {
    count: number;
  }
}

const SECRET = 'a test secret of some length';

async function replica(t: ExecutionContext, client: SessionClient, name: string): Promise<string> {
  const app = express();
  app.use(versionTokens(session({
    store: createExpressSessionStore(session, { client }),
    secret: SECRET,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 60_000 },
  }), { secret: SECRET }));
  app.post('/add', (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1;
    res.json({ replica: name, count: req.session.count });
  });
  app.get('/count', (req, res) => {
    res.json({ replica: name, count: req.session.count ?? 0 });
  });
  app.use((error: Error & { code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: error.code ?? error.message });
  });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** A browser with a cookie jar (every cookie the apps set). */
function browser() {
  const jar = new Map<string, string>();
  return {
    jar,
    async call(url: string, method = 'GET'): Promise<{ status: number; body: Record<string, unknown> }> {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const response = await fetch(url, { method, headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(10_000) });
      for (const set of response.headers.getSetCookie()) {
        const [pair] = set.split(';');
        const at = pair!.indexOf('=');
        const value = pair!.slice(at + 1);
        if (value === '' || /Expires=Thu, 01 Jan 1970/.test(set)) jar.delete(pair!.slice(0, at));
        else jar.set(pair!.slice(0, at), value);
      }
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
  };
}

function sidOf(jar: Map<string, string>): string {
  const value = decodeURIComponent(jar.get('connect.sid')!);
  return value.slice(2, value.lastIndexOf('.'));
}

async function twoReplicas(t: ExecutionContext) {
  const sessiond = await startSessiond(t, { redis });
  const ns = namespace();
  const clients = [0, 1].map(() => connect(t, { address: sessiond.address, namespace: ns, nearCache: { maxEntries: 1000, maxBytes: 1 << 20 }, deadlineMs: 20_000 }));
  const bases = [await replica(t, clients[0]!, 'a'), await replica(t, clients[1]!, 'b')];
  return { clients, bases };
}

test('a user bouncing between two replicas always reads their own last write, and reads hit the near cache', async (t) => {
  const { clients, bases } = await twoReplicas(t);
  const user = browser();
  let expected = 0;
  let seed = 7;
  const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let i = 0; i < 60; i++) {
    const base = bases[random() < 0.5 ? 0 : 1]!;
    if (random() < 0.5) {
      const { status, body } = await user.call(`${base}/add`, 'POST');
      t.is(status, 200);
      t.is(body.count, ++expected, `write ${i} built on the last one`);
    } else {
      const { status, body } = await user.call(`${base}/count`);
      t.is(status, 200);
      t.is(body.count, expected, `read ${i} saw the last write (replica ${String(body.replica)})`);
    }
  }
  t.truthy(user.jar.get('stickless.v'), 'the token cookie is set');
  // The replica that served the user last answers repeated reads from memory once its copy is tracked.
  await waitFor(async () => {
    const { body } = await user.call(`${bases[0]}/count`);
    t.is(body.count, expected);
    return clients[0]!.nearCacheStats().hits > 0;
  }, 20_000, 'a near-cache hit');
  const stats = clients.map((c) => c.nearCacheStats());
  t.log(`replica a: ${stats[0]!.hits} hits / ${stats[0]!.misses} misses; replica b: ${stats[1]!.hits} hits / ${stats[1]!.misses} misses`);
});

test('a tampered or foreign token is ignored, never an error page', async (t) => {
  const { bases } = await twoReplicas(t);
  const user = browser();
  await user.call(`${bases[0]}/add`, 'POST');
  await user.call(`${bases[1]}/add`, 'POST');
  const token = user.jar.get('stickless.v')!;
  const [version, mac] = decodeURIComponent(token).split('.');
  for (const forged of [`999.${mac}`, `${version}.${'A'.repeat(22)}`, 'garbage', `${Number(version) + 50}.${sign(SECRET, 'another-sid', Number(version) + 50)}`]) {
    user.jar.set('stickless.v', encodeURIComponent(forged));
    const { status, body } = await user.call(`${bases[0]}/count`);
    t.is(status, 200, `token ${forged} is ignored`);
    t.is(body.count, 2);
  }
});

test('a valid token above the version the store holds is an error, never the older session', async (t) => {
  const { bases } = await twoReplicas(t);
  const user = browser();
  await user.call(`${bases[0]}/add`, 'POST');
  // What a token looks like after writes that a Redis failover then lost.
  user.jar.set('stickless.v', encodeURIComponent(`40.${sign(SECRET, sidOf(user.jar), 40)}`));
  for (const base of bases) {
    const { status, body } = await user.call(`${base}/count`);
    t.is(status, 500);
    t.is(body.error, 'SESS_ERR_VERSION_BEHIND');
  }
});

function sign(secret: string, sid: string, version: number): string {
  return createHmac('sha256', secret).update(`${sid}\n${version}`).digest('base64url').slice(0, 22);
}
