// Every RPC end to end over real gRPC against a real sessiond on a real Redis, through the raw
// generated stub: statuses, stable codes in trailers, versions, TTLs, idempotency and Watch.
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import type { TouchResponse__Output } from '../../proto/generated/stickless/session/v1/TouchResponse.ts';
import type { WatchEvent__Output } from '../../proto/generated/stickless/session/v1/WatchEvent.ts';
import type { ListByOwnerResponse__Output } from '../../proto/generated/stickless/session/v1/ListByOwnerResponse.ts';
import { generateSessionId } from '../../server/session-id.ts';
import { call, dec, enc, errorCode, rawStub, type RawStub } from '../helpers/grpc.ts';
import { keysByPrefix, startRedis, type RedisHandle } from '../helpers/redis.ts';
import { startSessiond, waitFor, type StartedSessiond } from '../helpers/servers.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const NS = 'shop';

async function setup(t: ExecutionContext, config: Parameters<typeof startSessiond>[1] = {}): Promise<{ sessiond: StartedSessiond; stub: RawStub }> {
  const sessiond = await startSessiond(t, { redis, ...config });
  return { sessiond, stub: rawStub(t, sessiond.address) };
}

async function create(stub: RawStub, fields: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const encoded = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, enc(v)]));
  const reply = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: NS, fields: encoded, ...extra });
  return reply.session!;
}

async function rejects(t: ExecutionContext, promise: Promise<unknown>, status: grpc.status, code: string): Promise<grpc.ServiceError> {
  const error = (await t.throwsAsync(promise)) as unknown as grpc.ServiceError;
  t.is(error.code, status, error.details);
  t.is(errorCode(error), code);
  return error;
}

test('Create then Get returns the fields and metadata; Get of an unknown id is found=false', async (t) => {
  const { stub } = await setup(t);
  const session = await create(stub, { cart: ['sku-1'], user: { name: 'Ada' } }, { owner: 'ada', ttlMs: 60_000 });
  t.is(session.id.length, 43);
  t.is(session.version, 1);
  t.is(session.owner, 'ada');
  t.true(session.expiresAtMs - session.createdAtMs <= 60_000 && session.expiresAtMs - session.createdAtMs >= 59_000);
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: session.id });
  t.true(got.found);
  t.deepEqual(dec(got.session!.fields.cart), ['sku-1']);
  t.deepEqual(dec(got.session!.fields.user), { name: 'Ada' });
  const some = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: session.id, fields: ['cart', 'nope'] });
  t.deepEqual(Object.keys(some.session!.fields), ['cart']);
  const missing = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: 'A'.repeat(42) + 'A' });
  t.false(missing.found);
  const otherNamespace = await call<object, GetResponse__Output>(stub, 'Get', { namespace: 'other', id: session.id });
  t.false(otherNamespace.found);
});

test('Put replaces all fields and bumps the version; a stale expected version is ABORTED with the current version', async (t) => {
  const { stub } = await setup(t);
  const session = await create(stub, { a: 1, b: 2 });
  const put = await call<object, SessionResponse__Output>(stub, 'Put', {
    namespace: NS, id: session.id, fields: { c: enc(3) }, options: { expectedVersion: 1 },
  });
  t.is(put.session!.version, 2);
  t.deepEqual(Object.keys(put.session!.fields), ['c']);
  const error = await rejects(t, call(stub, 'Put', { namespace: NS, id: session.id, fields: {}, options: { expectedVersion: 1 } }), grpc.status.ABORTED, 'SESS_ERR_VERSION_CONFLICT');
  t.is(error.metadata.get('stickless-current-version')[0], '2');
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: session.id });
  t.deepEqual(dec(got.session!.fields.c), 3, 'the rejected Put changed nothing');
});

test('Patch applies set, delete, increments and append atomically, and a failing op applies nothing', async (t) => {
  const { stub } = await setup(t);
  const session = await create(stub, { gone: true, name: 'x' });
  const patched = await call<object, SessionResponse__Output>(stub, 'Patch', {
    namespace: NS, id: session.id,
    ops: [
      { field: 'name', set: enc('y') }, { field: 'gone', delete: {} }, { field: 'n', incrementInt: 5 },
      { field: 'n', incrementInt: -2 }, { field: 'score', incrementFloat: 0.25 }, { field: 'cart', append: enc({ sku: 1 }) },
      { field: 'cart', append: enc('sku-2') },
    ],
  });
  const fields = patched.session!.fields;
  t.is(patched.session!.version, 2);
  t.deepEqual(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, dec(v)])), { name: 'y', n: 3, score: 0.25, cart: [{ sku: 1 }, 'sku-2'] });
  await rejects(t, call(stub, 'Patch', {
    namespace: NS, id: session.id, ops: [{ field: 'n', incrementInt: 1 }, { field: 'name', incrementInt: 1 }],
  }), grpc.status.FAILED_PRECONDITION, 'SESS_ERR_WRONG_TYPE');
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: session.id });
  t.is(got.session!.version, 2);
  t.is(dec(got.session!.fields.n), 3);
});

