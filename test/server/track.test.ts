// Track (issue 8): the near cache's invalidation stream, end to end over gRPC against a real Redis.
// Every "nothing arrives" claim is proved by a later event on the same stream (events are ordered).
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { Redis } from 'ioredis';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { call, enc, errorCode, rawStub } from '../helpers/grpc.ts';
import { startOwnRedis } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';
import { openTrack } from './track-helpers.ts';

async function create(stub: ReturnType<typeof rawStub>, request: object = {}): Promise<SessionResponse__Output['session'] & object> {
  const reply = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop', fields: { cart: enc([]) }, ...request });
  return reply.session!;
}

function patch(stub: ReturnType<typeof rawStub>, id: string, value: unknown = 'sku'): Promise<SessionResponse__Output> {
  return call<object, SessionResponse__Output>(stub, 'Patch', { namespace: 'shop', id, ops: [{ field: 'cart', append: enc(value) }] });
}

for (const store of ['redis', 'memory'] as const) {
  test(`${store}: hold answers TRACKING with the current version; another client's change arrives as UPDATED with its commit time`, async (t) => {
    const sessiond = await startSessiond(t, { store });
    const stub = rawStub(t, sessiond.address);
    const other = rawStub(t, sessiond.address);
    const session = await create(stub);
    await patch(stub, session.id);
    const track = openTrack(t, stub);
    track.hold('shop', session.id);
    const tracking = await track.next({ kind: 'TRACKING' });
    t.like(tracking, { namespace: 'shop', id: session.id, version: 2 });
    t.true(tracking.expiresAtMs > tracking.nowMs, 'the expiry is ahead of the store clock');
    t.true(Math.abs(tracking.nowMs - Date.now()) < 60_000, 'now_ms is a Unix time in ms');

    const changed = await patch(other, session.id, 'sku-2');
    const updated = await track.next({ kind: 'UPDATED' });
    t.like(updated, { id: session.id, version: 3, expiresAtMs: changed.session!.expiresAtMs, changedAtMs: changed.session!.updatedAtMs });
  });

  test(`${store}: Delete, RevokeByOwner and Regenerate end tracking with DELETED`, async (t) => {
    const sessiond = await startSessiond(t, { store });
    const stub = rawStub(t, sessiond.address);
    const deleted = await create(stub);
    const revoked = await create(stub, { owner: 'alice' });
    const moved = await create(stub);
    const track = openTrack(t, stub);
    track.hold('shop', deleted.id, revoked.id, moved.id);
    await waitFor(() => track.events.filter((e) => e.kind === 'TRACKING').length === 3, 20_000, 'three TRACKING');

    await call(stub, 'Delete', { namespace: 'shop', id: deleted.id });
    await call(stub, 'RevokeByOwner', { namespace: 'shop', owner: 'alice' });
    const regenerated = await call<object, SessionResponse__Output>(stub, 'Regenerate', { namespace: 'shop', id: moved.id });
    t.like(await track.next({ kind: 'DELETED', id: deleted.id }), { version: 1 });
    t.like(await track.next({ kind: 'DELETED', id: revoked.id }), { version: 1 });
    t.like(await track.next({ kind: 'DELETED', id: moved.id }), { version: 1 });
    // The new id is not held: a change to it sends nothing, while a held id still reports.
    const witness = await create(stub);
    track.hold('shop', witness.id);
    await track.next({ kind: 'TRACKING', id: witness.id });
    await patch(stub, regenerated.session!.id);
    await patch(stub, witness.id);
    await track.next({ kind: 'UPDATED', id: witness.id });
    t.false(track.events.some((e) => e.id === regenerated.session!.id));
  });

  test(`${store}: hold of a missing id answers DELETED with version 0; release stops events`, async (t) => {
    const sessiond = await startSessiond(t, { store });
    const stub = rawStub(t, sessiond.address);
    const track = openTrack(t, stub);
    const missing = 'A'.repeat(43);
    track.hold('shop', missing);
    t.like(await track.next({ id: missing }), { kind: 'DELETED', version: 0 });

    const released = await create(stub);
    const kept = await create(stub);
    track.hold('shop', released.id, kept.id);
    await waitFor(() => track.events.filter((e) => e.kind === 'TRACKING').length === 2, 20_000, 'two TRACKING');
    track.release('shop', released.id, 'E'.repeat(43)); // releasing an id not held is no error
    // The release is applied before the next message's hold: once the witness is TRACKING, it is in effect.
    const witness = await create(stub);
    track.hold('shop', witness.id);
    await track.next({ kind: 'TRACKING', id: witness.id });
    await patch(stub, released.id);
    await patch(stub, kept.id);
    await track.next({ kind: 'UPDATED', id: kept.id });
    t.deepEqual(track.events.filter((e) => e.id === released.id).map((e) => e.kind), ['TRACKING']);
  });
}

