// kill -9 the Redis under a running sessiond: calls fail fast with UNAVAILABLE (never hang), health
// says NOT_SERVING, and both recover by themselves when Redis is back.
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { SESSION_SERVICE_NAME } from '../../server/health.ts';
import { call, errorCode, rawStub } from '../helpers/grpc.ts';
import { checkHealth, healthClient } from '../helpers/health.ts';
import { startOwnRedis } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';

test('Redis killed mid-test: UNAVAILABLE within the deadline, NOT_SERVING, then recovery after restart', async (t) => {
  const redis = await startOwnRedis();
  t.teardown(() => redis.stop());
  const sessiond = await startSessiond(t, { redis, config: { commandTimeoutMs: 500, connectTimeoutMs: 500 } });
  const stub = rawStub(t, sessiond.address);
  const health = healthClient(t, sessiond.address);
  t.is(await checkHealth(health, ''), 'SERVING');
  t.is(await checkHealth(health, SESSION_SERVICE_NAME), 'SERVING');
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns' });

  await redis.kill();

  // The deadline is far longer than the command timeout: the answer must be UNAVAILABLE from
  // sessiond, not DEADLINE_EXCEEDED from a call that hung.
  const error = (await t.throwsAsync(call(stub, 'Get', { namespace: 'ns', id: created.session!.id }, { deadlineMs: 10_000 }))) as unknown as grpc.ServiceError;
  t.is(error.code, grpc.status.UNAVAILABLE, error.details);
  t.is(errorCode(error), 'SESS_ERR_STORE_UNAVAILABLE');
  const mutation = (await t.throwsAsync(call(stub, 'Create', { namespace: 'ns' }, { deadlineMs: 10_000 }))) as unknown as grpc.ServiceError;
  t.is(mutation.code, grpc.status.UNAVAILABLE);
  await waitFor(async () => (await checkHealth(health, '')) === 'NOT_SERVING', 10_000, 'NOT_SERVING');
  t.is(await checkHealth(health, SESSION_SERVICE_NAME), 'NOT_SERVING');

  await redis.restart();

  await waitFor(async () => (await checkHealth(health, '')) === 'SERVING', 15_000, 'SERVING again');
  const again = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns' });
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: 'ns', id: again.session!.id });
  t.true(got.found);
});

test('a Redis that stops answering (SIGSTOP) costs a call the command timeout, not a hang', async (t) => {
  const redis = await startOwnRedis();
  t.teardown(() => redis.stop());
  if (!redis.pause) return t.fail('this test needs a redis-server process it can freeze');
  const sessiond = await startSessiond(t, { redis, config: { commandTimeoutMs: 1000 } });
  const stub = rawStub(t, sessiond.address);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns' });
  redis.pause(true);
  t.teardown(() => redis.pause?.(false));
  const error = (await t.throwsAsync(call(stub, 'Patch', {
    namespace: 'ns', id: created.session!.id, ops: [{ field: 'n', incrementInt: 1 }],
  }, { deadlineMs: 10_000 }))) as unknown as grpc.ServiceError;
  t.is(error.code, grpc.status.DEADLINE_EXCEEDED, error.details);
  t.is(errorCode(error), 'SESS_ERR_OUTCOME_UNKNOWN');
  t.regex(error.details, /did not answer within 1000 ms/);
  redis.pause(false);
  await waitFor(async () => {
    try {
      const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: 'ns', id: created.session!.id });
      return got.found;
    } catch {
      return false;
    }
  }, 30_000, 'recovery');
  t.pass();
});
