// The near cache against a real sessiond and Redis: a hit makes no network call (every call to
// sessiond, unary or pipelined, is counted by a client interceptor), writes refresh the copy, copies
// are bounded by entries and bytes, a copy is never served past the session's expiry, sliding reads
// from the cache still slide, min_version goes past an older copy, and trust comes back after the invalidation feed is cut.
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import {
  CLIENT_CHANNELS, SessionError, type InvalidationMessage, type ResyncMessage, type SessionClient, type SessionClientInit,
} from '../../client/index.ts';
import { startOwnRedis, startRedis, type RedisHandle } from '../helpers/redis.ts';
import { startSessiond, waitFor, type StartedSessiond } from '../helpers/servers.ts';
import { connect, namespace, record } from './client-harness.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const PIPELINED = ['create', 'get', 'put', 'patch', 'delete', 'touch', 'regenerate'];

/**
 * A near-cache client whose calls to sessiond are counted by a client interceptor: each unary call
 * (every method but the Track and Pipeline streams), and each call sent on the Pipeline stream.
 */
function cachedClient(t: ExecutionContext, sessiond: StartedSessiond, init: Partial<SessionClientInit> = {}) {
  const calls: string[] = [];
  const counter: grpc.Interceptor = (options, nextCall) => {
    const path = options.method_definition.path;
    const method = path.slice(path.lastIndexOf('/') + 1);
    if (method !== 'Pipeline') {
      if (method !== 'Track') calls.push(method);
      return new grpc.InterceptingCall(nextCall(options));
    }
    return new grpc.InterceptingCall(nextCall(options), {
      sendMessage: (message: Record<string, unknown>, next: (message: unknown) => void) => {
        const call = PIPELINED.find((name) => message[name] !== undefined)!;
        calls.push(call[0]!.toUpperCase() + call.slice(1));
        next(message);
      },
    });
  };
  const client = connect(t, {
    address: sessiond.address,
    namespace: namespace(),
    nearCache: { maxEntries: 100, maxBytes: 1 << 20 },
    channelOptions: { interceptors: [counter] },
    // A busy machine (two suites on 2 cores) can miss the 2 s default.
    deadlineMs: 20_000,
    ...init,
  });
  return { client, calls };
}

/** Reads until the copy of `id` is trusted (answered from memory). */
async function untilHit(client: SessionClient, id: string): Promise<void> {
  await waitFor(async () => {
    const before = client.nearCacheStats().hits;
    await client.get(id);
    return client.nearCacheStats().hits > before;
  }, 20_000, 'the copy to be trusted');
}

test('a hit makes no network call, and a write refreshes the cached copy', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const { client, calls } = cachedClient(t, sessiond);
  const created = await client.create({ cart: ['sku-1'] });
  await untilHit(client, created.id);
  const before = calls.length;
  const { hits } = client.nearCacheStats();
  for (let i = 0; i < 5; i++) t.deepEqual((await client.get(created.id))!.fields, { cart: ['sku-1'] });
  t.deepEqual(await client.get(created.id, { fields: ['cart'] }).then((s) => s!.fields), { cart: ['sku-1'] });
  t.is(calls.length, before, 'no call went out');
  t.is(client.nearCacheStats().hits, hits + 6);

  const written = await client.patch(created.id, [{ append: 'cart', value: 'sku-2' }]);
  const read = await client.get(created.id);
  t.is(calls.length, before + 1, 'only the patch went out');
  t.is(read!.version, written.version);
  t.deepEqual(read!.fields, { cart: ['sku-1', 'sku-2'] }, 'the copy holds the write');
  read!.fields.cart = 'mutated by the caller';
  t.deepEqual((await client.get(created.id))!.fields, { cart: ['sku-1', 'sku-2'] }, 'what a caller does with a result never reaches the copy');
});

test('copies are bounded by entries and by bytes; evictions are counted', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const byEntries = cachedClient(t, sessiond, { nearCache: { maxEntries: 3, maxBytes: 1 << 20 } }).client;
  for (let i = 0; i < 8; i++) await byEntries.create({ i });
  t.like(byEntries.nearCacheStats(), { entries: 3, evictions: 5 });

  const byBytes = cachedClient(t, sessiond, { nearCache: { maxEntries: 1000, maxBytes: 20_000 } }).client;
  for (let i = 0; i < 8; i++) await byBytes.create({ blob: 'x'.repeat(5000) });
  const stats = byBytes.nearCacheStats();
  t.true(stats.bytes <= 20_000, `${stats.bytes} accounted bytes`);
  t.is(stats.entries + stats.evictions, 8);
  t.true(stats.evictions >= 5, `${stats.evictions} evictions`);
});

