// Every SessionClient method end to end against a real sessiond on a real Redis: JS values in and out,
// versions, field filters, TTLs, owners, and Watch.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { SessionError, type WatchEvent } from '../../client/index.ts';
import { startRedis, type RedisHandle } from '../helpers/redis.ts';
import { setup as setupWith } from './client-harness.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

/** A well-formed id that no session has. */
const unknownId = (): string => randomBytes(32).toString('base64url');

const setup = (t: Parameters<typeof setupWith>[0]) => setupWith(t, { redis });

const VALUES = {
  text: 'héllo wörld ✓',
  empty: '',
  int: 42,
  negative: -7,
  float: 3.25,
  big: 2 ** 40,
  nested: { a: { b: [1, 'two', { c: null }] }, flag: false },
  list: [1, 'a', null, true, [2, 3]],
  nil: null,
  yes: true,
  no: false,
  when: new Date(1_700_000_000_123),
};

test('create and get round-trip JS values: strings, numbers, nested objects, arrays, binaries, null, booleans', async (t) => {
  const { client, ns } = await setup(t);
  const bytes = Uint8Array.of(0, 1, 2, 255);
  const created = await client.create({ ...VALUES, buffer: Buffer.from('bin\0ary'), bytes }, { owner: 'ada', ttlMs: 60_000 });
  t.is(created.id.length, 43);
  t.is(created.namespace, ns);
  t.is(created.version, 1);
  t.is(created.owner, 'ada');
  t.false(created.replayed);
  t.true(created.expiresAtMs > created.createdAtMs);

  const got = await client.get(created.id);
  t.truthy(got);
  const { buffer, bytes: gotBytes, ...plain } = got!.fields;
  t.deepEqual(plain, VALUES);
  t.true(Buffer.isBuffer(buffer) && Buffer.from('bin\0ary').equals(buffer as Buffer));
  t.true(gotBytes instanceof Uint8Array);
  t.deepEqual([...(gotBytes as Uint8Array)], [...bytes]);
  t.is(got!.version, 1);
  t.is(got!.owner, 'ada');
  t.deepEqual(created.fields, got!.fields);
});

test('a top-level typed array is stored as its raw bytes', async (t) => {
  const { client } = await setup(t);
  const floats = Float64Array.of(1.5, -2.25);
  const { id } = await client.create({ floats, view: new DataView(Uint8Array.of(9, 8).buffer) });
  const got = await client.get(id);
  const bytes = got!.fields.floats as Buffer;
  t.deepEqual([...new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))], [1.5, -2.25]);
  t.deepEqual([...(got!.fields.view as Buffer)], [9, 8]);
});

test('get returns undefined for an unknown id and for a session of another namespace', async (t) => {
  const { client, sessiond } = await setup(t);
  const created = await client.create({ a: 1 });
  t.is(await client.get(unknownId()), undefined);
  const { client: other } = await setupWith(t, { redis: sessiond.redis! });
  t.is(await other.get(created.id), undefined);
});

test('get with a field filter returns only the requested fields that exist', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ a: 1, b: 'two', c: [3] });
  const got = await client.get(id, { fields: ['a', 'c', 'missing'] });
  t.deepEqual(got!.fields, { a: 1, c: [3] });
});

test('get with slide extends the expiry without changing the version; a plain get does not', async (t) => {
  const { client } = await setup(t);
  const created = await client.create({ a: 1 }, { ttlMs: 60_000 });
  await sleep(20);
  const plain = await client.get(created.id);
  t.is(plain!.expiresAtMs, created.expiresAtMs);
  const slid = await client.get(created.id, { slide: true });
  t.true(slid!.expiresAtMs > created.expiresAtMs);
  t.is(slid!.version, 1);
});

test('put replaces all fields, bumps the version, honours expectedVersion and never creates', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ a: 1, b: 2 });
  const put = await client.put(id, { c: { deep: true } });
  t.is(put.version, 2);
  t.deepEqual(put.fields, { c: { deep: true } });
  t.deepEqual((await client.get(id))!.fields, { c: { deep: true } });
  const again = await client.put(id, { d: 4 }, { expectedVersion: 2 });
  t.is(again.version, 3);
  const missing = await t.throwsAsync(client.put(unknownId(), { a: 1 }), { instanceOf: SessionError });
  t.is(missing.code, 'SESS_ERR_NOT_FOUND');
});

test('patch applies set, delete, integer and float increments and append, in order and atomically', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ gone: 'x', visits: 5, items: ['a'] });
  const patched = await client.patch(id, [
    { set: 'user', value: { name: 'Ada', tags: ['x'] } },
    { delete: 'gone' },
    { increment: 'visits', by: 3 },
    { increment: 'visits' },
    { increment: 'score', by: 1.5 },
    { increment: 'score', by: 2, float: true },
    { increment: 'big', by: 2 ** 40 },
    { append: 'items', value: 'b' },
    { append: 'items', value: { sku: 'c' } },
    { append: 'fresh', value: 1 },
  ]);
  t.is(patched.version, 2);
  t.deepEqual(patched.fields, {
    user: { name: 'Ada', tags: ['x'] },
    visits: 9,
    score: 3.5,
    big: 2 ** 40,
    items: ['a', 'b', { sku: 'c' }],
    fresh: [1],
  });
  const bigger = await client.patch(id, [{ increment: 'big', by: 1 }]);
  t.is(bigger.fields.big, 2 ** 40 + 1);
  const wrong = await t.throwsAsync(client.patch(id, [{ increment: 'visits', by: 1 }, { append: 'visits', value: 1 }]), { instanceOf: SessionError });
  t.is(wrong.code, 'SESS_ERR_WRONG_TYPE');
  t.is((await client.get(id))!.fields.visits, 9, 'a rejected patch applies none of its ops');
});