test('an expired held session is reported EXPIRED (sessiond re-reads it once its expiry passes)', async (t) => {
  const sessiond = await startSessiond(t);
  const stub = rawStub(t, sessiond.address);
  const session = await create(stub, { ttlMs: 2000 });
  const track = openTrack(t, stub);
  track.hold('shop', session.id);
  const tracking = await track.next({ kind: 'TRACKING' });
  const expired = await track.next({ kind: 'EXPIRED' });
  t.like(expired, { id: session.id, version: 1, expiresAtMs: tracking.expiresAtMs });
  t.true(expired.nowMs >= tracking.expiresAtMs, 'reported after the expiry, on the store clock');
});

test('a touched session is not reported EXPIRED at its old expiry', async (t) => {
  const sessiond = await startSessiond(t);
  const stub = rawStub(t, sessiond.address);
  const session = await create(stub, { ttlMs: 2000 });
  const track = openTrack(t, stub);
  track.hold('shop', session.id);
  const tracking = await track.next({ kind: 'TRACKING' });
  await call(stub, 'Touch', { namespace: 'shop', id: session.id, ttlMs: 60_000 });
  // Past the old expiry and the queue's sweep, a re-hold answers with the extended expiry and no EXPIRED came.
  await waitFor(async () => Date.now() > tracking.expiresAtMs + 3000, 20_000, 'the old expiry to pass');
  const from = track.events.length;
  track.hold('shop', session.id);
  const again = await track.next({ kind: 'TRACKING' }, from);
  t.true(again.expiresAtMs > tracking.expiresAtMs);
  t.false(track.events.some((e) => e.kind === 'EXPIRED'));
});

