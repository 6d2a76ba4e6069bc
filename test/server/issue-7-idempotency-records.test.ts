// Issue 7: what idempotency records cost and hold in Redis. A record holds the version and times a
// replay needs, never the fields (under 1 KiB per keyed mutation, whatever the session's size), never
// a raw session id, and goes with its session.
import { createHash } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import { generateSessionId, sessionHandle } from '../../server/session-id.ts';
import { RedisSessionStore } from '../../server/session-store-redis.ts';
import type { FieldOp, StoreLimits } from '../../server/session-store.ts';
import { DEFAULT_TEST_LIMITS } from '../contract/session-store.ts';
import { deleteByPrefix, keysByPrefix, startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

async function setup(t: ExecutionContext, limits: Partial<StoreLimits> = {}, keyPrefix = uniquePrefix()) {
  const store = new RedisSessionStore({
    connection: { url: redis.url, sentinels: [], sentinelName: 'mymaster', commandTimeoutMs: 5000, connectTimeoutMs: 5000 },
    keyPrefix,
    limits: { ...DEFAULT_TEST_LIMITS, ...limits },
  });
  t.teardown(async () => {
    await store.close();
    await deleteByPrefix(redis.url, keyPrefix);
  });
  if (!(await store.waitUntilReady(20_000))) throw new Error('Redis store did not become ready');
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => client.disconnect());
  return { store, keyPrefix, client };
}

/** Bytes Redis reports for every key under the prefix except the session hashes themselves. */
async function recordBytes(client: Redis, keyPrefix: string, sessionKeys: readonly string[]): Promise<number> {
  let total = 0;
  for (const key of await keysByPrefix(client, keyPrefix)) {
    if (sessionKeys.includes(key)) continue;
    total += Number(await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  }
  return total;
}

/** Every value Redis holds under the prefix, whatever the key's type, as latin1 text. */
async function dump(client: Redis, keyPrefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const key of await keysByPrefix(client, keyPrefix)) {
    const type = await client.type(key);
    const values: Buffer[] =
      type === 'string' ? [(await client.getBuffer(key))!]
      : type === 'list' ? await client.lrangeBuffer(key, 0, -1)
      : type === 'zset' ? await client.zrangeBuffer(key, 0, -1)
      : type === 'set' ? await client.smembersBuffer(key)
      : type === 'hash' ? Object.entries(await client.hgetallBuffer(key)).flatMap(([name, value]) => [Buffer.from(name), value])
      : [];
    out.push(key, ...values.map((value) => value.toString('latin1')));
  }
  return out;
}

test('issue 7: a keyed mutation of a 200 KiB session adds under 1 KiB of Redis memory', async (t) => {
  const kib = 1024;
  const { store, keyPrefix, client } = await setup(t, { maxSessionBytes: 256 * kib, maxFieldBytes: 8 * kib, maxFields: 100 });
  const fields = new Map(Array.from({ length: 50 }, (_, i) => [`field-${i}`, pack(Buffer.alloc(4 * kib - 3, i))]));
  const id = generateSessionId();
  const sessionKey = `${keyPrefix}s:{${sessionHandle('ns', id)}}`;
  const created = await store.create({ namespace: 'ns', id, fields, ttlMs: 60_000, owner: '', idempotencyKey: 'create-1' });
  t.true(created.record.fields.size === 50 && [...fields.values()].reduce((sum, v) => sum + v.length, 0) >= 200 * kib);
  const afterCreate = await recordBytes(client, keyPrefix, [sessionKey]);
  t.true(afterCreate > 0 && afterCreate < kib, `the keyed create added ${afterCreate} bytes`);
  const op: FieldOp[] = [{ kind: 'incrementInt', field: 'visits', by: 1 }];
  let before = afterCreate;
  for (let i = 0; i < 10; i++) {
    await store.patch('ns', id, op, { idempotencyKey: `patch-${i}` });
    const after = await recordBytes(client, keyPrefix, [sessionKey]);
    t.true(after - before < kib, `keyed patch ${i} added ${after - before} bytes`);
    before = after;
  }
  // Past 128 records the session's index is no longer a listpack; a record still costs under 1 KiB.
  for (let i = 10; i < 200; i++) await store.patch('ns', id, op, { idempotencyKey: `patch-${i}` });
  const total = await recordBytes(client, keyPrefix, [sessionKey]);
  t.true((total - afterCreate) / 200 < kib, `200 keyed patches added ${total - afterCreate} bytes`);
  t.log(`records of 1 create + 200 patches of a 200 KiB session: ${total} bytes`);
  t.true((await store.patch('ns', id, op, { idempotencyKey: 'patch-0' })).replayed);
});