test('delete returns true once and then false; honours expectedVersion', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ a: 1 });
  const conflict = await t.throwsAsync(client.delete(id, { expectedVersion: 7 }), { instanceOf: SessionError });
  t.is(conflict.code, 'SESS_ERR_VERSION_CONFLICT');
  t.true(await client.delete(id, { expectedVersion: 1 }));
  t.false(await client.delete(id));
  t.is(await client.get(id), undefined);
});

test('touch returns the unchanged version and a new expiry; undefined for a missing session', async (t) => {
  const { client } = await setup(t);
  const created = await client.create({ a: 1 }, { ttlMs: 60_000 });
  const touched = await client.touch(created.id, { ttlMs: 120_000 });
  t.is(touched!.version, 1);
  t.true(touched!.expiresAtMs > created.expiresAtMs);
  t.is((await client.get(created.id))!.expiresAtMs, touched!.expiresAtMs);
  t.is(await client.touch(unknownId()), undefined);
});

test('regenerate moves the fields to a new id with a new owner; the old id is gone', async (t) => {
  const { client } = await setup(t);
  const old = await client.create({ cart: ['sku-1'] }, { owner: 'anon' });
  const fresh = await client.regenerate(old.id, { owner: 'ada', expectedVersion: 1 });
  t.not(fresh.id, old.id);
  t.is(fresh.owner, 'ada');
  t.deepEqual(fresh.fields, { cart: ['sku-1'] });
  t.is(fresh.createdAtMs, old.createdAtMs);
  t.is(await client.get(old.id), undefined);
  t.deepEqual((await client.get(fresh.id))!.fields, { cart: ['sku-1'] });
});

test('listByOwner lists handles, never ids; revokeByOwner revokes by handle, then all', async (t) => {
  const { client } = await setup(t);
  const a = await client.create({ n: 1 }, { owner: 'ada' });
  const b = await client.create({ n: 2 }, { owner: 'ada' });
  const c = await client.create({ n: 3 }, { owner: 'ada' });
  await client.create({ n: 4 }, { owner: 'bob' });
  const listed = await client.listByOwner('ada');
  t.is(listed.length, 3);
  for (const summary of listed) {
    t.is(summary.handle.length, 43);
    t.false([a.id, b.id, c.id].includes(summary.handle));
    t.is(summary.version, 1);
  }
  t.is(await client.revokeByOwner('ada', { handles: [listed[0]!.handle] }), 1);
  t.is((await client.listByOwner('ada')).length, 2);
  t.is(await client.revokeByOwner('ada'), 2);
  t.deepEqual(await client.listByOwner('ada'), []);
  t.is((await client.listByOwner('bob')).length, 1);
  t.is(await client.get(a.id), undefined);
});

test('watch delivers SNAPSHOT then UPDATED events in strictly increasing version order; DELETED ends the iterator', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ n: 0 });
  const events: WatchEvent[] = [];
  const iterator = client.watch(id);
  const first = await iterator.next();
  t.false(first.done);
  events.push(first.value as WatchEvent);
  const consumed = (async () => {
    for await (const event of iterator) events.push(event);
  })();
  for (let i = 0; i < 10; i++) await client.patch(id, [{ increment: 'n' }, { set: `f${i % 3}`, value: i }]);
  await client.delete(id);
  await consumed;

  t.is(events[0]!.kind, 'SNAPSHOT');
  t.is(events[0]!.version, 1);
  t.deepEqual(events[0]!.fields, ['n']);
  t.is(events.at(-1)!.kind, 'DELETED');
  const updates = events.filter((e) => e.kind === 'UPDATED');
  t.true(updates.length >= 1);
  for (let i = 1; i < events.length - 1; i++) t.true(events[i]!.version > events[i - 1]!.version, `event ${i} version order`);
  t.true(updates.every((e) => e.fields.includes('n')));
  t.is(updates.at(-1)!.version, 11);
});

test('watch of a missing session yields DELETED and ends', async (t) => {
  const { client } = await setup(t);
  const events: WatchEvent[] = [];
  for await (const event of client.watch(unknownId())) events.push(event);
  t.deepEqual(events.map((e) => e.kind), ['DELETED']);
});

test('watch is cancelled by break and by its abort signal', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ n: 0 });
  for await (const event of client.watch(id)) {
    t.is(event.kind, 'SNAPSHOT');
    break;
  }
  const controller = new AbortController();
  const iterator = client.watch(id, { signal: controller.signal });
  t.is((await iterator.next()).value?.kind, 'SNAPSHOT');
  const pending = iterator.next();
  controller.abort();
  const error = await t.throwsAsync(pending);
  t.is(error.name, 'AbortError');
  t.true((await iterator.next()).done);
  // The session is still there and writable: cancelling a watch does not touch it.
  t.is((await client.patch(id, [{ increment: 'n' }])).version, 2);
});