test('malformed ids, bad operations and bad values are INVALID_ARGUMENT naming the field', async (t) => {
  const { stub } = await setup(t);
  const session = await create(stub);
  let error = await rejects(t, call(stub, 'Get', { namespace: NS, id: 'not-an-id' }), grpc.status.INVALID_ARGUMENT, 'SESS_ERR_INVALID_ID');
  t.regex(error.details, /^id:/);
  error = await rejects(t, call(stub, 'Patch', { namespace: NS, id: session.id, ops: [{ field: 'x' }] }), grpc.status.INVALID_ARGUMENT, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error.details, /ops\[0\]/);
  error = await rejects(t, call(stub, 'Put', { namespace: NS, id: session.id, fields: { x: Buffer.from([0x92, 0x01]) } }), grpc.status.INVALID_ARGUMENT, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error.details, /fields\["x"\].*truncated/);
  error = await rejects(t, call(stub, 'Put', { namespace: NS, id: session.id, fields: { _v: enc(1) } }), grpc.status.INVALID_ARGUMENT, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error.details, /reserved/);
  error = await rejects(t, call(stub, 'Create', { namespace: 'bad namespace!' }), grpc.status.INVALID_ARGUMENT, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error.details, /^namespace:/);
  error = await rejects(t, call(stub, 'Touch', { namespace: NS, id: session.id, ttlMs: -5 }), grpc.status.INVALID_ARGUMENT, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error.details, /ttl_ms/);
  await rejects(t, call(stub, 'Put', { namespace: NS, id: generateSessionId(), fields: {} }), grpc.status.NOT_FOUND, 'SESS_ERR_NOT_FOUND');
});

test('oversize requests are RESOURCE_EXHAUSTED naming the limit and the size, and change nothing', async (t) => {
  const { stub } = await setup(t, { config: { maxSessionBytes: 3000, maxFieldBytes: 1024, maxFields: 4 } });
  const session = await create(stub, { a: 'x' });
  let error = await rejects(t, call(stub, 'Put', { namespace: NS, id: session.id, fields: { big: enc('y'.repeat(2000)) } }), grpc.status.RESOURCE_EXHAUSTED, 'SESS_ERR_LIMIT_EXCEEDED');
  t.regex(error.details, /maxFieldBytes \(1024\)/);
  t.regex(error.details, /2003 bytes/);
  const fiveFields = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k) => [k, enc(1)]));
  error = await rejects(t, call(stub, 'Put', { namespace: NS, id: session.id, fields: fiveFields }), grpc.status.RESOURCE_EXHAUSTED, 'SESS_ERR_LIMIT_EXCEEDED');
  t.regex(error.details, /maxFields \(4\)/);
  const chunk = enc('z'.repeat(900));
  const ops = ['p', 'q', 'r'].map((field) => ({ field, set: chunk }));
  await call(stub, 'Patch', { namespace: NS, id: session.id, ops });
  error = await rejects(t, call(stub, 'Patch', { namespace: NS, id: session.id, ops: [{ field: 'a', set: chunk }] }), grpc.status.RESOURCE_EXHAUSTED, 'SESS_ERR_LIMIT_EXCEEDED');
  t.regex(error.details, /session size 3616 bytes exceeds maxSessionBytes \(3000\)/);
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: session.id });
  t.is(got.session!.version, 2);
  t.is(dec(got.session!.fields.a), 'x');
});

test('a retried mutation with the same idempotency key applies once and says it was replayed', async (t) => {
  const { stub } = await setup(t);
  const session = await create(stub);
  const request = { namespace: NS, id: session.id, ops: [{ field: 'items', incrementInt: 1 }], options: { idempotencyKey: 'add-to-cart-1' } };
  const first = await call<object, SessionResponse__Output>(stub, 'Patch', request);
  const second = await call<object, SessionResponse__Output>(stub, 'Patch', request);
  t.false(first.replayed);
  t.true(second.replayed);
  t.is(second.session!.version, first.session!.version);
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: session.id });
  t.is(dec(got.session!.fields.items), 1);
  const createRequest = { namespace: NS, idempotencyKey: 'create-once' };
  const a = await call<object, SessionResponse__Output>(stub, 'Create', createRequest);
  const b = await call<object, SessionResponse__Output>(stub, 'Create', createRequest);
  t.is(b.session!.id, a.session!.id);
  t.true(b.replayed);
});

