// Issue 7, point 4: sessiond accepts only values every client can read. A raw gRPC client sends what
// the TypeScript client would not (an extension type, a 60,000-deep array, a non-str map key, bad
// UTF-8) through every path that stores a value; each is INVALID_ARGUMENT naming the field and op.
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { call, dec, enc, errorCode, rawStub, type RawStub } from '../helpers/grpc.ts';
import { startSessiond } from '../helpers/servers.ts';

const NS = 'shop';
const EXT_5 = Buffer.from([0xd4, 0x05, 0x01]);
const DEEP_60K = Buffer.concat([Buffer.alloc(60_000, 0x91), Buffer.from([0xc0])]);
const INT_KEY = Buffer.from([0x81, 0x01, 0x02]);
const BAD_UTF8 = Buffer.from([0xa2, 0xff, 0xfe]);

const REFUSED: Array<[string, Buffer, string]> = [
  ['ext type 5', EXT_5, 'extension type 5 (only the timestamp extension -1 is allowed)'],
  ['60k-deep array', DEEP_60K, 'nesting deeper than 64 levels, MAX_VALUE_DEPTH'],
  ['integer map key', INT_KEY, 'map key of type integer (map keys must be strings)'],
  ['invalid UTF-8', BAD_UTF8, 'a string that is not valid UTF-8 at byte 1'],
];

async function rejected(t: ExecutionContext, promise: Promise<unknown>, message: string): Promise<void> {
  const error = (await t.throwsAsync(promise)) as unknown as grpc.ServiceError;
  t.is(error.code, grpc.status.INVALID_ARGUMENT, error.details);
  t.is(errorCode(error), 'SESS_ERR_INVALID_ARGUMENT');
  t.is(error.details, message);
}

async function setup(t: ExecutionContext, store: 'memory' | 'redis' = 'memory'): Promise<{ stub: RawStub; id: string }> {
  const sessiond = await startSessiond(t, { store });
  const stub = rawStub(t, sessiond.address);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: NS, fields: { cart: enc(['sku-1']) } });
  return { stub, id: created.session!.id };
}

for (const [name, bytes, problem] of REFUSED) {
  test(`issue 7: Create, Put, Patch set and Patch append refuse a value with ${name}, naming the field and op`, async (t) => {
    const { stub, id } = await setup(t);
    const expected = (where: string): string => `${where}: expected one standard MessagePack value (${problem})`;
    await rejected(t, call(stub, 'Create', { namespace: NS, fields: { ok: enc(1), bad: bytes } }), expected('fields["bad"]'));
    await rejected(t, call(stub, 'Put', { namespace: NS, id, fields: { bad: bytes } }), expected('fields["bad"]'));
    await rejected(t, call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'x', set: enc(1) }, { field: 'bad', set: bytes }] }), expected('ops[1].set'));
    const appendProblem = name === '60k-deep array' ? 'nesting deeper than 63 levels; MAX_VALUE_DEPTH is 64 and the array adds one level' : problem;
    await rejected(t, call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'cart', append: bytes }] }), `ops[0].append: expected one standard MessagePack value (${appendProblem})`);
    // Nothing was stored by any of them.
    const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id });
    t.is(got.session!.version, 1);
    t.deepEqual(Object.keys(got.session!.fields), ['cart']);
  });
}

test('issue 7: the depth limit is exact: 64 levels are stored, 65 are refused; appending keeps the result within 64', async (t) => {
  const { stub, id } = await setup(t, 'redis');
  const nested = (depth: number): Buffer => Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0x01])]);
  await call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'deep', set: nested(64) }] });
  await rejected(t, call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'deep', set: nested(65) }] }), 'ops[0].set: expected one standard MessagePack value (nesting deeper than 64 levels, MAX_VALUE_DEPTH)');
  await call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'list', append: nested(63) }] });
  await rejected(t, call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'list', append: nested(64) }] }), 'ops[0].append: expected one standard MessagePack value (nesting deeper than 63 levels; MAX_VALUE_DEPTH is 64 and the array adds one level)');
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id });
  t.deepEqual(got.session!.fields.list, Buffer.concat([Buffer.from([0x91]), nested(63)]));
  t.deepEqual(got.session!.fields.deep, nested(64));
});

test('issue 7: timestamps (extension -1) and every other standard type are still accepted', async (t) => {
  const { stub, id } = await setup(t);
  const when = new Date(1_700_000_000_123);
  const value = { at: when, n: [1, -1, 2 ** 40, 0.5, null, true, 'é', Buffer.from([0xc1])], m: { a: { b: [] } } };
  await call(stub, 'Put', { namespace: NS, id, fields: { v: enc(value) } });
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id });
  t.deepEqual(dec(got.session!.fields.v), value);
});
