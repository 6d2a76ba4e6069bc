// readFromReplicas (issue 8): Get is served by a Redis replica when its copy is at least the
// request's min_version, and by the primary when the replica is behind, lacks the session, or is down.
// Who served a read is shown by the replica's own INFO commandstats and by the copy's version.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { parseServerConfig } from '../../server/config.ts';
import { sessionHandle } from '../../server/session-id.ts';
import { call, dec, enc, rawStub, type RawStub } from '../helpers/grpc.ts';
import { freePort, spawnRedisServer, startRedisProcess, waitForRedis, type RedisHandle } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';

const get = (stub: RawStub, id: string, minVersion: number, fields: string[] = []): Promise<GetResponse__Output> =>
  call<object, GetResponse__Output>(stub, 'Get', { namespace: 'shop', id, minVersion, fields });

/** Reads (HGETALL + HMGET) the replica has answered so far. */
async function replicaReads(replica: Redis): Promise<number> {
  const stats = await replica.info('commandstats');
  const calls = (name: string): number => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return calls('hgetall') + calls('hmget');
}

/** A primary and one replica that has synced, with a client on the replica. */
async function primaryAndReplica(t: ExecutionContext): Promise<{ primary: RedisHandle; replica: RedisHandle; replicaClient: Redis }> {
  const primary = await startRedisProcess(['--repl-diskless-sync-delay', '0']);
  t.teardown(() => primary.stop());
  const replica = await startRedisProcess(['--replicaof', '127.0.0.1', String(primary.port)]);
  t.teardown(() => replica.stop());
  const replicaClient = new Redis(replica.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  replicaClient.on('error', () => {});
  t.teardown(() => replicaClient.disconnect());
  await waitFor(async () => /master_link_status:up/.test(await replicaClient.info('replication')), 20_000, 'the replica to sync');
  return { primary, replica, replicaClient };
}

test('Get is served by a caught-up replica, by the primary when the replica is behind min_version or down', async (t) => {
  const { primary, replica, replicaClient } = await primaryAndReplica(t);
  const sessiond = await startSessiond(t, {
    redis: primary,
    config: { readFromReplicas: true, redisReplicaUrls: [replica.url], metricsListen: '127.0.0.1:0', commandTimeoutMs: 5000 },
  });
  const stub = rawStub(t, sessiond.address);
  const metric = async (outcome: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${sessiond.server.metricsPort}/metrics`)).text();
    return Number(new RegExp(`^stickless_sessiond_replica_reads_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  };
  const id = (await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop', fields: { cart: enc([]) } })).session!.id;
  await call(stub, 'Patch', { namespace: 'shop', id, ops: [{ field: 'cart', append: enc('sku-1') }] });
  const key = `${sessiond.keyPrefix}s:{${sessionHandle('shop', id)}}`;
  await waitFor(async () => (await replicaClient.hget(key, '_v')) === '2', 20_000, 'the replica to hold version 2');

  // Caught up: the replica answers (once sessiond's heartbeat has seen it answer).
  await waitFor(async () => {
    const reads = await replicaReads(replicaClient);
    const reply = await get(stub, id, 2);
    t.is(reply.session!.version, 2);
    return (await replicaReads(replicaClient)) > reads;
  }, 20_000, 'a Get served by the replica');
  const filtered = await get(stub, id, 2, ['cart']);
  t.deepEqual(dec(filtered.session!.fields.cart), ['sku-1']);
  t.true((await metric('replica')) >= 2);

  // Replication stops (the replica follows a primary that does not exist and keeps its copy); the
  // primary moves on to version 3.
  await replicaClient.call('REPLICAOF', '127.0.0.1', String(await freePort()));
  await call(stub, 'Patch', { namespace: 'shop', id, ops: [{ field: 'cart', append: enc('sku-2') }] });
  const asked = await replicaReads(replicaClient);
  const fresh = await get(stub, id, 3);
  t.is(fresh.session!.version, 3, 'the primary answered');
  t.deepEqual(dec(fresh.session!.fields.cart), ['sku-1', 'sku-2']);
  t.is(await replicaReads(replicaClient), asked + 1, 'the replica was asked first, and its copy was too old');
  t.is(await metric('behind'), 1);
  // Without a token, the replica's older copy is a valid answer (bounded by the replication lag).
  t.is((await get(stub, id, 0)).session!.version, 2);

  // Replica down: the primary answers.
  await replica.kill();
  const failover = await get(stub, id, 3);
  t.is(failover.session!.version, 3);
  t.true((await metric('failed')) + (await metric('none')) >= 1);
});

test('readFromReplicas without replicas to read from is a configuration error naming both options', (t) => {
  const error = t.throws(() => parseServerConfig({ readFromReplicas: 'true' }));
  t.regex(error.message, /readFromReplicas: needs replicas to read from: set redisReplicaUrls, or redisSentinels/);
  const config = parseServerConfig({ readFromReplicas: 'true', redisReplicaUrls: 'redis://10.0.0.2:6379, redis://10.0.0.3:6379' });
  t.deepEqual(config.redisReplicaUrls, ['redis://10.0.0.2:6379', 'redis://10.0.0.3:6379']);
  t.throws(() => parseServerConfig({ redisReplicaUrls: 'http://x' }), { message: /redisReplicaUrls/ });
});

test('with Sentinel, readFromReplicas reads from a replica Sentinel names', async (t) => {
  const { primary, replicaClient } = await primaryAndReplica(t);
  const sentinelPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-'));
  writeFileSync(join(dir, 'sentinel.conf'), [
    `port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor mymaster 127.0.0.1 ${primary.port} 1`, '',
  ].join('\n'));
  const sentinel = spawnRedisServer([join(dir, 'sentinel.conf'), '--sentinel']);
  t.teardown(() => {
    sentinel.kill('SIGKILL');
  });
  await waitForRedis(`redis://127.0.0.1:${sentinelPort}`);

  const sessiond = await startSessiond(t, {
    redis: primary,
    config: { redisSentinels: [`127.0.0.1:${sentinelPort}`], redisSentinelName: 'mymaster', readFromReplicas: true },
  });
  const stub = rawStub(t, sessiond.address);
  const id = (await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop', fields: { cart: enc(['sku-1']) } })).session!.id;
  const key = `${sessiond.keyPrefix}s:{${sessionHandle('shop', id)}}`;
  await waitFor(async () => (await replicaClient.hget(key, '_v')) === '1', 20_000, 'the replica to hold version 1');
  // Sentinel learns the replica from the primary's INFO; sessiond's replica connection follows it.
  await waitFor(async () => {
    const reads = await replicaReads(replicaClient);
    t.deepEqual(dec((await get(stub, id, 1)).session!.fields.cart), ['sku-1']);
    return (await replicaReads(replicaClient)) > reads;
  }, 30_000, 'a Get served by the replica');
});
