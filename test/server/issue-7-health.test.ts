// Issue 7, sessiond truth: health follows whether Redis *answers* (a SIGSTOPped Redis keeps its TCP
// connection and fires no event), a write sent to a frozen Redis is "outcome unknown" and a retry
// with its idempotency key resolves it, a write to a Redis that is down is "not applied", messages
// are ours (address and reason, no ioredis wording), and sessiond logs each reachability transition
// once, at warn level, from start-up on.
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { parseServerConfig } from '../../server/config.ts';
import { SESSION_SERVICE_NAME } from '../../server/health.ts';
import { createSessionServer } from '../../server/session-server.ts';
import { call, dec, enc, errorCode, rawStub } from '../helpers/grpc.ts';
import { checkHealth, healthClient } from '../helpers/health.ts';
import { freePort, startOwnRedis, startRedisProcess, uniquePrefix, type RedisHandle } from '../helpers/redis.ts';
import { spawnSessiond, startSessiond, waitFor } from '../helpers/servers.ts';

const IOREDIS_WORDING = /enableOfflineQueue|Stream isn't writeable|maxRetriesPerRequest|Command timed out|Connection is closed/;

async function serviceError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

async function frozenRedis(t: ExecutionContext): Promise<RedisHandle & { pause(paused: boolean): void }> {
  const redis = await startOwnRedis();
  t.teardown(() => redis.stop());
  if (!redis.pause) throw new Error('this test needs a redis-server process it can freeze (SIGSTOP)');
  t.teardown(() => redis.pause?.(false));
  return redis as RedisHandle & { pause(paused: boolean): void };
}

test('a frozen Redis (SIGSTOP) turns health NOT_SERVING, and SERVING again once it answers (SIGCONT)', async (t) => {
  const redis = await frozenRedis(t);
  const sessiond = await startSessiond(t, { redis, config: { commandTimeoutMs: 1000 } });
  const health = healthClient(t, sessiond.address);
  t.is(await checkHealth(health, ''), 'SERVING');

  redis.pause(true);
  await waitFor(async () => (await checkHealth(health, '')) === 'NOT_SERVING', 60_000, 'NOT_SERVING while Redis is frozen');
  t.is(await checkHealth(health, SESSION_SERVICE_NAME), 'NOT_SERVING');

  redis.pause(false);
  await waitFor(async () => (await checkHealth(health, '')) === 'SERVING', 60_000, 'SERVING once Redis answers');
  t.is(await checkHealth(health, SESSION_SERVICE_NAME), 'SERVING');
});

test('a write to a frozen Redis is OUTCOME_UNKNOWN; retried with its idempotency key after SIGCONT it is replayed, applied once', async (t) => {
  const redis = await frozenRedis(t);
  // Long enough that a busy machine never times out a call that should succeed.
  const sessiond = await startSessiond(t, { redis, config: { commandTimeoutMs: 1000 } });
  const stub = rawStub(t, sessiond.address);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns', fields: { n: enc(0) } });
  const id = created.session!.id;
  // Loads the patch script, so the frozen call below is one EVALSHA that runs when Redis thaws.
  await call(stub, 'Patch', { namespace: 'ns', id, ops: [{ field: 'n', incrementInt: 1 }] });
  const patch = { namespace: 'ns', id, ops: [{ field: 'n', incrementInt: 1 }], options: { idempotencyKey: 'frozen-1' } };

  redis.pause(true);
  const unknown = await serviceError(call(stub, 'Patch', patch, { deadlineMs: 10_000 }));
  t.is(errorCode(unknown), 'SESS_ERR_OUTCOME_UNKNOWN', unknown.details);
  t.is(unknown.code, grpc.status.DEADLINE_EXCEEDED);
  t.regex(unknown.details, new RegExp(`Redis at 127\\.0\\.0\\.1:${redis.port} did not answer within 1000 ms: the write may or may not have been applied`));
  t.notRegex(unknown.details, IOREDIS_WORDING);
  redis.pause(false);

  const retried = await waitFor(async () => {
    try {
      return await call<object, SessionResponse__Output>(stub, 'Patch', patch, { deadlineMs: 5000 });
    } catch {
      return undefined;
    }
  }, 60_000, 'the retry to be answered');
  t.true(retried.replayed, 'the frozen write was applied when Redis woke up, so the retry is a replay');
  t.is(Number(retried.session!.version), 3);
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: 'ns', id });
  t.is(Number(got.session!.version), 3, 'create + two patches: the retried one applied once');
  t.is(dec(got.session!.fields.n), 2);
});

