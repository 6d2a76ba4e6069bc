// Issue 7: no dependency's wording reaches an error message. Each kind of ioredis failure (its own
// error objects, not look-alikes) maps to one stable code and a sentence of ours naming the Redis
// address; the original stays as `cause`. An unexpected exception reaches the wire as a generic
// INTERNAL message.
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { Redis, ReplyError } from 'ioredis';
import { MaxRetriesPerRequestError } from 'ioredis/built/errors/index.js';
import { toGrpcStatus } from '../../server/errors.ts';
import { describeRedisAddress, describeRedisError, toStoreError } from '../../server/redis-failures.ts';
import { freePort } from '../helpers/redis.ts';

const context = { address: '10.0.0.7:6379', commandTimeoutMs: 250, connectionReason: 'connection refused' };
const IOREDIS_WORDING = /enableOfflineQueue|Stream isn't writeable|maxRetriesPerRequest|max retries|Command timed out|Connection is closed|Not enough good replicas|READONLY You/;

async function notSentError(): Promise<unknown> {
  // A port where nothing listens: the command is refused before any connection exists.
  const redis = new Redis({ host: '127.0.0.1', port: await freePort(), lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    return await redis.get('k').then(() => undefined, (error: unknown) => error);
  } finally {
    redis.disconnect();
  }
}

test('each ioredis failure becomes one stable code and a sentence of ours, the original as cause', async (t) => {
  const cases: Array<[unknown, boolean, string, RegExp]> = [
    [await notSentError(), true, 'SESS_ERR_STORE_UNAVAILABLE', /^Redis at 10\.0\.0\.7:6379 is unreachable \(connection refused\); nothing was applied$/],
    [new Error('Command timed out'), true, 'SESS_ERR_OUTCOME_UNKNOWN', /^Redis at 10\.0\.0\.7:6379 did not answer within 250 ms: the write may or may not have been applied/],
    [new Error('Command timed out'), false, 'SESS_ERR_STORE_UNAVAILABLE', /^Redis at 10\.0\.0\.7:6379 did not answer within 250 ms; nothing was changed$/],
    [new MaxRetriesPerRequestError(0), true, 'SESS_ERR_OUTCOME_UNKNOWN', /^the connection to Redis at 10\.0\.0\.7:6379 was lost before the answer came: the write may or may not/],
    [new Error('Connection is closed.'), false, 'SESS_ERR_STORE_UNAVAILABLE', /was lost before the answer came; nothing was changed$/],
    [new ReplyError('NOREPLICAS Not enough good replicas to write.'), true, 'SESS_ERR_NOT_ENOUGH_REPLICAS', /fewer connected replicas than its min-replicas-to-write; nothing was applied$/],
    [new ReplyError("READONLY You can't write against a read only replica."), true, 'SESS_ERR_STORE_UNAVAILABLE', /^Redis at 10\.0\.0\.7:6379 is a read-only replica \(a failover may be under way\); nothing was applied$/],
    [new ReplyError('LOADING Redis is loading the dataset in memory'), false, 'SESS_ERR_STORE_UNAVAILABLE', /is loading its data set; nothing was applied$/],
    [new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'), false, 'SESS_ERR_STORE_UNAVAILABLE', /authentication failed \(check the password or ACL user\)/],
    [new ReplyError('ERR Error running script (call to f_1234): @user_script:1: oops'), true, 'SESS_ERR_INTERNAL', /^Redis at 10\.0\.0\.7:6379 answered with an unexpected error \(ERR\); see the sessiond log$/],
  ];
  for (const [error, write, code, message] of cases) {
    const mapped = toStoreError(error, { ...context, write });
    t.is(mapped.code as string, code, String((error as Error).message));
    t.regex(mapped.message, message);
    t.notRegex(mapped.message, IOREDIS_WORDING);
    t.is(mapped.cause, error);
  }
});

test('connection errors are described in words, and the address never shows a password', (t) => {
  const system = (code: string): Error => Object.assign(new Error(`connect ${code} 10.0.0.7:6379`), { code });
  t.is(describeRedisError(system('ECONNREFUSED'), 250), 'connection refused');
  t.is(describeRedisError(system('ENOTFOUND'), 250), 'host name not found');
  t.is(describeRedisError(system('ETIMEDOUT'), 250), 'connection timed out');
  t.is(describeRedisError(new Error('Command timed out'), 250), 'no answer within 250 ms');
  t.is(describeRedisError(new Error('All sentinels are unreachable. Retrying from scratch after 100ms.'), 250), 'no sentinel answered');
  t.is(describeRedisError(new ReplyError('NOAUTH Authentication required.'), 250), 'Redis refused sessiond: authentication failed (check the password or ACL user)');
  t.is(describeRedisError(new Error('something ioredis says'), 250), 'connection failed');
  t.is(describeRedisAddress({ url: 'redis://:s3cret@cache.internal:6390/2', sentinels: [], sentinelName: 'mymaster' }), 'cache.internal:6390');
  t.is(describeRedisAddress({ url: 'redis://user:s3cret@cache.internal', sentinels: [], sentinelName: 'mymaster' }), 'cache.internal:6379');
  t.is(describeRedisAddress({ url: '', sentinels: ['10.0.0.1:26379', '10.0.0.2:26379'], sentinelName: 'mymaster' }), 'primary "mymaster" via sentinels 10.0.0.1:26379, 10.0.0.2:26379');
});

test('an unexpected exception reaches the wire as INTERNAL with a generic message, not its own text', (t) => {
  const status = toGrpcStatus(new Error("Stream isn't writeable and enableOfflineQueue options is false"));
  t.is(status.code, grpc.status.INTERNAL);
  t.is(status.details, 'internal error in sessiond; its log has the details');
  t.is(status.metadata.get('stickless-error-code')[0], 'SESS_ERR_INTERNAL');
});
