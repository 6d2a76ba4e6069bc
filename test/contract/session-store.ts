// The conformance suite every SessionStore must pass (STYLE.md §21). It uses only the public
// interface and real time, so the same tests run against the Redis and the memory store. Each test
// gets its own store (from `makeStore`) and namespace, so tests can run in parallel on one Redis.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext, TestFn } from 'ava';
import { pack, unpack } from 'msgpackr';
import { SessionError } from '../../proto/errors.ts';
import { generateSessionId, sessionHandle } from '../../server/session-id.ts';
import type { FieldOp, SessionChange, SessionRecord, StoreLimits } from '../../server/session-store.ts';
import {
  decodeFields, hex, hexFields, limitExceeded, meta, near, rejects, setupStore, summary, until, watch, type MakeStore,
} from './helpers.ts';
import { runEdgeCaseContract } from './session-store-edge-cases.ts';
import { runIdempotencyContract } from './session-store-idempotency.ts';

export { DEFAULT_TEST_LIMITS, type MakeStore } from './helpers.ts';

export function runSessionStoreContract(test: TestFn, makeStore: MakeStore): void {
  const setup = (t: ExecutionContext, limits: Partial<StoreLimits> = {}) => setupStore(t, makeStore, limits);

  test('create returns version 1 and get returns the fields byte for byte with the metadata', async (t) => {
    const { store, ns, create } = await setup(t);
    const fields = new Map<string, Uint8Array>([
      ['str', pack('hello')],
      ['map', pack({ x: 1, y: [true, null] })],
      ['bin', pack(Buffer.from([0, 255, 1, 0xc1]))],
      ['float', pack(1.5)],
      ['nil', pack(null)],
      ['ünïcødé', pack(-7)],
    ]);
    const before = Date.now();
    const { record, replayed } = await create({ fields, ttlMs: 60_000, owner: 'user-1' });
    t.false(replayed);
    t.is(record.namespace, ns);
    t.is(record.version, 1);
    t.is(record.owner, 'user-1');
    t.is(record.ttlMs, 60_000);
    t.deepEqual(hexFields(record.fields), hexFields(fields));
    near(t, record.createdAtMs, before);
    t.true(record.updatedAtMs >= record.createdAtMs);
    near(t, record.expiresAtMs, record.createdAtMs + 60_000);

    const read = await store.get(ns, record.id);
    t.truthy(read);
    t.deepEqual(hexFields(read!.fields), hexFields(fields));
    t.deepEqual(meta(read!), meta(record));
  });

  test('get of a missing session returns undefined', async (t) => {
    const { store, ns, create } = await setup(t);
    await create();
    t.is(await store.get(ns, generateSessionId()), undefined);
  });

  test('get with a field filter returns only the requested fields that exist', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['a', pack(1)], ['b', pack(2)], ['c', pack(3)]]) });
    const some = await store.get(ns, record.id, { fields: ['a', 'c', 'absent'] });
    t.deepEqual([...some!.fields.keys()].sort(), ['a', 'c']);
    t.is(some!.version, 1);
    const all = await store.get(ns, record.id, { fields: [] });
    t.deepEqual([...all!.fields.keys()].sort(), ['a', 'b', 'c']);
  });

  test('put replaces all fields and bumps the version', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['a', pack(1)], ['b', pack(2)]]) });
    const next = new Map([['b', pack('two')], ['c', pack([3])]]);
    const put = await store.put(ns, record.id, next);
    t.is(put.record.version, 2);
    t.false(put.replayed);
    t.deepEqual(hexFields(put.record.fields), hexFields(next));
    t.is(put.record.createdAtMs, record.createdAtMs);
    t.true(put.record.updatedAtMs >= record.updatedAtMs);
    const read = await store.get(ns, record.id);
    t.deepEqual(hexFields(read!.fields), hexFields(next));
    t.is(read!.version, 2);
  });

  test('put and patch of a missing session fail with SESS_ERR_NOT_FOUND', async (t) => {
    const { store, ns } = await setup(t);
    const id = generateSessionId();
    await rejects(t, store.put(ns, id, new Map([['a', pack(1)]])), 'SESS_ERR_NOT_FOUND');
    await rejects(t, store.put(ns, id, new Map(), { expectedVersion: 1 }), 'SESS_ERR_NOT_FOUND');
    await rejects(t, store.patch(ns, id, [{ kind: 'set', field: 'a', value: pack(1) }]), 'SESS_ERR_NOT_FOUND');
    await rejects(t, store.patch(ns, id, [{ kind: 'delete', field: 'a' }], { expectedVersion: 1 }), 'SESS_ERR_NOT_FOUND');
    t.is(await store.get(ns, id), undefined);
  });

  test('a matching expected version applies and a stale one fails with SESS_ERR_VERSION_CONFLICT and the current version', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['a', pack(1)]]) });
    const put = await store.put(ns, record.id, new Map([['a', pack(2)]]), { expectedVersion: 1 });
    t.is(put.record.version, 2);
    for (const stale of [0, 1, 3]) {
      const error = await rejects(t, store.patch(ns, record.id, [{ kind: 'set', field: 'a', value: pack(9) }], { expectedVersion: stale }), 'SESS_ERR_VERSION_CONFLICT');
      t.is(error?.currentVersion, 2);
    }
    const putError = await rejects(t, store.put(ns, record.id, new Map(), { expectedVersion: 1 }), 'SESS_ERR_VERSION_CONFLICT');
    t.is(putError?.currentVersion, 2);
    const read = await store.get(ns, record.id);
    t.is(read!.version, 2);
    t.deepEqual(unpack(read!.fields.get('a')!), 2);
    const patched = await store.patch(ns, record.id, [{ kind: 'set', field: 'a', value: pack(3) }], { expectedVersion: 2 });
    t.is(patched.record.version, 3);
  });

  test('delete returns true once, false for a missing session, and honours the expected version', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create();
    t.false(await store.delete(ns, generateSessionId()));
    const error = await rejects(t, store.delete(ns, record.id, { expectedVersion: 2 }), 'SESS_ERR_VERSION_CONFLICT');
    t.is(error?.currentVersion, 1);
    t.truthy(await store.get(ns, record.id));
    t.true(await store.delete(ns, record.id, { expectedVersion: 1 }));
    t.is(await store.get(ns, record.id), undefined);
    t.false(await store.delete(ns, record.id));
    const other = await create();
    t.true(await store.delete(ns, other.record.id));
  });

  test('a deleted id created again continues above its old version so a stale expected version never matches', async (t) => {
    const { store, ns, create } = await setup(t);
    const id = generateSessionId();
    await create({ id });
    await store.patch(ns, id, [{ kind: 'set', field: 'a', value: pack(1) }]);
    await store.patch(ns, id, [{ kind: 'set', field: 'a', value: pack(2) }]);
    t.true(await store.delete(ns, id));
    const again = await create({ id });
    t.is(again.record.version, 4);
    for (const stale of [1, 3]) {
      await rejects(t, store.put(ns, id, new Map(), { expectedVersion: stale }), 'SESS_ERR_VERSION_CONFLICT');
    }
    t.is((await store.put(ns, id, new Map(), { expectedVersion: 4 })).record.version, 5);
  });

  test('create with the id of a live session fails with SESS_ERR_ALREADY_EXISTS and changes nothing', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['a', pack(1)]]) });
    await rejects(t, create({ id: record.id, fields: new Map([['b', pack(2)]]) }), 'SESS_ERR_ALREADY_EXISTS');
    const read = await store.get(ns, record.id);
    t.deepEqual([...read!.fields.keys()], ['a']);
    t.is(read!.version, 1);
  });

  test('patch set and delete apply in order, and deleting an absent field is fine', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['a', pack(1)], ['b', pack(2)]]) });
    const { record: patched } = await store.patch(ns, record.id, [
      { kind: 'set', field: 'c', value: pack('c1') },
      { kind: 'delete', field: 'a' },
      { kind: 'delete', field: 'never' },
      { kind: 'set', field: 'c', value: pack('c2') },
      { kind: 'set', field: 'b', value: pack('b2') },
      { kind: 'delete', field: 'b' },
    ]);
    t.is(patched.version, 2);
    t.deepEqual(decodeFields(patched.fields), { c: 'c2' });
    t.deepEqual(decodeFields((await store.get(ns, record.id))!.fields), { c: 'c2' });
  });

  test('incrementInt counts from zero, chains within one patch and stores the smallest integer encoding', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['n', pack(10)]]) });
    const { record: r1 } = await store.patch(ns, record.id, [
      { kind: 'incrementInt', field: 'fresh', by: 5 },
      { kind: 'incrementInt', field: 'n', by: 200 },
      { kind: 'incrementInt', field: 'n', by: -15 },
      { kind: 'incrementInt', field: 'neg', by: -1000 },
    ]);
    t.is(r1.version, 2);
    t.is(hex(r1.fields.get('fresh')!), hex(pack(5)));
    t.is(hex(r1.fields.get('n')!), hex(pack(195)));
    t.is(hex(r1.fields.get('neg')!), hex(pack(-1000)));
    const { record: r2 } = await store.patch(ns, record.id, [{ kind: 'incrementInt', field: 'n', by: 70_000 - 195 }]);
    t.is(hex(r2.fields.get('n')!), hex(pack(70_000)));
  });

  test('incrementFloat adds to integers and floats and stores a float64', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['i', pack(2)], ['f', pack(0.5)]]) });
    const { record: patched } = await store.patch(ns, record.id, [
      { kind: 'incrementFloat', field: 'i', by: 0.25 },
      { kind: 'incrementFloat', field: 'f', by: 1 },
      { kind: 'incrementFloat', field: 'fresh', by: -1.5 },
      { kind: 'incrementFloat', field: 'fresh', by: 0.25 },
    ]);
    t.deepEqual(decodeFields(patched.fields), { i: 2.25, f: 1.5, fresh: -1.25 });
    for (const name of ['i', 'f', 'fresh']) t.is(patched.fields.get(name)![0], 0xcb, name);
    // A float field stays a float, so integer increments now refuse it.
    await rejects(t, store.patch(ns, record.id, [{ kind: 'incrementInt', field: 'f', by: 1 }]), 'SESS_ERR_WRONG_TYPE');
  });

  test('an increment on a non-number fails with SESS_ERR_WRONG_TYPE naming the field and changes nothing', async (t) => {
    const { store, ns, create } = await setup(t);
    const fields = new Map([['name', pack('bob')], ['f', pack(1.5)], ['n', pack(1)]]);
    const { record } = await create({ fields });
    const failing: FieldOp[][] = [
      [{ kind: 'incrementInt', field: 'n', by: 1 }, { kind: 'incrementInt', field: 'name', by: 1 }],
      [{ kind: 'set', field: 'x', value: pack(1) }, { kind: 'incrementFloat', field: 'name', by: 1 }],
      [{ kind: 'incrementInt', field: 'f', by: 1 }],
      [{ kind: 'set', field: 'n', value: pack([1]) }, { kind: 'incrementInt', field: 'n', by: 1 }],
    ];
    for (const ops of failing) {
      const error = await rejects(t, store.patch(ns, record.id, ops), 'SESS_ERR_WRONG_TYPE');
      const field = ops.at(-1)!.field;
      t.true(error?.message.includes(field), `message names "${field}": ${error?.message}`);
    }
    const read = await store.get(ns, record.id);
    t.is(read!.version, 1);
    t.deepEqual(hexFields(read!.fields), hexFields(fields));
  });

  test('append creates an array and extends it across the 15-element header boundary', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create();
    const { record: r1 } = await store.patch(ns, record.id, [{ kind: 'append', field: 'items', value: pack('sku-1') }]);
    t.deepEqual(unpack(r1.fields.get('items')!), ['sku-1']);
    const more: FieldOp[] = Array.from({ length: 19 }, (_, i) => ({ kind: 'append', field: 'items', value: pack({ i }) }));
    const { record: r2 } = await store.patch(ns, record.id, more);
    t.is(r2.version, 3);
    t.deepEqual(unpack(r2.fields.get('items')!), ['sku-1', ...Array.from({ length: 19 }, (_, i) => ({ i }))]);
    const existing = await store.patch(ns, record.id, [
      { kind: 'set', field: 'list', value: pack([1, 2]) },
      { kind: 'append', field: 'list', value: pack([3]) },
    ]);
    t.deepEqual(unpack(existing.record.fields.get('list')!), [1, 2, [3]]);
  });

  test('append on a non-array fails with SESS_ERR_WRONG_TYPE and changes nothing', async (t) => {
    const { store, ns, create } = await setup(t);
    const fields = new Map([['s', pack('text')], ['m', pack({ a: 1 })]]);
    const { record } = await create({ fields });
    for (const field of ['s', 'm']) {
      const error = await rejects(
        t,
        store.patch(ns, record.id, [{ kind: 'append', field: 'ok', value: pack(1) }, { kind: 'append', field, value: pack(1) }]),
        'SESS_ERR_WRONG_TYPE',
      );
      t.true(error?.message.includes(`"${field}"`) || error?.message.includes(field));
    }
    const read = await store.get(ns, record.id);
    t.is(read!.version, 1);
    t.deepEqual(hexFields(read!.fields), hexFields(fields));
  });

  test('an integer increment beyond MAX_SAFE_INTEGER fails with SESS_ERR_INVALID_ARGUMENT and changes nothing', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create();
    const max = Number.MAX_SAFE_INTEGER;
    const { record: atMax } = await store.patch(ns, record.id, [
      { kind: 'incrementInt', field: 'up', by: max - 1 },
      { kind: 'incrementInt', field: 'up', by: 1 },
      { kind: 'incrementInt', field: 'down', by: -max },
    ]);
    t.is(Number(unpack(atMax.fields.get('up')!)), max);
    t.is(Number(unpack(atMax.fields.get('down')!)), -max);
    await rejects(t, store.patch(ns, record.id, [{ kind: 'incrementInt', field: 'up', by: 1 }]), 'SESS_ERR_INVALID_ARGUMENT');
    await rejects(t, store.patch(ns, record.id, [{ kind: 'set', field: 'x', value: pack(1) }, { kind: 'incrementInt', field: 'down', by: -1 }]), 'SESS_ERR_INVALID_ARGUMENT');
    const read = await store.get(ns, record.id);
    t.is(read!.version, 2);
    t.deepEqual(hexFields(read!.fields), hexFields(atMax.fields));
  });

  test('a field value over maxFieldBytes is rejected naming the limit and nothing changes', async (t) => {
    const { store, ns, create } = await setup(t, { maxFieldBytes: 100 });
    const big = pack(Buffer.alloc(101 - 2)); // bin8: 2 header bytes + 99 = 101 bytes
    t.is(big.length, 101);
    await limitExceeded(t, create({ fields: new Map([['a', big]]) }), 'maxFieldBytes', 101, 100);
    const { record } = await create({ fields: new Map([['a', pack(Buffer.alloc(98))]]) }); // exactly 100 bytes
    await limitExceeded(t, store.put(ns, record.id, new Map([['a', big]])), 'maxFieldBytes', 101, 100);
    await store.patch(ns, record.id, [{ kind: 'set', field: 'list', value: pack(Array.from({ length: 90 }, () => 1)) }]);
    await limitExceeded(
      t,
      store.patch(ns, record.id, Array.from({ length: 10 }, () => ({ kind: 'append' as const, field: 'list', value: pack(1) }))),
      'maxFieldBytes',
      undefined,
      100,
    );
    const read = await store.get(ns, record.id);
    t.is(read!.version, 2);
    t.is(read!.fields.get('a')!.length, 100);
    t.is((unpack(read!.fields.get('list')!) as number[]).length, 90);
  });

  test('more fields than maxFields are rejected naming the limit and nothing changes', async (t) => {
    const { store, ns, create } = await setup(t, { maxFields: 3 });
    const four = new Map(['a', 'b', 'c', 'd'].map((name) => [name, pack(1)]));
    await limitExceeded(t, create({ fields: four }), 'maxFields', 4, 3);
    const { record } = await create({ fields: new Map([['a', pack(1)], ['b', pack(2)], ['c', pack(3)]]) });
    await limitExceeded(t, store.put(ns, record.id, four), 'maxFields', 4, 3);
    await limitExceeded(t, store.patch(ns, record.id, [{ kind: 'set', field: 'd', value: pack(4) }]), 'maxFields', 4, 3);
    // The count is taken after all ops, so delete-then-set stays within the limit.
    const ok = await store.patch(ns, record.id, [{ kind: 'delete', field: 'a' }, { kind: 'set', field: 'd', value: pack(4) }]);
    t.deepEqual([...ok.record.fields.keys()].sort(), ['b', 'c', 'd']);
    t.is(ok.record.version, 2);
  });

  test('a session over maxSessionBytes (UTF-8 names plus values) is rejected naming the limit and nothing changes', async (t) => {
    const { store, ns, create } = await setup(t, { maxSessionBytes: 16 });
    const value = pack(Buffer.alloc(12)); // bin8: 14 bytes
    t.is(value.length, 14);
    // 'é' is 2 bytes of UTF-8: 2 + 14 = 16 fits; 'éa' is 3 bytes (2 characters): 17 does not.
    const { record } = await create({ fields: new Map([['é', value]]) });
    await limitExceeded(t, create({ fields: new Map([['éa', value]]) }), 'maxSessionBytes', 17, 16);
    await limitExceeded(t, store.put(ns, record.id, new Map([['éa', value]])), 'maxSessionBytes', 17, 16);
    await limitExceeded(t, store.patch(ns, record.id, [{ kind: 'set', field: 'x', value: pack(1) }]), 'maxSessionBytes', 18, 16);
    const read = await store.get(ns, record.id);
    t.is(read!.version, 1);
    t.deepEqual(hexFields(read!.fields), hexFields(new Map([['é', value]])));
  });

  test('expiresAtMs is ttl after the write and ttlMs is the session\'s own ttl', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ ttlMs: 45_000 });
    near(t, record.expiresAtMs, Date.now() + 45_000);
    near(t, record.expiresAtMs, record.createdAtMs + 45_000, 50);
    t.is(record.ttlMs, 45_000);
    const read = await store.get(ns, record.id);
    t.is(read!.expiresAtMs, record.expiresAtMs);
    t.is(read!.ttlMs, 45_000);
  });

  test('expiry is capped at createdAtMs plus maxLifetimeMs for create, touch, slide and mutations', async (t) => {
    const { store, ns, create } = await setup(t, { maxLifetimeMs: 3000 });
    const { record } = await create({ ttlMs: 60_000 });
    const cap = record.createdAtMs + 3000;
    t.is(record.expiresAtMs, cap);
    t.is((await store.touch(ns, record.id, 60_000))!.expiresAtMs, cap);
    t.is((await store.get(ns, record.id, { slide: true }))!.expiresAtMs, cap);
    t.is((await store.patch(ns, record.id, [{ kind: 'set', field: 'a', value: pack(1) }], { ttlMs: 60_000 })).record.expiresAtMs, cap);
    t.is((await store.put(ns, record.id, new Map())).record.expiresAtMs, cap);
  });

  test('touch extends the expiry without changing the version or the own ttl', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ ttlMs: 10_000 });
    const touched = await store.touch(ns, record.id, 60_000);
    t.deepEqual(touched && { version: touched.version }, { version: 1 });
    near(t, touched!.expiresAtMs, Date.now() + 60_000);
    const read = await store.get(ns, record.id);
    t.is(read!.expiresAtMs, touched!.expiresAtMs);
    t.is(read!.version, 1);
    t.is(read!.ttlMs, 10_000);
    const usual = await store.touch(ns, record.id, 0);
    near(t, usual!.expiresAtMs, Date.now() + 10_000);
    t.is(usual!.version, 1);
  });

  test('touch of a missing session returns undefined', async (t) => {
    const { store, ns } = await setup(t);
    t.is(await store.touch(ns, generateSessionId(), 1000), undefined);
    t.is(await store.touch(ns, generateSessionId(), 0), undefined);
  });

  test('get with slide re-arms the expiry by the own ttl without changing the version', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ ttlMs: 5000 });
    await sleep(200);
    const plain = await store.get(ns, record.id);
    t.is(plain!.expiresAtMs, record.expiresAtMs);
    const slid = await store.get(ns, record.id, { slide: true });
    t.true(slid!.expiresAtMs >= record.expiresAtMs + 150, `${slid!.expiresAtMs} vs ${record.expiresAtMs}`);
    near(t, slid!.expiresAtMs, Date.now() + 5000);
    t.is(slid!.version, 1);
    t.is((await store.get(ns, record.id))!.expiresAtMs, slid!.expiresAtMs);
  });

  test('mutations re-arm the expiry and a positive ttlMs becomes the own ttl', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ ttlMs: 2000 });
    const patched = await store.patch(ns, record.id, [{ kind: 'set', field: 'a', value: pack(1) }], { ttlMs: 60_000 });
    t.is(patched.record.ttlMs, 60_000);
    near(t, patched.record.expiresAtMs, Date.now() + 60_000);
    await store.touch(ns, record.id, 1000);
    const put = await store.put(ns, record.id, new Map());
    t.is(put.record.ttlMs, 60_000);
    near(t, put.record.expiresAtMs, Date.now() + 60_000);
    near(t, (await store.touch(ns, record.id, 0))!.expiresAtMs, Date.now() + 60_000);
  });

  test('an expired session behaves as missing everywhere', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ ttlMs: 300, owner: 'owner-x', fields: new Map([['a', pack(1)]]) });
    const id = record.id;
    await until(t, async () => (await store.get(ns, id)) === undefined, 'the session expires');
    await rejects(t, store.put(ns, id, new Map()), 'SESS_ERR_NOT_FOUND');
    await rejects(t, store.patch(ns, id, [{ kind: 'incrementInt', field: 'a', by: 1 }]), 'SESS_ERR_NOT_FOUND');
    await rejects(t, store.regenerate(ns, id, generateSessionId()), 'SESS_ERR_NOT_FOUND');
    t.is(await store.touch(ns, id, 60_000), undefined);
    t.is(await store.get(ns, id, { slide: true }), undefined);
    t.false(await store.delete(ns, id));
    t.deepEqual(await store.listByOwner(ns, 'owner-x'), []);
    t.is(await store.revokeByOwner(ns, 'owner-x', []), 0);
    const again = await create({ id });
    t.deepEqual(again.record.fields.size, 0);
  });

  test('a patch repeated with the same idempotency key applies once and answers with the session as it is now, replayed', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create();
    const op: FieldOp[] = [{ kind: 'incrementInt', field: 'n', by: 1 }];
    const first = await store.patch(ns, record.id, op, { idempotencyKey: 'k1' });
    t.false(first.replayed);
    t.is(first.record.version, 2);
    const repeat = await store.patch(ns, record.id, op, { idempotencyKey: 'k1' });
    t.true(repeat.replayed);
    t.deepEqual(summary(repeat.record), summary(first.record));
    t.is(Number(unpack((await store.get(ns, record.id))!.fields.get('n')!)), 1);
    const other = await store.patch(ns, record.id, op, { idempotencyKey: 'k2' });
    t.false(other.replayed);
    t.is(other.record.version, 3);
    // After the session changed, the key still applies nothing, and answers with the session now.
    const late = await store.patch(ns, record.id, op, { idempotencyKey: 'k1' });
    t.true(late.replayed);
    t.deepEqual(summary(late.record), summary(other.record));
    const read = await store.get(ns, record.id);
    t.is(read!.version, 3);
    t.is(Number(unpack(read!.fields.get('n')!)), 2);
  });

  test('a put repeated with the same idempotency key is replayed and idempotency keys are scoped to the session', async (t) => {
    const { store, ns, create } = await setup(t);
    const a = (await create()).record;
    const b = (await create()).record;
    const fields = new Map([['x', pack(1)]]);
    const first = await store.put(ns, a.id, fields, { idempotencyKey: 'same' });
    const repeat = await store.put(ns, a.id, new Map([['y', pack(2)]]), { idempotencyKey: 'same' });
    t.true(repeat.replayed);
    t.deepEqual(summary(repeat.record), summary(first.record));
    t.deepEqual(hexFields((await store.get(ns, a.id))!.fields), hexFields(fields));
    const onB = await store.patch(ns, b.id, [{ kind: 'set', field: 'z', value: pack(3) }], { idempotencyKey: 'same' });
    t.false(onB.replayed);
    t.is(onB.record.id, b.id);
    t.is(onB.record.version, 2);
  });

  test('a failed mutation is not remembered under its idempotency key', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create();
    const op: FieldOp[] = [{ kind: 'incrementInt', field: 'n', by: 1 }];
    await rejects(t, store.patch(ns, record.id, op, { idempotencyKey: 'k', expectedVersion: 7 }), 'SESS_ERR_VERSION_CONFLICT');
    const retried = await store.patch(ns, record.id, op, { idempotencyKey: 'k', expectedVersion: 1 });
    t.false(retried.replayed);
    t.is(retried.record.version, 2);
  });

  test('a create repeated with the same idempotency key returns the first session, even with another id', async (t) => {
    const { store, ns, create } = await setup(t);
    const first = await create({ fields: new Map([['a', pack(1)]]), idempotencyKey: 'create-1' });
    t.false(first.replayed);
    const otherId = generateSessionId();
    const repeat = await create({ id: otherId, fields: new Map([['b', pack(2)]]), idempotencyKey: 'create-1' });
    t.true(repeat.replayed);
    t.is(repeat.record.id, first.record.id);
    t.deepEqual(summary(repeat.record), summary(first.record));
    t.is(await store.get(ns, otherId), undefined);
    const fresh = await create({ idempotencyKey: 'create-2' });
    t.false(fresh.replayed);
    t.not(fresh.record.id, first.record.id);
    // Keys are scoped to the namespace.
    const elsewhere = await store.create({ namespace: `${ns}-other`, id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: '', idempotencyKey: 'create-1' });
    t.false(elsewhere.replayed);
    t.not(elsewhere.record.id, first.record.id);
  });

  test('regenerate moves the session to the new id with version + 1 and the old id is gone at once', async (t) => {
    const { store, ns, create } = await setup(t);
    const fields = new Map([['cart', pack(['sku-1'])]]);
    const { record } = await create({ fields, owner: 'alice', ttlMs: 30_000 });
    await store.patch(ns, record.id, [{ kind: 'incrementInt', field: 'visits', by: 1 }]);
    const newId = generateSessionId();
    const { record: moved, replayed } = await store.regenerate(ns, record.id, newId);
    t.false(replayed);
    t.is(moved.id, newId);
    t.is(moved.version, 3);
    t.is(moved.createdAtMs, record.createdAtMs);
    t.is(moved.owner, 'alice');
    t.is(moved.ttlMs, 30_000);
    t.deepEqual(decodeFields(moved.fields), { cart: ['sku-1'], visits: 1 });
    t.is(await store.get(ns, record.id), undefined);
    t.deepEqual(summary((await store.get(ns, newId))!), summary(moved));
    await rejects(t, store.put(ns, record.id, new Map()), 'SESS_ERR_NOT_FOUND');
    t.false(await store.delete(ns, record.id));
    const listed = await store.listByOwner(ns, 'alice');
    t.deepEqual(listed.map((s) => s.handle), [sessionHandle(ns, newId)]);
  });

  test('regenerate fails with NOT_FOUND, ALREADY_EXISTS or VERSION_CONFLICT and then changes nothing', async (t) => {
    const { store, ns, create } = await setup(t);
    await rejects(t, store.regenerate(ns, generateSessionId(), generateSessionId()), 'SESS_ERR_NOT_FOUND');
    const a = (await create({ fields: new Map([['a', pack(1)]]) })).record;
    const b = (await create({ fields: new Map([['b', pack(2)]]) })).record;
    await rejects(t, store.regenerate(ns, a.id, b.id), 'SESS_ERR_ALREADY_EXISTS');
    const error = await rejects(t, store.regenerate(ns, a.id, generateSessionId(), { expectedVersion: 5 }), 'SESS_ERR_VERSION_CONFLICT');
    t.is(error?.currentVersion, 1);
    t.deepEqual(summary((await store.get(ns, a.id))!), summary(a));
    t.deepEqual(summary((await store.get(ns, b.id))!), summary(b));
    const ok = await store.regenerate(ns, a.id, generateSessionId(), { expectedVersion: 1, idempotencyKey: 'login' });
    t.is(ok.record.version, 2);
    const repeat = await store.regenerate(ns, a.id, generateSessionId(), { expectedVersion: 1, idempotencyKey: 'login' });
    t.true(repeat.replayed);
    t.is(repeat.record.id, ok.record.id);
  });

  test('regenerate with an owner moves the session to that owner\'s index', async (t) => {
    const { store, ns, create } = await setup(t);
    const anon = (await create({ owner: 'anonymous' })).record;
    const bare = (await create()).record;
    const id1 = generateSessionId();
    const id2 = generateSessionId();
    t.is((await store.regenerate(ns, anon.id, id1, { owner: 'alice' })).record.owner, 'alice');
    t.is((await store.regenerate(ns, bare.id, id2, { owner: 'alice' })).record.owner, 'alice');
    t.deepEqual(await store.listByOwner(ns, 'anonymous'), []);
    const handles = (await store.listByOwner(ns, 'alice')).map((s) => s.handle).sort();
    t.deepEqual(handles, [sessionHandle(ns, id1), sessionHandle(ns, id2)].sort());
    const id3 = generateSessionId();
    t.is((await store.regenerate(ns, id1, id3, { owner: '' })).record.owner, 'alice');
  });

  test('listByOwner lists the live sessions of one owner in one namespace, oldest first, by handle', async (t) => {
    const { store, ns, create } = await setup(t);
    const alice: SessionRecord[] = [];
    for (let i = 0; i < 3; i++) {
      alice.push((await create({ owner: 'alice' })).record);
      await sleep(5);
    }
    const bob = (await create({ owner: 'bob' })).record;
    await create();
    await store.create({ namespace: `${ns}-other`, id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: 'alice' });
    await store.patch(ns, alice[1]!.id, [{ kind: 'set', field: 'a', value: pack(1) }]);
    const listed = await store.listByOwner(ns, 'alice');
    t.deepEqual(listed.map((s) => s.handle).sort(), alice.map((r) => sessionHandle(ns, r.id)).sort());
    const sorted = [...listed].sort((x, y) => x.createdAtMs - y.createdAtMs || (x.handle < y.handle ? -1 : x.handle > y.handle ? 1 : 0));
    t.deepEqual(listed, sorted);
    const second = listed.find((s) => s.handle === sessionHandle(ns, alice[1]!.id))!;
    t.is(second.version, 2);
    t.is(second.createdAtMs, alice[1]!.createdAtMs);
    t.true(second.updatedAtMs >= second.createdAtMs);
    t.true(second.expiresAtMs > second.updatedAtMs);
    t.false(JSON.stringify(listed).includes(alice[0]!.id), 'summaries never carry the secret id');
    t.deepEqual((await store.listByOwner(ns, 'bob')).map((s) => s.handle), [sessionHandle(ns, bob.id)]);
    t.deepEqual(await store.listByOwner(ns, 'nobody'), []);
  });

  test('revokeByOwner without handles deletes every session of the owner, leaves tombstones and notifies watchers', async (t) => {
    const { store, ns, create } = await setup(t);
    const id = generateSessionId();
    await create({ id, owner: 'alice' });
    const second = (await create({ owner: 'alice' })).record;
    const bob = (await create({ owner: 'bob' })).record;
    const elsewhere = await store.create({ namespace: `${ns}-other`, id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: 'alice' });
    const events = await watch(store, ns, second.id);
    t.is(await store.revokeByOwner(ns, 'alice', []), 2);
    t.is(await store.get(ns, id), undefined);
    t.is(await store.get(ns, second.id), undefined);
    t.truthy(await store.get(ns, bob.id));
    t.truthy(await store.get(`${ns}-other`, elsewhere.record.id));
    t.deepEqual(await store.listByOwner(ns, 'alice'), []);
    t.is(await store.revokeByOwner(ns, 'alice', []), 0);
    await until(t, async () => events.length >= 1, 'the deleted event arrives');
    t.deepEqual(events, [{ kind: 'deleted', version: 1, fields: [], expiresAtMs: 0 }]);
    t.is((await create({ id })).record.version, 2);
  });

  test('revokeByOwner with handles deletes only the listed sessions that belong to the owner', async (t) => {
    const { store, ns, create } = await setup(t);
    const [a1, a2, a3] = [(await create({ owner: 'alice' })).record, (await create({ owner: 'alice' })).record, (await create({ owner: 'alice' })).record];
    const b1 = (await create({ owner: 'bob' })).record;
    const revoked = await store.revokeByOwner(ns, 'alice', [sessionHandle(ns, a1!.id), sessionHandle(ns, a3!.id), sessionHandle(ns, b1.id), 'not-a-handle']);
    t.is(revoked, 2);
    t.is(await store.get(ns, a1!.id), undefined);
    t.is(await store.get(ns, a3!.id), undefined);
    t.truthy(await store.get(ns, a2!.id));
    t.truthy(await store.get(ns, b1.id));
    t.deepEqual((await store.listByOwner(ns, 'alice')).map((s) => s.handle), [sessionHandle(ns, a2!.id)]);
  });

  test('watchers receive updated events in version order with the changed fields', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['a', pack(1)], ['b', pack(2)]]) });
    const events = await watch(store, ns, record.id);
    const expected: SessionChange[] = [];
    for (let i = 0; i < 10; i++) {
      const { record: r } = await store.patch(ns, record.id, [
        { kind: 'set', field: `f${i}`, value: pack(i) },
        { kind: 'incrementInt', field: 'n', by: 1 },
        { kind: 'set', field: `f${i}`, value: pack(-i) },
      ]);
      expected.push({ kind: 'updated', version: r.version, fields: [`f${i}`, 'n'], expiresAtMs: r.expiresAtMs });
    }
    const { record: put } = await store.put(ns, record.id, new Map([['b', pack(3)], ['c', pack(4)]]));
    await until(t, async () => events.length >= 11, '11 events arrive');
    t.deepEqual(events.slice(0, 10), expected);
    const last = events[10]!;
    t.like(last, { kind: 'updated', version: 12, expiresAtMs: put.expiresAtMs });
    t.deepEqual([...last.fields].sort(), ['a', 'b', 'c', 'f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9', 'n']);
  });

  test('touch and slide publish nothing', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create();
    const events = await watch(store, ns, record.id);
    await store.touch(ns, record.id, 30_000);
    await store.get(ns, record.id, { slide: true });
    await store.patch(ns, record.id, [{ kind: 'delete', field: 'x' }]);
    await until(t, async () => events.length >= 1, 'the patch event arrives');
    t.is(events[0]!.version, 2);
    t.is(events[0]!.kind, 'updated');
  });

  test('watchers receive deleted on delete and the old id\'s watchers receive deleted on regenerate', async (t) => {
    const { store, ns, create } = await setup(t);
    const doomed = (await create()).record;
    const moved = (await create()).record;
    await store.patch(ns, moved.id, [{ kind: 'set', field: 'a', value: pack(1) }]);
    const deletedEvents = await watch(store, ns, doomed.id);
    const oldEvents = await watch(store, ns, moved.id);
    const newId = generateSessionId();
    const newEvents = await watch(store, ns, newId);
    t.true(await store.delete(ns, doomed.id));
    await store.regenerate(ns, moved.id, newId);
    await store.patch(ns, newId, [{ kind: 'set', field: 'b', value: pack(2) }]);
    const arrived = () => newEvents.some((c) => c.version === 4);
    await until(t, async () => deletedEvents.length >= 1 && oldEvents.length >= 1 && arrived(), 'events arrive');
    t.deepEqual(deletedEvents, [{ kind: 'deleted', version: 1, fields: [], expiresAtMs: 0 }]);
    t.deepEqual(oldEvents, [{ kind: 'deleted', version: 2, fields: [], expiresAtMs: 0 }]);
    // The new id may or may not hear about its arrival (version 3); it must hear the patch after it.
    t.like(newEvents.at(-1), { kind: 'updated', version: 4, fields: ['b'] });
    t.true(newEvents.every((c, i) => c.kind === 'updated' && (i === 0 || c.version > newEvents[i - 1]!.version)));
  });

  test('unsubscribe stops delivery', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create();
    const first: SessionChange[] = [];
    const unsubscribe = await store.subscribe(ns, record.id, (change) => first.push(change));
    await store.patch(ns, record.id, [{ kind: 'set', field: 'a', value: pack(1) }]);
    await until(t, async () => first.length >= 1, 'the first event arrives');
    await unsubscribe();
    await store.patch(ns, record.id, [{ kind: 'set', field: 'a', value: pack(2) }]);
    // A second watcher seeing a later change proves the earlier one was delivered if it was going to be.
    const second = await watch(store, ns, record.id);
    await store.patch(ns, record.id, [{ kind: 'set', field: 'a', value: pack(3) }]);
    await until(t, async () => second.length >= 1, 'the second watcher hears version 4');
    t.is(second[0]!.version, 4);
    t.deepEqual(first.map((c) => c.version), [2]);
  });

  test('the same id in another namespace is a different session', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['a', pack(1)]]) });
    const other = `${ns}-other`;
    t.is(await store.get(other, record.id), undefined);
    await rejects(t, store.put(other, record.id, new Map()), 'SESS_ERR_NOT_FOUND');
    await rejects(t, store.patch(other, record.id, [{ kind: 'delete', field: 'a' }]), 'SESS_ERR_NOT_FOUND');
    t.false(await store.delete(other, record.id));
    t.is(await store.touch(other, record.id, 0), undefined);
    const twin = await store.create({ namespace: other, id: record.id, fields: new Map([['b', pack(2)]]), ttlMs: 60_000, owner: '' });
    t.is(twin.record.version, 1);
    t.deepEqual(decodeFields((await store.get(ns, record.id))!.fields), { a: 1 });
    t.deepEqual(decodeFields((await store.get(other, record.id))!.fields), { b: 2 });
  });

  test('32 concurrent increments all land', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create();
    const results = await Promise.all(
      Array.from({ length: 32 }, () => store.patch(ns, record.id, [{ kind: 'incrementInt', field: 'n', by: 1 }])),
    );
    t.deepEqual(results.map((r) => r.record.version).sort((a, b) => a - b), Array.from({ length: 32 }, (_, i) => i + 2));
    const read = await store.get(ns, record.id);
    t.is(Number(unpack(read!.fields.get('n')!)), 32);
    t.is(read!.version, 33);
  });

  test('concurrent read-modify-write loops with expected versions retry on conflict and both land', async (t) => {
    const { store, ns, create } = await setup(t);
    const { record } = await create({ fields: new Map([['left', pack(0)], ['right', pack(0)]]) });
    let conflicts = 0;
    const loop = async (field: string, rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        for (;;) {
          const current = (await store.get(ns, record.id))!;
          const fields = new Map(current.fields);
          fields.set(field, pack((unpack(current.fields.get(field)!) as number) + 1));
          try {
            await store.put(ns, record.id, fields, { expectedVersion: current.version });
            break;
          } catch (error) {
            if (!(error instanceof SessionError) || error.code !== 'SESS_ERR_VERSION_CONFLICT') throw error;
            conflicts++;
          }
        }
      }
    };
    await Promise.all([loop('left', 10), loop('right', 10)]);
    const read = await store.get(ns, record.id);
    t.deepEqual(decodeFields(read!.fields), { left: 10, right: 10 });
    t.is(read!.version, 21);
    t.log(`${conflicts} conflicts retried`);
  });

  test('close is idempotent', async (t) => {
    const { store } = await setup(t);
    await store.close();
    await t.notThrowsAsync(store.close());
  });

  runIdempotencyContract(test, makeStore);
  runEdgeCaseContract(test, makeStore);
}