test('with Redis killed, writes are STORE_UNAVAILABLE (not applied) with the address and reason in our words', async (t) => {
  const redis = await startOwnRedis();
  t.teardown(() => redis.stop());
  const sessiond = await startSessiond(t, { redis, config: { commandTimeoutMs: 1000, connectTimeoutMs: 1000 } });
  const stub = rawStub(t, sessiond.address);
  const health = healthClient(t, sessiond.address);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns', fields: { n: enc(1) } });
  const id = created.session!.id;

  await redis.kill();
  await waitFor(async () => (await checkHealth(health, '')) === 'NOT_SERVING', 60_000, 'NOT_SERVING');
  const writes = [
    call(stub, 'Create', { namespace: 'ns' }, { deadlineMs: 10_000 }),
    call(stub, 'Patch', { namespace: 'ns', id, ops: [{ field: 'n', incrementInt: 1 }], options: { idempotencyKey: 'down-1' } }, { deadlineMs: 10_000 }),
    call(stub, 'Put', { namespace: 'ns', id, fields: { n: enc(99) } }, { deadlineMs: 10_000 }),
    call(stub, 'Delete', { namespace: 'ns', id }, { deadlineMs: 10_000 }),
    call(stub, 'Get', { namespace: 'ns', id }, { deadlineMs: 10_000 }),
  ];
  for (const write of writes) {
    const error = await serviceError(write);
    t.is(error.code, grpc.status.UNAVAILABLE, error.details);
    t.is(errorCode(error), 'SESS_ERR_STORE_UNAVAILABLE');
    t.regex(error.details, new RegExp(`^Redis at 127\\.0\\.0\\.1:${redis.port} is unreachable \\((connection refused|connection closed|connection reset)\\); nothing was applied$`));
    t.notRegex(error.details, IOREDIS_WORDING);
  }
});

interface LogLine { level: number; msg: string; redis?: string; reason?: string }

test('sessiond logs an unreachable Redis at warn with its address and reason, at start and later, once per transition', async (t) => {
  const port = await freePort();
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const keyPrefix = uniquePrefix();
  const config = parseServerConfig({
    listen: '127.0.0.1:0', store: 'redis', keyPrefix, logLevel: 'info',
    redisUrl: `redis://127.0.0.1:${port}`, commandTimeoutMs: 1000, connectTimeoutMs: 1000,
  });
  const server = await createSessionServer(config, { logger });
  t.teardown(() => server.destroy());
  const warnings = (): LogLine[] => lines.filter((line) => line.level === 40 && line.redis !== undefined);

  await waitFor(() => warnings().length === 1, 60_000, 'a warning about the Redis that is not running');
  t.is(warnings()[0]!.redis, `127.0.0.1:${port}`);
  t.is(warnings()[0]!.reason, 'connection refused');
  t.is(warnings()[0]!.msg, `Redis at 127.0.0.1:${port} unreachable (connection refused): NOT_SERVING`);
  // ioredis retries every <= 1 s; wait out a few retries: still one line.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.is(warnings().length, 1, 'one line per transition, not one per reconnect attempt');

  const redis = await startRedisProcess([], port);
  t.teardown(() => redis.stop());
  await waitFor(() => lines.some((line) => line.level === 30 && line.msg === `Redis at 127.0.0.1:${port} answering: SERVING`), 60_000, 'the recovery line');

  await redis.kill();
  await waitFor(() => warnings().length === 2, 60_000, 'a warning about the Redis that went away');
  t.regex(warnings()[1]!.msg, new RegExp(`^Redis at 127\\.0\\.0\\.1:${port} unreachable \\(connection (closed|reset|refused)\\): NOT_SERVING$`));
  for (const line of lines) t.notRegex(line.msg, IOREDIS_WORDING);
});

test('sessiond started with a Redis that is not running logs a warn line naming the address and the reason', async (t) => {
  const port = await freePort();
  const sessiond = spawnSessiond(t, ['--listen', '127.0.0.1:0', '--redis-url', `redis://127.0.0.1:${port}`]);
  const warnings = (): LogLine[] => sessiond.stdout().split('\n').filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine).filter((line) => line.level === 40);
  await waitFor(() => warnings().length > 0, 60_000, 'the warn line');
  t.like(warnings()[0], { redis: `127.0.0.1:${port}`, reason: 'connection refused', msg: `Redis at 127.0.0.1:${port} unreachable (connection refused): NOT_SERVING` });
});
