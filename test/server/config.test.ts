// parseServerConfig: defaults, layering, every problem named at once, and a frozen result.
import test from 'ava';
import { SessionError } from '../../proto/errors.ts';
import { DEFAULT_SERVER_OPTIONS, parseServerConfig, readServerEnv, redactServerConfig, SERVER_ENV_VARS } from '../../server/config.ts';

test('defaults apply when nothing is set, and the result is deeply frozen', (t) => {
  const config = parseServerConfig();
  t.deepEqual(config, DEFAULT_SERVER_OPTIONS);
  t.true(Object.isFrozen(config));
  t.true(Object.isFrozen(config.redisSentinels));
  t.throws(() => {
    (config as { maxFields: number }).maxFields = 1;
  });
});

test('every invalid option is reported in one error, each by name', (t) => {
  const error = t.throws(() => parseServerConfig({ listen: 'x', maxFields: '0', store: 'disk', logLevel: 'loud', bogus: 1 }), { instanceOf: SessionError });
  t.is(error?.code, 'SESS_ERR_CONFIG_INVALID');
  for (const name of ['listen:', 'maxFields:', 'store:', 'logLevel:', 'bogus']) t.true(error!.message.includes(name), `${name} in ${error!.message}`);
});

test('cross-option rules name both options', (t) => {
  const error = t.throws(() => parseServerConfig({ defaultTtlMs: 5000, maxLifetimeMs: 1000 }), { instanceOf: SessionError });
  t.regex(error!.message, /defaultTtlMs: 5000 exceeds maxLifetimeMs \(1000\)/);
});

test('environment variables are read for every option, lists comma-separated and tokens as JSON', (t) => {
  const env = { STICKLESS_REDIS_SENTINELS: 'a:26379, b:26379', STICKLESS_NAMESPACE_TOKENS: '{"0123456789abcdef":["shop"]}', STICKLESS_MAX_FIELDS: '12' };
  const config = parseServerConfig(readServerEnv(env));
  t.deepEqual(config.redisSentinels, ['a:26379', 'b:26379']);
  t.deepEqual(config.namespaceTokens, { '0123456789abcdef': ['shop'] });
  t.is(config.maxFields, 12);
  t.deepEqual(Object.keys(SERVER_ENV_VARS).sort(), Object.keys(DEFAULT_SERVER_OPTIONS).concat('redisPassword').sort(), 'every option has an env var');
});

test('later layers win: file < environment < flags', (t) => {
  const config = parseServerConfig({ maxFields: 1, maxPatchOps: 1 }, { maxFields: 2 }, { maxPatchOps: 3 });
  t.is(config.maxFields, 2);
  t.is(config.maxPatchOps, 3);
});

test('redaction hides passwords, tokens and URL credentials', (t) => {
  const config = parseServerConfig({ redisUrl: 'redis://:hunter2@redis:6379', redisPassword: 'hunter2', namespaceTokens: { '0123456789abcdef': ['*'] } });
  const shown = JSON.stringify(redactServerConfig(config));
  t.false(shown.includes('hunter2'));
  t.false(shown.includes('0123456789abcdef'));
});