test('a copy is never served past the session expiry', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const { client } = cachedClient(t, sessiond);
  // Long enough for the copy to become trusted first on a busy machine.
  const created = await client.create({ a: 1 }, { ttlMs: 8000 });
  await untilHit(client, created.id);
  let served = 0;
  for (;;) {
    const startedAt = Date.now();
    const read = await client.get(created.id);
    if (!read) break;
    served++;
    // Redis runs on this machine's clock: what was served was still live when the read began.
    t.true(startedAt < read.expiresAtMs, `served at ${startedAt}, expiring at ${read.expiresAtMs}`);
    if (Date.now() > created.expiresAtMs + 30_000) t.fail('the session never expired');
    await new Promise((r) => setTimeout(r, 20));
  }
  t.true(served > 0);
  t.is(client.nearCacheStats().entries, 0, 'the copy is gone');
});

test('a sliding read answered from the cache still moves the expiry in sessiond', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const { client, calls } = cachedClient(t, sessiond);
  const plain = connect(t, { address: sessiond.address, namespace: client.options.namespace, deadlineMs: 20_000 });
  const created = await client.create({ a: 1 }, { ttlMs: 8000 });
  await untilHit(client, created.id);
  const slid = await waitFor(async () => {
    await client.get(created.id, { slide: true });
    const stored = await plain.get(created.id);
    await new Promise((r) => setTimeout(r, 50));
    return stored && stored.expiresAtMs > created.expiresAtMs ? stored : undefined;
  }, 20_000, 'the expiry to move');
  t.true(slid.expiresAtMs > created.expiresAtMs);
  t.true(calls.includes('Touch'), 'by a background touch');
  t.true(client.nearCacheStats().hits > 0);
});

test('minVersion goes past an older copy; above the store it is SESS_ERR_VERSION_BEHIND', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const { client, calls } = cachedClient(t, sessiond);
  const other = connect(t, { address: sessiond.address, namespace: client.options.namespace, deadlineMs: 20_000 });
  const invalidations = record<InvalidationMessage>(t, CLIENT_CHANNELS.invalidation, client.options.namespace);
  const created = await client.create({ n: 1 });
  await untilHit(client, created.id);
  await other.put(created.id, { n: 2 });
  const published = await waitFor(() => invalidations.find((m) => m.version === 2), 20_000, 'the invalidation to be published');
  t.like(published, { kind: 'UPDATED', dropped: true });
  t.true(published.lagMs! >= 0);
  t.like(client.nearCacheStats(), { invalidations: 1 });
  const before = calls.length;
  const read = await client.get(created.id, { minVersion: 2 });
  t.like(read, { version: 2, fields: { n: 2 } });
  t.is(calls.length, before + 1, 'the copy at version 1 was not used');
  const error = await t.throwsAsync(client.get(created.id, { minVersion: 9 }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_VERSION_BEHIND');
  t.is(error.currentVersion, 2);
});

test('when the invalidation feed is cut, every copy stops being trusted and trust comes back', async (t) => {
  // Its own Redis: CLIENT KILL TYPE pubsub cuts every subscriber on the server.
  const own = await startOwnRedis();
  t.teardown(() => own.stop());
  const sessiond = await startSessiond(t, { redis: own });
  const { client, calls } = cachedClient(t, sessiond);
  const other = connect(t, { address: sessiond.address, namespace: client.options.namespace, deadlineMs: 20_000 });
  const resyncs = record<ResyncMessage>(t, CLIENT_CHANNELS.resync, client.options.namespace);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await client.create({ i })).id);
  for (const id of ids) await untilHit(client, id);
  const admin = new Redis(own.url);
  t.teardown(() => admin.disconnect());
  t.true(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')) >= 1);
  // Changed while sessiond's subscription is down: no event can tell the cache.
  await other.put(ids[0]!, { i: 'changed' });
  await waitFor(() => client.nearCacheStats().resyncs >= 1, 20_000, 'a resync');
  t.like(resyncs[0], { reason: 'RESYNC', entries: 3 });
  const read = await waitFor(async () => {
    const before = calls.length;
    const snapshot = await client.get(ids[0]!);
    return calls.length === before ? snapshot : undefined;
  }, 20_000, 'a hit after the resync');
  t.deepEqual(read.fields, { i: 'changed' }, 'the copy trusted again is the current one');
});

test('delete and regenerate drop the copy: the old id is never answered from memory', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const { client } = cachedClient(t, sessiond);
  const a = await client.create({ n: 1 });
  const b = await client.create({ n: 2 });
  await untilHit(client, a.id);
  await untilHit(client, b.id);
  t.true(await client.delete(a.id));
  t.is(await client.get(a.id), undefined);
  const moved = await client.regenerate(b.id);
  t.is(await client.get(b.id), undefined);
  t.deepEqual((await client.get(moved.id))!.fields, { n: 2 });
});
