// Client options: defaults filled in, every invalid option named at once, the result frozen.
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { DEFAULT_CLIENT_OPTIONS, SessionClient, SessionError, resolveClientOptions } from '../../client/index.ts';

test('defaults are applied to every option not given, and the result is frozen', (t) => {
  const options = resolveClientOptions({ address: '127.0.0.1:50051', namespace: 'shop', retry: { maxAttempts: 2 }, deadlineMs: undefined });
  t.is(options.deadlineMs, 2000);
  t.deepEqual(options.retry, { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 1000 });
  t.is(options.autoIdempotencyKeys, true);
  t.is(options.maxUpdateAttempts, 16);
  t.deepEqual(options.channelOptions, {
    'grpc.service_config_disable_resolution': 1,
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  }, 'round robin over every address of the target, and no TXT lookup for another service config');
  t.true(Object.isFrozen(options) && Object.isFrozen(options.retry));
  t.deepEqual(DEFAULT_CLIENT_OPTIONS.retry, { maxAttempts: 4, initialBackoffMs: 50, maxBackoffMs: 1000 });
});

test('invalid options throw one SESS_ERR_INVALID_ARGUMENT naming each of them', (t) => {
  const error = t.throws(() => new SessionClient({
    address: 'host with spaces:1',
    namespace: '',
    token: '',
    deadlineMs: -5,
    retry: { maxAttempts: 0, initialBackoffMs: 100, maxBackoffMs: 10 },
    maxUpdateAttempts: 1.5,
    credentials: {} as grpc.ChannelCredentials,
    pipeline: 'yes' as unknown as boolean,
  }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_INVALID_ARGUMENT');
  for (const name of ['address', 'namespace', 'token', 'deadlineMs', 'retry.maxAttempts', 'retry.maxBackoffMs', 'maxUpdateAttempts', 'credentials', 'pipeline']) {
    t.regex(error.message, new RegExp(`${name.replace('.', '\\.')}: expected`), name);
  }
  t.notRegex(error.message, /retry\.initialBackoffMs: expected/);
});

test('the Pipeline stream is the default for one address, unary calls for a list of addresses (balanced one by one)', (t) => {
  t.true(resolveClientOptions({ address: 'sessiond:50051', namespace: 'shop' }).pipeline);
  t.true(resolveClientOptions({ address: ['10.0.0.5:50051'], namespace: 'shop' }).pipeline);
  t.false(resolveClientOptions({ address: ['10.0.0.5:50051', '10.0.0.6:50051'], namespace: 'shop' }).pipeline);
  t.true(resolveClientOptions({ address: ['10.0.0.5:50051', '10.0.0.6:50051'], namespace: 'shop', pipeline: true }).pipeline);
  t.false(resolveClientOptions({ address: 'sessiond:50051', namespace: 'shop', pipeline: false }).pipeline);
});

test('the token never appears in an options error', (t) => {
  const error = t.throws(() => resolveClientOptions({ address: '', namespace: 'shop', token: 'secret-token-value' }));
  t.notRegex(error.message, /secret-token-value/);
});

test('credentials and channel options are accepted', (t) => {
  const client = new SessionClient({
    address: '127.0.0.1:1',
    namespace: 'shop',
    credentials: grpc.credentials.createInsecure(),
    channelOptions: { 'grpc.keepalive_time_ms': 30_000 },
  });
  t.is(client.options.channelOptions['grpc.keepalive_time_ms'], 30_000);
  return client.close();
});
