// Issue 7, replicaAcks truth: a write applied on the primary but not confirmed by its replicas says
// so (SESS_ERR_REPLICA_ACK_TIMEOUT, and it is applied); with fewer online replicas than replicaAcks,
// writes are refused before they run (SESS_ERR_NOT_ENOUGH_REPLICAS, nothing applied, both counts in
// the message), the metric says why, and writes work again once a replica is back.
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { Redis } from 'ioredis';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { call, dec, enc, errorCode, rawStub } from '../helpers/grpc.ts';
import { checkHealth, healthClient } from '../helpers/health.ts';
import { startRedisProcess } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';

async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error as grpc.ServiceError;
  }
}

test('replicaAcks=1 with one replica: frozen replica → REPLICA_ACK_TIMEOUT (applied); killed replica → NOT_ENOUGH_REPLICAS at once (not applied); back → writes OK', async (t) => {
  const primary = await startRedisProcess(['--repl-diskless-sync-delay', '0']);
  t.teardown(() => primary.stop());
  const replica = await startRedisProcess(['--replicaof', '127.0.0.1', String(primary.port)]);
  t.teardown(() => replica.stop());
  t.teardown(() => replica.pause?.(false));
  const direct = new Redis(primary.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  direct.on('error', () => {});
  t.teardown(() => direct.disconnect());
  const replicaOnline = async (): Promise<boolean> => /slave0:.*state=online/.test(await direct.info('replication'));
  await waitFor(replicaOnline, 20_000, 'the replica to sync');

  const sessiond = await startSessiond(t, {
    redis: primary,
    config: { replicaAcks: 1, replicaAckTimeoutMs: 1000, commandTimeoutMs: 3000, metricsListen: '127.0.0.1:0' },
  });
  const stub = rawStub(t, sessiond.address);
  const health = healthClient(t, sessiond.address);
  const metric = async (name: string): Promise<number> => {
    const body = await (await fetch(`http://127.0.0.1:${sessiond.server.metricsPort}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1]);
  };
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns', fields: { n: enc(0) } });
  const id = created.session!.id;
  const read = async (): Promise<GetResponse__Output> => call<object, GetResponse__Output>(stub, 'Get', { namespace: 'ns', id });

  // A replica that is connected but does not answer: WAIT times out after the write was applied.
  replica.pause!(true);
  const patch = { namespace: 'ns', id, ops: [{ field: 'n', incrementInt: 1 }], options: { idempotencyKey: 'ack-1' } };
  const unconfirmed = await failure(call(stub, 'Patch', patch, { deadlineMs: 10_000 }));
  t.is(errorCode(unconfirmed), 'SESS_ERR_REPLICA_ACK_TIMEOUT', unconfirmed?.details);
  t.is(unconfirmed!.code, grpc.status.DEADLINE_EXCEEDED);
  t.regex(unconfirmed!.details, /applied on the Redis primary but confirmed by 0 of replicaAcks \(1\) replicas within 1000 ms/);
  t.is(dec((await read()).session!.fields.n), 1, 'the unconfirmed write is applied on the primary');
  replica.pause!(false);
  const confirmed = await waitFor(async () => {
    try {
      return await call<object, SessionResponse__Output>(stub, 'Patch', patch, { deadlineMs: 10_000 });
    } catch {
      return undefined;
    }
  }, 20_000, 'the retry to be confirmed');
  t.true(confirmed.replayed, 'the retry with the same key replays, and waits for the replica again');
  t.is(dec((await read()).session!.fields.n), 1);

  // No replica at all: writes are refused before they run.
  await replica.kill();
  let attempt = 0;
  const refused = await waitFor(async () => {
    attempt += 1;
    const error = await failure(call(stub, 'Patch', { namespace: 'ns', id, ops: [{ field: `try-${attempt}`, set: enc(true) }] }, { deadlineMs: 10_000 }));
    // Until the heartbeat sees the replica gone, a write may still be applied and go unconfirmed.
    if (errorCode(error) !== 'SESS_ERR_NOT_ENOUGH_REPLICAS') return undefined;
    return { error: error!, field: `try-${attempt}` };
  }, 20_000, 'writes refused for want of a replica');
  t.is(refused.error.code, grpc.status.UNAVAILABLE);
  t.regex(refused.error.details, new RegExp(`^the Redis primary at 127\\.0\\.0\\.1:${primary.port} has 0 online replica\\(s\\) and replicaAcks is 1: the write was refused and nothing was applied$`));
  const after = await read();
  t.false(refused.field in after.session!.fields, 'the refused write was not applied');
  const putRefused = await failure(call(stub, 'Put', { namespace: 'ns', id, fields: { n: enc(100) } }, { deadlineMs: 10_000 }));
  t.is(errorCode(putRefused), 'SESS_ERR_NOT_ENOUGH_REPLICAS');
  t.is(dec((await read()).session!.fields.n), 1, 'the refused put was not applied');
  const createRefused = await failure(call(stub, 'Create', { namespace: 'ns' }, { deadlineMs: 10_000 }));
  t.is(errorCode(createRefused), 'SESS_ERR_NOT_ENOUGH_REPLICAS');
  t.is(await metric('stickless_sessiond_redis_replicas'), 0);
  t.is(await metric('stickless_sessiond_redis_replicas_missing'), 1);
  t.is(await checkHealth(health, ''), 'SERVING', 'reads are still served');

  await replica.restart();
  const written = await waitFor(async () => {
    try {
      return await call<object, SessionResponse__Output>(stub, 'Patch', { namespace: 'ns', id, ops: [{ field: 'back', set: enc(true) }] }, { deadlineMs: 10_000 });
    } catch (error) {
      const code = errorCode(error);
      t.true(code === 'SESS_ERR_NOT_ENOUGH_REPLICAS' || code === 'SESS_ERR_REPLICA_ACK_TIMEOUT', code);
      return undefined;
    }
  }, 30_000, 'writes confirmed by the returned replica');
  t.is(dec(written.session!.fields.back), true);
  t.is(await metric('stickless_sessiond_redis_replicas_missing'), 0);
});

test('an ACL user without INFO: the heartbeat still sees Redis answering (SERVING); replicas unknown, so WAIT decides', async (t) => {
  const primary = await startRedisProcess();
  t.teardown(() => primary.stop());
  const admin = new Redis(primary.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  admin.on('error', () => {});
  t.teardown(() => admin.disconnect());
  await admin.call('ACL', 'SETUSER', 'no-info', 'on', '>no-info-pw', '~*', '&*', '+@all', '-info');
  const sessiond = await startSessiond(t, {
    redis: primary,
    config: { redisUrl: `redis://no-info:no-info-pw@127.0.0.1:${primary.port}`, replicaAcks: 1, replicaAckTimeoutMs: 300, commandTimeoutMs: 3000 },
  });
  const health = healthClient(t, sessiond.address);
  await waitFor(async () => (await checkHealth(health, '')) === 'SERVING', 20_000, 'SERVING');
  const stub = rawStub(t, sessiond.address);
  const error = await failure(call(stub, 'Create', { namespace: 'ns' }, { deadlineMs: 10_000 }));
  t.is(errorCode(error), 'SESS_ERR_REPLICA_ACK_TIMEOUT', error?.details);
});
