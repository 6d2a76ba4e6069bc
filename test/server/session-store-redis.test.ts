// The SessionStore contract against RedisSessionStore, plus what only Redis has: key layout, a TTL on
// every key the store writes, no session id in any key or value, and script reload after a flush.
import test from 'ava';
import { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import { generateSessionId, sessionHandle } from '../../server/session-id.ts';
import { RedisSessionStore } from '../../server/session-store-redis.ts';
import type { StoreLimits } from '../../server/session-store.ts';
import { DEFAULT_TEST_LIMITS, runSessionStoreContract } from '../contract/session-store.ts';
import { deleteByPrefix, keysByPrefix, startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

async function makeRedisStore(limits: Partial<StoreLimits> = {}) {
  const keyPrefix = uniquePrefix();
  const store = new RedisSessionStore({
    connection: { url: redis.url, sentinels: [], sentinelName: 'mymaster', commandTimeoutMs: 2000, connectTimeoutMs: 2000 },
    keyPrefix,
    limits: { ...DEFAULT_TEST_LIMITS, ...limits },
  });
  if (!(await store.waitUntilReady(5000))) throw new Error('Redis store did not become ready');
  return {
    store,
    keyPrefix,
    cleanup: async () => {
      await store.close();
      await deleteByPrefix(redis.url, keyPrefix);
    },
  };
}

runSessionStoreContract(test, makeRedisStore);

function inspector(t: import('ava').ExecutionContext): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => client.disconnect());
  return client;
}

test('every key the store writes has a TTL and none carries the session id', async (t) => {
  const { store, keyPrefix, cleanup } = await makeRedisStore();
  t.teardown(cleanup);
  const ns = 'shop';
  const id = generateSessionId();
  await store.create({ namespace: ns, id, fields: new Map([['cart', pack([])]]), ttlMs: 60_000, owner: 'alice', idempotencyKey: 'create-1' });
  await store.patch(ns, id, [{ kind: 'append', field: 'cart', value: pack('sku-1') }], { idempotencyKey: 'add-1' });
  const newId = generateSessionId();
  await store.regenerate(ns, id, newId, { owner: 'alice-2', idempotencyKey: 'login' });
  const other = generateSessionId();
  await store.create({ namespace: ns, id: other, fields: new Map(), ttlMs: 60_000, owner: 'bob' });
  await store.delete(ns, other);

  const client = inspector(t);
  const keys = await keysByPrefix(client, keyPrefix);
  // session, its create/patch/regenerate idempotency records, two tombstones, one owner index.
  t.true(keys.length >= 6, keys.join('\n'));
  for (const key of keys) {
    const ttl = await client.pttl(key);
    t.true(ttl > 0, `${key} has PTTL ${ttl}`);
    t.false(key.includes(id) || key.includes(newId) || key.includes(other), `${key} names a session id`);
  }
  const hash = await client.hgetallBuffer(`${keyPrefix}s:{${sessionHandle(ns, newId)}}`);
  for (const [name, value] of Object.entries(hash)) {
    t.false(name.includes(newId) || value.toString('latin1').includes(newId), `hash field ${name} holds the id`);
  }
});

test('the session hash expires at expiresAtMs, and touch moves the Redis TTL', async (t) => {
  const { store, keyPrefix, cleanup } = await makeRedisStore();
  t.teardown(cleanup);
  const id = generateSessionId();
  const { record } = await store.create({ namespace: 'ns', id, fields: new Map(), ttlMs: 30_000, owner: '' });
  const client = inspector(t);
  const key = `${keyPrefix}s:{${sessionHandle('ns', id)}}`;
  const expireAt = Number(await client.call('PEXPIRETIME', key));
  t.is(expireAt, record.expiresAtMs);
  const touched = await store.touch('ns', id, 90_000);
  t.is(Number(await client.call("PEXPIRETIME", key)), touched?.expiresAtMs ?? -1);
  const pttl = await client.pttl(key);
  t.true(pttl > 60_000 && pttl <= 90_000, `PTTL ${pttl}`);
});

test('scripts are reloaded by themselves after SCRIPT FLUSH', async (t) => {
  const { store, cleanup } = await makeRedisStore();
  t.teardown(cleanup);
  const id = generateSessionId();
  await store.create({ namespace: 'ns', id, fields: new Map(), ttlMs: 30_000, owner: '' });
  await inspector(t).script('FLUSH');
  const { record } = await store.patch('ns', id, [{ kind: 'incrementInt', field: 'n', by: 2 }]);
  t.is(record.version, 2);
});