test('losing the Redis pub/sub connection sends RESYNC on every stream at once, and events flow again after re-holding', async (t) => {
  const redis = await startOwnRedis(); // its own: CLIENT KILL TYPE pubsub cuts every subscriber on it
  t.teardown(() => redis.stop());
  const sessiond = await startSessiond(t, { redis });
  const stub = rawStub(t, sessiond.address);
  const a = await create(stub);
  const b = await create(stub);
  const first = openTrack(t, stub);
  const second = openTrack(t, rawStub(t, sessiond.address));
  first.hold('shop', a.id);
  second.hold('shop', b.id);
  await first.next({ kind: 'TRACKING' });
  await second.next({ kind: 'TRACKING' });

  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  t.true(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')) >= 1);
  t.like(await first.next({ kind: 'RESYNC' }), { id: '', version: 0 });
  t.like(await second.next({ kind: 'RESYNC' }), { id: '', version: 0 });
  // Changes during the gap, and a re-hold sent at once: it is answered once the feed is back, with
  // the version after the gap's changes.
  await patch(stub, a.id);
  await patch(stub, b.id);
  const from = first.events.length;
  first.hold('shop', a.id);
  second.hold('shop', b.id);
  t.like(await first.next({ kind: 'TRACKING' }, from), { id: a.id, version: 2 });
  t.like(await second.next({ kind: 'TRACKING', version: 2 }), { id: b.id });

  await patch(stub, a.id);
  await patch(stub, b.id);
  t.like(await first.next({ kind: 'UPDATED', version: 3 }), { id: a.id });
  t.like(await second.next({ kind: 'UPDATED', version: 3 }), { id: b.id });
});

test('a pub/sub connection that stops answering is caught by its heartbeat: RESYNC; a hold made meanwhile is answered once Redis answers', async (t) => {
  const redis = await startOwnRedis();
  t.teardown(() => redis.stop());
  const sessiond = await startSessiond(t, { redis, config: { commandTimeoutMs: 1000 } });
  const stub = rawStub(t, sessiond.address);
  const a = await create(stub);
  const track = openTrack(t, stub);
  track.hold('shop', a.id);
  await track.next({ kind: 'TRACKING' });
  redis.pause!(true); // the connection stays open; only the heartbeat can tell
  t.teardown(() => redis.pause!(false));
  await track.next({ kind: 'RESYNC' });
  // A hold while the feed is down waits for it (no error), and is answered once Redis answers again.
  const from = track.events.length;
  track.hold('shop', a.id);
  redis.pause!(false);
  t.like(await track.next({ kind: 'TRACKING' }, from), { id: a.id, version: 1 });
  await patch(stub, a.id);
  t.like(await track.next({ kind: 'UPDATED' }), { id: a.id, version: 2 });
});

test('Track enforces namespace tokens per message', async (t) => {
  const token = 'shop-token-0123456789';
  const sessiond = await startSessiond(t, { store: 'memory', config: { namespaceTokens: { [token]: ['shop'] } } });
  const stub = rawStub(t, sessiond.address);
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const session = (await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop' }, { metadata })).session!;

  const allowed = openTrack(t, stub, metadata);
  allowed.hold('shop', session.id);
  await allowed.next({ kind: 'TRACKING' });
  allowed.hold('admin', session.id);
  const denied = await allowed.failure();
  t.is(denied.code, grpc.status.PERMISSION_DENIED);
  t.is(errorCode(denied), 'SESS_ERR_PERMISSION_DENIED');

  const anonymous = openTrack(t, stub);
  anonymous.hold('shop', session.id);
  const unauthenticated = await anonymous.failure();
  t.is(unauthenticated.code, grpc.status.UNAUTHENTICATED);
  t.false(anonymous.events.some((e) => e.kind === 'TRACKING'));
});

test('holding more ids than maxTrackedIds ends the stream naming the limit; a malformed id names its place', async (t) => {
  const sessiond = await startSessiond(t, { store: 'memory', config: { maxTrackedIds: 2 } });
  const stub = rawStub(t, sessiond.address);
  const ids = [await create(stub), await create(stub), await create(stub)].map((s) => s.id);
  const track = openTrack(t, stub);
  track.hold('shop', ids[0]!, ids[1]!);
  await waitFor(() => track.events.length === 2, 20_000, 'two TRACKING');
  track.hold('shop', ids[0]!); // already held: does not count twice
  await waitFor(() => track.events.length === 3, 20_000, 'the re-check');
  track.hold('shop', ids[2]!);
  const error = await track.failure();
  t.is(error.code, grpc.status.RESOURCE_EXHAUSTED);
  t.is(errorCode(error), 'SESS_ERR_LIMIT_EXCEEDED');
  t.regex(error.details, /would hold 3 ids, more than maxTrackedIds \(2\)/);

  const bad = openTrack(t, stub);
  bad.hold('shop', ids[0]!, 'not-an-id');
  const invalid = await bad.failure();
  t.is(invalid.code, grpc.status.INVALID_ARGUMENT);
  t.regex(invalid.details, /^hold\[1\]: expected a session id/);
});

test('metrics count open track streams, held ids and events by kind', async (t) => {
  const sessiond = await startSessiond(t, { store: 'memory', config: { metricsListen: '127.0.0.1:0' } });
  const stub = rawStub(t, sessiond.address);
  const a = await create(stub);
  const track = openTrack(t, stub);
  track.hold('shop', a.id, 'A'.repeat(43));
  await track.next({ kind: 'TRACKING' });
  await track.next({ kind: 'DELETED' });
  await patch(stub, a.id);
  await track.next({ kind: 'UPDATED' });
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${sessiond.server.metricsPort}/metrics`)).text();
  const text = await metrics();
  t.regex(text, /^stickless_sessiond_track_streams 1$/m);
  t.regex(text, /^stickless_sessiond_track_held_ids 1$/m);
  t.regex(text, /^stickless_sessiond_track_events_total\{kind="TRACKING"\} 1$/m);
  t.regex(text, /^stickless_sessiond_track_events_total\{kind="DELETED"\} 1$/m);
  t.regex(text, /^stickless_sessiond_track_events_total\{kind="UPDATED"\} 1$/m);
  track.stream.cancel();
  await waitFor(async () => /^stickless_sessiond_track_streams 0$/m.test(await metrics()) && /^stickless_sessiond_track_held_ids 0$/m.test(await metrics()), 20_000, 'the stream to be counted out');
  t.pass();
});

test('a graceful stop of sessiond ends Track streams with status OK', async (t) => {
  const sessiond = await startSessiond(t, { store: 'memory' });
  const stub = rawStub(t, sessiond.address);
  const track = openTrack(t, stub);
  track.hold('shop', (await create(stub)).id);
  await track.next({ kind: 'TRACKING' });
  await sessiond.server.close();
  t.is((await track.status()).code, grpc.status.OK);
});