test('64 concurrent clients x 25 increments of one field end at exactly 1600', async (t) => {
  const { sessiond } = await setup(t);
  const stubs = Array.from({ length: 64 }, () => rawStub(t, sessiond.address));
  const session = await create(stubs[0]!);
  await Promise.all(stubs.map(async (stub) => {
    for (let i = 0; i < 25; i++) {
      await call(stub, 'Patch', { namespace: NS, id: session.id, ops: [{ field: 'count', incrementInt: 1 }] }, { deadlineMs: 20_000 });
    }
  }));
  const got = await call<object, GetResponse__Output>(stubs[0]!, 'Get', { namespace: NS, id: session.id });
  t.is(dec(got.session!.fields.count), 1600);
  t.is(got.session!.version, 1601);
});

test('a session expires after its TTL; Get with slide and Touch push the expiry out', async (t) => {
  const { stub } = await setup(t);
  const short = await create(stub, {}, { ttlMs: 300 });
  await waitFor(async () => !(await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: short.id })).found, 30_000, 'expiry');
  await rejects(t, call(stub, 'Patch', { namespace: NS, id: short.id, ops: [{ field: 'a', delete: {} }] }), grpc.status.NOT_FOUND, 'SESS_ERR_NOT_FOUND');

  const sliding = await create(stub, {}, { ttlMs: 10_000 });
  const touched = await call<object, TouchResponse__Output>(stub, 'Touch', { namespace: NS, id: sliding.id, ttlMs: 40_000 });
  t.true(touched.found);
  t.true(touched.expiresAtMs >= sliding.expiresAtMs + 25_000);
  const slid = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: sliding.id, slide: true });
  t.true(slid.session!.expiresAtMs >= sliding.expiresAtMs, 'slide re-arms by the session ttl');
  t.is(slid.session!.version, 1, 'reads and touches do not change the version');
  const gone = await call<object, TouchResponse__Output>(stub, 'Touch', { namespace: NS, id: short.id });
  t.false(gone.found);
});

test('the absolute lifetime caps every extension', async (t) => {
  const { stub } = await setup(t, { config: { maxLifetimeMs: 5000, defaultTtlMs: 1000 } });
  const session = await create(stub, {}, { ttlMs: 60_000 });
  t.true(session.expiresAtMs <= session.createdAtMs + 5000);
  const touched = await call<object, TouchResponse__Output>(stub, 'Touch', { namespace: NS, id: session.id, ttlMs: 60_000 });
  t.true(touched.expiresAtMs <= session.createdAtMs + 5000);
});

test('every Redis key sessiond writes has a TTL', async (t) => {
  const { stub, sessiond } = await setup(t);
  const session = await create(stub, { a: 1 }, { owner: 'u', idempotencyKey: 'c1' });
  await call(stub, 'Patch', { namespace: NS, id: session.id, ops: [{ field: 'a', incrementInt: 1 }], options: { idempotencyKey: 'p1' } });
  const moved = await call<object, SessionResponse__Output>(stub, 'Regenerate', { namespace: NS, id: session.id, options: { idempotencyKey: 'r1' } });
  const other = await create(stub, {}, { owner: 'u' });
  await call(stub, 'Delete', { namespace: NS, id: other.id });
  const client = new Redis(redis.url);
  t.teardown(() => client.disconnect());
  const keys = await keysByPrefix(client, sessiond.keyPrefix);
  t.true(keys.length >= 6);
  for (const key of keys) t.true((await client.pttl(key)) > 0, key);
  t.false(keys.some((key) => key.includes(moved.session!.id) || key.includes(session.id) || key.includes(other.id)));
});

test('Regenerate moves the data to a new id and the old id is NOT_FOUND', async (t) => {
  const { stub } = await setup(t);
  const session = await create(stub, { cart: ['a'] }, { owner: 'guest' });
  const moved = await call<object, SessionResponse__Output>(stub, 'Regenerate', { namespace: NS, id: session.id, owner: 'ada' });
  t.not(moved.session!.id, session.id);
  t.is(moved.session!.version, 2);
  t.is(moved.session!.owner, 'ada');
  t.deepEqual(dec(moved.session!.fields.cart), ['a']);
  t.false((await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: session.id })).found);
  await rejects(t, call(stub, 'Patch', { namespace: NS, id: session.id, ops: [{ field: 'x', delete: {} }] }), grpc.status.NOT_FOUND, 'SESS_ERR_NOT_FOUND');
  await rejects(t, call(stub, 'Regenerate', { namespace: NS, id: session.id }), grpc.status.NOT_FOUND, 'SESS_ERR_NOT_FOUND');
});

