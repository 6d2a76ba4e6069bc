// parseServerConfig: defaults, layering, every problem named at once, and a frozen result.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionError } from '../../proto/errors.ts';
import { DEFAULT_SERVER_OPTIONS, parseServerConfig, redactServerConfig, SERVER_ENV_VARS, SERVER_OPTIONS, serverConfigSchema, ServerConfigError } from '../../server/config.ts';
import { readServerEnv } from '../../server/config-sources.ts';

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
  t.deepEqual(Object.keys(SERVER_ENV_VARS).sort(), Object.keys(serverConfigSchema.shape).sort(), 'every option has an env var');
});

test('later layers win: file < environment < flags', (t) => {
  const config = parseServerConfig({ maxFields: 1, maxPatchOps: 1 }, { maxFields: 2 }, { maxPatchOps: 3 });
  t.is(config.maxFields, 2);
  t.is(config.maxPatchOps, 3);
});

test('redaction hides passwords, tokens and URL credentials', (t) => {
  const config = parseServerConfig({ redisUrl: 'redis://:hunter2@redis:6379', namespaceTokens: { '0123456789abcdef': ['*'] } });
  const shown = JSON.stringify(redactServerConfig(config));
  t.false(shown.includes('hunter2'));
  t.false(shown.includes('0123456789abcdef'));
  const withPassword = JSON.stringify(redactServerConfig(parseServerConfig({ redisUsername: 'sessiond', redisPassword: 'hunter3' })));
  t.false(withPassword.includes('hunter3'));
});

test('a credential given both in redisUrl and as its own option is refused, naming the option', (t) => {
  const error = t.throws(() => parseServerConfig({ redisUrl: 'redis://app:pw@redis:6379', redisUsername: 'app', redisPassword: 'pw' }), { instanceOf: ServerConfigError });
  t.deepEqual(error!.problems.map((p) => p.option), ['redisUsername', 'redisPassword']);
});

test('TLS options: cert and key go together, a CA needs them, Redis TLS files need rediss://', (t) => {
  const problems = (raw: Record<string, unknown>): string[] => (t.throws(() => parseServerConfig(raw), { instanceOf: ServerConfigError })!).problems.map((p) => `${p.option}: ${p.message}`);
  t.regex(problems({ tlsKeyFile: 'k.pem' })[0]!, /^tlsKeyFile: tlsCertFile and tlsKeyFile go together/);
  t.regex(problems({ tlsCaFile: 'ca.pem' })[0]!, /^tlsCaFile: client certificates need TLS/);
  t.regex(problems({ redisTlsCaFile: 'ca.pem' })[0]!, /^redisTlsCaFile: needs a rediss:\/\/ redisUrl/);
  t.regex(problems({ redisUrl: 'rediss://r:6380', redisTlsCertFile: 'c.pem' })[0]!, /^redisTlsCertFile: redisTlsCertFile and redisTlsKeyFile go together/);
  const config = parseServerConfig({ tlsCertFile: 'c.pem', tlsKeyFile: 'k.pem', tlsCaFile: 'ca.pem', redisUrl: 'rediss://r:6380', redisTlsCaFile: 'ca.pem' });
  t.is(config.tlsCaFile, 'ca.pem');
});

test('ports above 65535 are refused with the value shown', (t) => {
  const error = t.throws(() => parseServerConfig({ listen: '127.0.0.1:99999', metricsListen: '[::1]:70000' }), { instanceOf: ServerConfigError });
  t.deepEqual(error!.problems, [
    { option: 'listen', message: 'expected host:port with a port from 0 to 65535, got "127.0.0.1:99999"' },
    { option: 'metricsListen', message: 'expected host:port with a port from 0 to 65535, got "[::1]:70000"' },
  ]);
});

test('docs/configuration.md has a row for every option, with its environment variable', (t) => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const [option, info] of Object.entries(SERVER_OPTIONS)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${option}\` |`));
    t.truthy(row, `${option} documented`);
    t.true(row?.includes(`\`${info.env}\``), `${option} row names ${info.env}`);
    if (info.sensitive) t.true(row?.includes(`\`${info.env}_FILE\``), `${option} row names ${info.env}_FILE`);
  }
});

test('a secret comes from <VAR>_FILE (one trailing newline dropped); the variable and its _FILE twin together are refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sessiond-config-'));
  writeFileSync(join(dir, 'password'), 's3cret-from-file\n');
  t.is(parseServerConfig(readServerEnv({ STICKLESS_REDIS_PASSWORD_FILE: join(dir, 'password') })).redisPassword, 's3cret-from-file');
  const error = t.throws(() => readServerEnv({ STICKLESS_REDIS_PASSWORD: 'x', STICKLESS_REDIS_PASSWORD_FILE: join(dir, 'password') }), { instanceOf: ServerConfigError });
  t.deepEqual(error!.problems, [{ option: 'STICKLESS_REDIS_PASSWORD_FILE', message: 'set either STICKLESS_REDIS_PASSWORD or STICKLESS_REDIS_PASSWORD_FILE, not both' }]);
  t.false(error!.message.includes('s3cret'));
});
