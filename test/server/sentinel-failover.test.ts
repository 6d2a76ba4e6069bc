// sessiond through Redis Sentinel: a primary, a replica and three sentinels as real processes. kill -9
// the primary; Sentinel promotes the replica and sessiond follows it by itself: a replicated session
// survives and writes work again.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { call, dec, enc, errorCode, rawStub } from '../helpers/grpc.ts';
import { freePort, spawnRedisServer, startRedisProcess, waitForRedis } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';

async function startSentinel(t: ExecutionContext, primaryPort: number): Promise<number> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-'));
  const file = join(dir, 'sentinel.conf');
  writeFileSync(file, [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor mymaster 127.0.0.1 ${primaryPort} 2`,
    // Well above Sentinel's 1 s PING period. A sentinel resets its links to a just-promoted primary
    // and sends the first PING only a PING period later, counting that PING's wait from the reset:
    // with 1000 here it can call the new primary down before the first PONG comes back and start a
    // second failover (as the compose deployment, deploy/sentinel.sh, this uses 5000).
    'sentinel down-after-milliseconds mymaster 5000',
    'sentinel failover-timeout mymaster 10000',
    'sentinel parallel-syncs mymaster 1',
    '',
  ].join('\n'));
  const child: ChildProcess = spawnRedisServer([file, '--sentinel']);
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await waitForRedis(`redis://127.0.0.1:${port}`);
  return port;
}

test('a primary killed with -9 fails over through Sentinel and sessiond keeps the replicated session', async (t) => {
  const primary = await startRedisProcess(['--repl-diskless-sync-delay', '0']);
  t.teardown(() => primary.stop());
  const replica = await startRedisProcess(['--replicaof', '127.0.0.1', String(primary.port)]);
  t.teardown(() => replica.stop());
  const direct = new Redis(primary.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  direct.on('error', () => {});
  t.teardown(() => direct.disconnect());
  await waitFor(async () => /slave0:.*state=online/.test(await direct.info('replication')), 15_000, 'the replica to sync');
  direct.disconnect();
  const sentinels: number[] = [];
  for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(t, primary.port));

  const sessiond = await startSessiond(t, {
    redis: primary,
    config: {
      redisSentinels: sentinels.map((port) => `127.0.0.1:${port}`),
      redisSentinelName: 'mymaster',
      commandTimeoutMs: 1500,
      connectTimeoutMs: 500,
      // Acknowledged means on the replica too, so the failover below cannot lose it.
      replicaAcks: 1,
      replicaAckTimeoutMs: 1000,
    },
  });
  const stub = rawStub(t, sessiond.address);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop', fields: { cart: enc(['sku-1']) } });
  const id = created.session!.id;
  await call(stub, 'Patch', { namespace: 'shop', id, ops: [{ field: 'cart', append: enc('sku-2') }] });

  await primary.kill();

  const got = await waitFor(async () => {
    try {
      const reply = await call<object, GetResponse__Output>(stub, 'Get', { namespace: 'shop', id }, { deadlineMs: 10_000 });
      return reply.found ? reply : undefined;
    } catch (error) {
      t.is((error as grpc.ServiceError).code, grpc.status.UNAVAILABLE, 'during failover calls fail fast with UNAVAILABLE');
      return undefined;
    }
  }, 40_000, 'the promoted replica to serve the session');
  t.deepEqual(dec(got.session!.fields.cart), ['sku-1', 'sku-2']);

  // Bring the old primary back as a replica of the promoted one, as an operator must when Redis runs
  // without persistence: an empty server that comes back as a primary can be handed to clients
  // before the sentinels demote it, and answers with nothing. Wait until every sentinel names the
  // promoted replica first.
  await waitFor(async () => {
    const answers = await Promise.all(sentinels.map(async (port) => {
      const sentinel = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
      sentinel.on('error', () => {});
      try {
        return (await sentinel.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')) as string[];
      } finally {
        sentinel.disconnect();
      }
    }));
    return answers.every((addr) => addr[1] === String(replica.port));
  }, 30_000, 'every sentinel to name the promoted replica');
  // Priority 0: until its full sync ends it does not hold the session, so Sentinel must never
  // promote it (that would demote the promoted replica, which then resyncs from it and loses the data).
  const returned = await startRedisProcess(['--replicaof', '127.0.0.1', String(replica.port), '--replica-priority', '0'], primary.port);
  t.teardown(() => returned.stop());

  // Until it has synced, the promoted replica has no replica of its own, so with replicaAcks = 1
  // writes are refused before they run (NOT_ENOUGH_REPLICAS), or, in the moment before sessiond
  // sees the count, applied and unconfirmed (REPLICA_ACK_TIMEOUT); retries with one idempotency key
  // apply once.
  const patch = { namespace: 'shop', id, ops: [{ field: 'cart', append: enc('sku-3') }], options: { idempotencyKey: 'add-sku-3' } };
  const patched = await waitFor(async () => {
    try {
      return await call<object, SessionResponse__Output>(stub, 'Patch', patch, { deadlineMs: 10_000 });
    } catch (error) {
      const code = errorCode(error);
      t.true(['SESS_ERR_NOT_ENOUGH_REPLICAS', 'SESS_ERR_REPLICA_ACK_TIMEOUT', 'SESS_ERR_STORE_UNAVAILABLE'].includes(code ?? ''), code);
      return undefined;
    }
  }, 40_000, 'writes confirmed by the returned replica');
  t.deepEqual(dec(patched.session!.fields.cart), ['sku-1', 'sku-2', 'sku-3'], 'retries with one idempotency key appended once');
});

test('with replicaAcks and no replica, a write is refused before it runs, naming both counts', async (t) => {
  const primary = await startRedisProcess();
  t.teardown(() => primary.stop());
  const sessiond = await startSessiond(t, { redis: primary, config: { replicaAcks: 1, replicaAckTimeoutMs: 200, commandTimeoutMs: 1000 } });
  const stub = rawStub(t, sessiond.address);
  const error = (await t.throwsAsync(call(stub, 'Create', { namespace: 'shop' }))) as unknown as grpc.ServiceError;
  t.is(error.code, grpc.status.UNAVAILABLE);
  t.is(errorCode(error), 'SESS_ERR_NOT_ENOUGH_REPLICAS');
  t.regex(error.details, /has 0 online replica\(s\) and replicaAcks is 1: the write was refused and nothing was applied/);
});
