// GetRequest.min_version (issue 8): a Get never answers with a copy older than the caller's version
// token. When the store itself holds less (a Redis failover lost writes the caller saw), the answer
// is FAILED_PRECONDITION / SESS_ERR_VERSION_BEHIND with the stored version, never the older data.
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { Redis } from 'ioredis';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { sessionHandle } from '../../server/session-id.ts';
import { call, dec, enc, errorCode, rawStub, type RawStub } from '../helpers/grpc.ts';
import { freePort, startRedisProcess } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';

const get = (stub: RawStub, id: string, minVersion: number): Promise<GetResponse__Output> =>
  call<object, GetResponse__Output>(stub, 'Get', { namespace: 'shop', id, minVersion });

async function addToCart(stub: RawStub, id: string, sku: string): Promise<number> {
  const reply = await call<object, SessionResponse__Output>(stub, 'Patch', { namespace: 'shop', id, ops: [{ field: 'cart', append: enc(sku) }] });
  return reply.session!.version;
}

for (const store of ['redis', 'memory'] as const) {
  test(`${store}: Get with min_version below or at the stored version answers; above it is VERSION_BEHIND with the stored version`, async (t) => {
    const sessiond = await startSessiond(t, { store });
    const stub = rawStub(t, sessiond.address);
    const id = (await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop' })).session!.id;
    t.is(await addToCart(stub, id, 'sku-1'), 2);
    t.like((await get(stub, id, 1)).session, { version: 2 });
    t.like((await get(stub, id, 2)).session, { version: 2 });
    const error = (await t.throwsAsync(get(stub, id, 3))) as unknown as grpc.ServiceError;
    t.is(error.code, grpc.status.FAILED_PRECONDITION);
    t.is(errorCode(error), 'SESS_ERR_VERSION_BEHIND');
    t.is(error.metadata.get('stickless-current-version')[0], '2');
    t.regex(error.details, /min_version 3 is above the stored version 2/);
    // Absence is still an answer, whatever the token.
    t.deepEqual(await get(stub, 'A'.repeat(43), 5), { found: false, session: null });
  });
}

test('after a failover that lost acknowledged writes, Get with the last seen version is VERSION_BEHIND, never the older cart', async (t) => {
  const primary = await startRedisProcess(['--repl-diskless-sync-delay', '0']);
  t.teardown(() => primary.stop());
  const replica = await startRedisProcess(['--replicaof', '127.0.0.1', String(primary.port)]);
  t.teardown(() => replica.stop());
  const replicaClient = new Redis(replica.url, { maxRetriesPerRequest: 0 });
  replicaClient.on('error', () => {});
  t.teardown(() => replicaClient.disconnect());

  const before = await startSessiond(t, { redis: primary });
  const stub = rawStub(t, before.address);
  const id = (await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop' })).session!.id;
  await addToCart(stub, id, 'sku-1');
  const key = `${before.keyPrefix}s:{${sessionHandle('shop', id)}}`;
  await waitFor(async () => (await replicaClient.hget(key, '_v')) === '2', 20_000, 'the replica to hold version 2');

  // Replication breaks (the replica follows a primary that does not exist, keeping its copy; a frozen
  // replica would still find the writes in its socket buffer when thawed), the primary acknowledges
  // two more adds, then dies (kill -9), and the replica that missed them is promoted.
  await replicaClient.call('REPLICAOF', '127.0.0.1', String(await freePort()));
  await addToCart(stub, id, 'sku-2');
  const token = await addToCart(stub, id, 'sku-3');
  t.is(token, 4);
  await primary.kill();
  await replicaClient.call('REPLICAOF', 'NO', 'ONE');

  // sessiond now talks to the promoted replica (here: restarted on its address, same key prefix).
  const after = await startSessiond(t, { redis: replica, config: { keyPrefix: before.keyPrefix } });
  const promoted = rawStub(t, after.address);
  const error = (await t.throwsAsync(get(promoted, id, token))) as unknown as grpc.ServiceError;
  t.is(errorCode(error), 'SESS_ERR_VERSION_BEHIND');
  t.is(error.metadata.get('stickless-current-version')[0], '2');
  // What survived is there for a caller that asks without the token, or with an older one.
  const survived = await get(promoted, id, 2);
  t.deepEqual(dec(survived.session!.fields.cart), ['sku-1']);
});