test('issue 7: no key or value in Redis holds a session id, idempotency records included', async (t) => {
  const { store, keyPrefix, client } = await setup(t);
  const id = generateSessionId();
  const newId = generateSessionId();
  await store.create({ namespace: 'ns', id, fields: new Map([['a', pack(1)]]), ttlMs: 60_000, owner: 'alice', idempotencyKey: 'create-1' });
  await store.patch('ns', id, [{ kind: 'set', field: 'b', value: pack(2) }], { idempotencyKey: 'patch-1' });
  await store.regenerate('ns', id, newId, { idempotencyKey: 'login-1' });
  const other = generateSessionId();
  await store.create({ namespace: 'ns', id: other, fields: new Map(), ttlMs: 60_000, owner: '', idempotencyKey: 'create-2' });

  const values = await dump(client, keyPrefix);
  t.true(values.length > 10, values.join('\n'));
  for (const secret of [id, newId, other]) {
    const hex = Buffer.from(secret).toString('hex');
    t.false(values.some((value) => value.includes(secret) || value.includes(hex)), `Redis holds ${secret}`);
  }
  // The replays still hand the ids back to whoever holds the idempotency key.
  const replayed = await store.create({ namespace: 'ns', id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: '', idempotencyKey: 'create-2' });
  t.true(replayed.replayed);
  t.is(replayed.record.id, other);
  const moved = await store.regenerate('ns', id, generateSessionId(), { idempotencyKey: 'login-1' });
  t.true(moved.replayed);
  t.is(moved.record.id, newId);
});

test('issue 7: Delete, RevokeByOwner and Regenerate leave no idempotency record behind in Redis', async (t) => {
  const { store, keyPrefix, client } = await setup(t);
  const keyed = async (owner: string) => {
    const id = generateSessionId();
    await store.create({ namespace: 'ns', id, fields: new Map(), ttlMs: 60_000, owner, idempotencyKey: `create-${id}` });
    await store.patch('ns', id, [{ kind: 'incrementInt', field: 'n', by: 1 }], { idempotencyKey: 'p' });
    await store.put('ns', id, new Map([['a', pack(1)]]), { idempotencyKey: 'q' });
    return id;
  };
  const deleted = await keyed('');
  const revoked = await keyed('bob');
  const regenerated = await keyed('');
  const records = async () =>
    (await keysByPrefix(client, keyPrefix)).filter((key) => /:i:|:r$/.test(key) || /^[cg]:/.test(key.slice(keyPrefix.length)));
  t.is((await records()).length, 3 * 4, 'a create, a patch and a put record per session, and one index each');

  t.true(await store.delete('ns', deleted));
  t.is(await store.revokeByOwner('ns', 'bob', []), 1);
  const newId = generateSessionId();
  await store.regenerate('ns', regenerated, newId, { idempotencyKey: 'login' });
  const left = await records();
  t.is(left.length, 2, left.join('\n'));
  t.true(left.some((key) => key.startsWith(`${keyPrefix}g:`)), 'the record of the regenerate stays');
  t.true(left.includes(`${keyPrefix}s:{${sessionHandle('ns', newId)}}:r`), 'listed in the new session\'s index');
  t.true(await store.delete('ns', newId));
  t.deepEqual(await records(), []);
});

test('issue 7: records replay under a key prefix that holds the record separator', async (t) => {
  const { store } = await setup(t, {}, `${uniquePrefix()}a|b}s:{c|`);
  const first = await store.create({ namespace: 'ns', id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: '', idempotencyKey: 'create-1' });
  await store.patch('ns', first.record.id, [{ kind: 'incrementInt', field: 'n', by: 1 }], { idempotencyKey: 'p' });
  const repeat = await store.create({ namespace: 'ns', id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: '', idempotencyKey: 'create-1' });
  t.true(repeat.replayed);
  t.is(repeat.record.id, first.record.id);
  t.is(repeat.record.version, 2);
  t.true(await store.delete('ns', first.record.id));
  t.false((await store.create({ namespace: 'ns', id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: '', idempotencyKey: 'create-1' })).replayed);
});

test('issue 7: a record left by an earlier sessiond (a list) is dropped and the call runs', async (t) => {
  const { store, keyPrefix, client } = await setup(t);
  const id = generateSessionId();
  await store.create({ namespace: 'ns', id, fields: new Map(), ttlMs: 60_000, owner: '' });
  const old = `${keyPrefix}s:{${sessionHandle('ns', id)}}:i:${createHash('sha256').update('p').digest('base64url')}`;
  await client.rpush(old, 'OK', '1');
  await client.pexpire(old, 60_000);
  const patched = await store.patch('ns', id, [{ kind: 'incrementInt', field: 'n', by: 1 }], { idempotencyKey: 'p' });
  t.false(patched.replayed);
  t.is(patched.record.version, 2);
  t.is(await client.type(old), 'string');
});
