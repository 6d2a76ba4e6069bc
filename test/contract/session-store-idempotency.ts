// Idempotency records in the SessionStore contract (issue 7): a repeat answers with the session as it
// is now, and the records of a session go with it (Delete, RevokeByOwner, Regenerate's old id,
// expiry), so a repeat after that is a new call. Runs against every store, like session-store.ts.
import type { TestFn } from 'ava';
import { pack, unpack } from 'msgpackr';
import { generateSessionId } from '../../server/session-id.ts';
import type { FieldOp } from '../../server/session-store.ts';
import { decodeFields, rejects, setupStore, summary, until, type MakeStore } from './helpers.ts';

export function runIdempotencyContract(test: TestFn, makeStore: MakeStore): void {
  const add: FieldOp[] = [{ kind: 'incrementInt', field: 'n', by: 1 }];

  test('issue 7: a create replayed after the session changed answers with its id and its fields now', async (t) => {
    const { store, ns, create } = await setupStore(t, makeStore);
    const first = await create({ fields: new Map([['a', pack(1)]]), idempotencyKey: 'create-1' });
    await store.patch(ns, first.record.id, [{ kind: 'set', field: 'b', value: pack('later') }]);
    const repeat = await create({ idempotencyKey: 'create-1' });
    t.true(repeat.replayed);
    t.is(repeat.record.id, first.record.id);
    t.is(repeat.record.version, 2);
    t.deepEqual(decodeFields(repeat.record.fields), { a: 1, b: 'later' });
    t.deepEqual(summary(repeat.record), summary((await store.get(ns, first.record.id))!));
  });

  test('issue 7: after Delete a repeated patch or put fails with NOT_FOUND and a repeated create makes a new session', async (t) => {
    const { store, ns, create } = await setupStore(t, makeStore);
    const created = await create({ idempotencyKey: 'create-1' });
    const id = created.record.id;
    await store.patch(ns, id, add, { idempotencyKey: 'p1' });
    await store.put(ns, id, new Map([['x', pack(1)]]), { idempotencyKey: 'put-1' });
    t.true(await store.delete(ns, id));
    await rejects(t, store.patch(ns, id, add, { idempotencyKey: 'p1' }), 'SESS_ERR_NOT_FOUND');
    await rejects(t, store.put(ns, id, new Map(), { idempotencyKey: 'put-1' }), 'SESS_ERR_NOT_FOUND');
    const again = await create({ idempotencyKey: 'create-1' });
    t.false(again.replayed);
    t.not(again.record.id, id);
    t.is(await store.get(ns, id), undefined);
  });

  test('issue 7: a key used before Delete does not replay on the id created again', async (t) => {
    const { store, ns, create } = await setupStore(t, makeStore);
    const id = generateSessionId();
    await create({ id, idempotencyKey: 'create-1' });
    await store.patch(ns, id, add, { idempotencyKey: 'p1' });
    t.true(await store.delete(ns, id));
    const reborn = await create({ id });
    t.is(reborn.record.version, 3);
    const patched = await store.patch(ns, id, add, { idempotencyKey: 'p1' });
    t.false(patched.replayed);
    t.is(patched.record.version, 4);
    t.is(Number(unpack(patched.record.fields.get('n')!)), 1);
  });

  test('issue 7: RevokeByOwner removes the records of the revoked sessions', async (t) => {
    const { store, ns, create } = await setupStore(t, makeStore);
    const revoked = await create({ owner: 'alice', idempotencyKey: 'login-1' });
    await store.patch(ns, revoked.record.id, add, { idempotencyKey: 'p1' });
    t.is(await store.revokeByOwner(ns, 'alice', []), 1);
    await rejects(t, store.patch(ns, revoked.record.id, add, { idempotencyKey: 'p1' }), 'SESS_ERR_NOT_FOUND');
    const again = await create({ owner: 'alice', idempotencyKey: 'login-1' });
    t.false(again.replayed);
    t.not(again.record.id, revoked.record.id);
    t.is(await store.get(ns, revoked.record.id), undefined);
  });

  test('issue 7: Regenerate drops the old id\'s records; its own record follows the new session until that is deleted', async (t) => {
    const { store, ns, create } = await setupStore(t, makeStore);
    const oldId = (await create()).record.id;
    await store.patch(ns, oldId, add, { idempotencyKey: 'p1' });
    const newId = generateSessionId();
    const moved = await store.regenerate(ns, oldId, newId, { idempotencyKey: 'login' });
    t.false(moved.replayed);
    await rejects(t, store.patch(ns, oldId, add, { idempotencyKey: 'p1' }), 'SESS_ERR_NOT_FOUND');
    const changed = await store.patch(ns, newId, add);
    const repeat = await store.regenerate(ns, oldId, generateSessionId(), { idempotencyKey: 'login' });
    t.true(repeat.replayed);
    t.is(repeat.record.id, newId);
    t.deepEqual(summary(repeat.record), summary(changed.record));
    t.true(await store.delete(ns, newId));
    await rejects(t, store.regenerate(ns, oldId, generateSessionId(), { idempotencyKey: 'login' }), 'SESS_ERR_NOT_FOUND');
  });

  test('issue 7: once a session expired its records answer no more', async (t) => {
    const { store, ns, create } = await setupStore(t, makeStore);
    const id = generateSessionId();
    await create({ id, ttlMs: 3000, idempotencyKey: 'create-1' });
    await store.patch(ns, id, add, { idempotencyKey: 'p1' });
    await until(t, async () => (await store.get(ns, id)) === undefined, 'the session expires');
    await rejects(t, store.patch(ns, id, add, { idempotencyKey: 'p1' }), 'SESS_ERR_NOT_FOUND');
    const otherId = generateSessionId();
    const again = await create({ id: otherId, idempotencyKey: 'create-1' });
    t.false(again.replayed);
    t.is(again.record.id, otherId);
    // The id created again starts without the records of its earlier life.
    const reborn = await create({ id });
    const patched = await store.patch(ns, id, add, { idempotencyKey: 'p1' });
    t.false(patched.replayed);
    t.is(patched.record.version, reborn.record.version + 1);
  });
}