test('ListByOwner shows handles, not ids, and RevokeByOwner deletes one or all sessions of the owner', async (t) => {
  const { stub } = await setup(t);
  const a = await create(stub, {}, { owner: 'ada' });
  const b = await create(stub, {}, { owner: 'ada' });
  const c = await create(stub, {}, { owner: 'ada' });
  const bob = await create(stub, {}, { owner: 'bob' });
  const listed = await call<object, ListByOwnerResponse__Output>(stub, 'ListByOwner', { namespace: NS, owner: 'ada' });
  t.is(listed.sessions.length, 3);
  for (const summary of listed.sessions) t.false([a.id, b.id, c.id].includes(summary.handle));
  const first = listed.sessions[0]!;
  const one = await call<object, { revoked: number }>(stub, 'RevokeByOwner', { namespace: NS, owner: 'ada', handles: [first.handle] });
  t.is(one.revoked, 1);
  t.false((await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: a.id })).found, 'the oldest (first listed) is gone');
  const rest = await call<object, { revoked: number }>(stub, 'RevokeByOwner', { namespace: NS, owner: 'ada' });
  t.is(rest.revoked, 2);
  for (const session of [b, c]) t.false((await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: session.id })).found);
  t.true((await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id: bob.id })).found, 'other owners keep theirs');
  const after = await call<object, ListByOwnerResponse__Output>(stub, 'ListByOwner', { namespace: NS, owner: 'ada' });
  t.deepEqual(after.sessions, []);
});

function collectWatch(t: ExecutionContext, stub: RawStub, id: string): { events: WatchEvent__Output[]; ended: Promise<grpc.StatusObject> } {
  const stream = stub.Watch({ namespace: NS, id }, { deadline: Date.now() + 30_000 });
  t.teardown(() => stream.cancel());
  const events: WatchEvent__Output[] = [];
  stream.on('data', (event: WatchEvent__Output) => events.push(event));
  stream.on('error', () => {});
  const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  return { events, ended };
}

test('Watch sends a snapshot, then every change in version order, and ends with DELETED', async (t) => {
  const { stub } = await setup(t);
  const session = await create(stub, { a: 1 });
  const { events, ended } = collectWatch(t, stub, session.id);
  await waitFor(() => events.length >= 1, 30_000, 'snapshot');
  t.like(events[0], { kind: 'SNAPSHOT', version: 1, fields: ['a'] });
  const writers = [0, 1].map(async (w) => {
    for (let i = 0; i < 10; i++) await call(stub, 'Patch', { namespace: NS, id: session.id, ops: [{ field: `w${w}`, incrementInt: 1 }] });
  });
  await Promise.all(writers);
  await call(stub, 'Delete', { namespace: NS, id: session.id });
  const status = await ended;
  t.is(status.code, grpc.status.OK);
  const versions = events.slice(1, -1).map((e) => e.version);
  t.deepEqual(versions, Array.from({ length: 20 }, (_, i) => i + 2), 'every version once, in order');
  t.true(events.slice(1, -1).every((e) => e.kind === 'UPDATED' && e.fields.length === 1));
  t.like(events.at(-1), { kind: 'DELETED', version: 21 });
});

test('Watch reports EXPIRED when the session times out, and DELETED at once for an unknown id', async (t) => {
  const { stub } = await setup(t);
  // 3 s, not less: on a busy machine a shorter-lived session can expire before the watch starts
  // (then the first event is DELETED, correctly, and the test would prove nothing about EXPIRED).
  const session = await create(stub, {}, { ttlMs: 3000 });
  const watch = collectWatch(t, stub, session.id);
  await watch.ended;
  t.deepEqual(watch.events.map((e) => e.kind), ['SNAPSHOT', 'EXPIRED']);
  const unknown = collectWatch(t, stub, generateSessionId());
  await unknown.ended;
  t.deepEqual(unknown.events.map((e) => e.kind), ['DELETED']);
});

test('with namespace tokens, calls need a bearer token that grants the namespace', async (t) => {
  const token = 'shop-token-0123456789';
  const { stub } = await setup(t, { config: { namespaceTokens: { [token]: [NS] } } });
  await rejects(t, call(stub, 'Create', { namespace: NS }), grpc.status.UNAUTHENTICATED, 'SESS_ERR_UNAUTHENTICATED');
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: NS }, { metadata });
  t.is(created.session!.version, 1);
  await rejects(t, call(stub, 'Create', { namespace: 'admin' }, { metadata }), grpc.status.PERMISSION_DENIED, 'SESS_ERR_PERMISSION_DENIED');
});
