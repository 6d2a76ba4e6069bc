// issue 7, point 8: sessiond reaches Redis over TLS (rediss://, a CA file, a client certificate when
// Redis asks for one) as an ACL user whose password comes from a file, and never logs its secrets.
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { parseServerConfig } from '../../server/config.ts';
import { createRedisConnection } from '../../server/redis-connection.ts';
import { createSessionServer } from '../../server/session-server.ts';
import { call, dec, enc, rawStub } from '../helpers/grpc.ts';
import { freePort, startRedisProcess, uniquePrefix } from '../helpers/redis.ts';
import { spawnSessiond, waitFor } from '../helpers/servers.ts';
import { createTestPki } from '../helpers/tls.ts';

const PASSWORD = 'redis-secret-3f9c2a7d51e8';
const TOKEN = 'namespace-token-8b1e44c0d6a2';

/** A redis-server with a TLS port and an ACL user `sessiond`; the default user may only PING/INFO. */
async function startTlsRedis(t: ExecutionContext, authClients: 'yes' | 'no'): Promise<{ pki: ReturnType<typeof createTestPki>; url: string }> {
  const pki = createTestPki(t);
  const cert = pki.issueServer('redis');
  const tlsPort = await freePort();
  const redis = await startRedisProcess([
    '--tls-port', String(tlsPort), '--tls-cert-file', cert.certFile, '--tls-key-file', cert.keyFile, '--tls-ca-cert-file', pki.caFile,
    '--tls-auth-clients', authClients,
    '--user', 'default', 'reset', 'on', 'nopass', '+ping', '+info',
    '--user', 'sessiond', 'on', `>${PASSWORD}`, '~*', '&*', '+@all',
  ]);
  t.teardown(() => redis.stop());
  return { pki, url: `rediss://127.0.0.1:${tlsPort}` };
}

test('sessiond reaches Redis over rediss:// as an ACL user, password and tokens from *_FILE, and logs none of its secrets', async (t) => {
  const { pki, url } = await startTlsRedis(t, 'no');
  const passwordFile = join(pki.dir, 'redis-password');
  const tokensFile = join(pki.dir, 'tokens.json');
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  writeFileSync(tokensFile, JSON.stringify({ [TOKEN]: ['shop'] }));
  const port = await freePort();
  const keyPrefix = uniquePrefix();
  const sessiond = spawnSessiond(t, ['--log-level', 'trace'], {
    STICKLESS_LISTEN: `127.0.0.1:${port}`, REDIS_URL: url, STICKLESS_KEY_PREFIX: keyPrefix,
    STICKLESS_REDIS_USERNAME: 'sessiond', STICKLESS_REDIS_PASSWORD_FILE: passwordFile, STICKLESS_REDIS_TLS_CA_FILE: pki.caFile,
    STICKLESS_NAMESPACE_TOKENS_FILE: tokensFile,
  });
  await waitFor(() => sessiond.stdout().includes('sessiond listening') || sessiond.child.exitCode !== null, 60_000, 'sessiond to listen');
  t.is(sessiond.child.exitCode, null, sessiond.stderr());

  const stub = rawStub(t, `127.0.0.1:${port}`);
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${TOKEN}`);
  const created = await waitFor(
    () => call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop', fields: { n: enc(7) } }, { metadata, deadlineMs: 30_000 }).catch(() => undefined),
    60_000, 'a Create through TLS Redis',
  );
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: 'shop', id: created.session!.id }, { metadata, deadlineMs: 30_000 });
  t.is(dec(got.session!.fields.n), 7);

  const refused = await t.throwsAsync(call(stub, 'Create', { namespace: 'billing' }, { metadata, deadlineMs: 30_000 }));
  t.is((refused as unknown as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED);

  const direct = new Redis(url, { username: 'sessiond', password: PASSWORD, tls: { ca: readFileSync(pki.caFile) }, maxRetriesPerRequest: 0 });
  t.teardown(() => direct.disconnect());
  t.true((await direct.keys(`${keyPrefix}*`)).length > 0, 'the session is in the TLS Redis, written as user sessiond');

  sessiond.child.kill('SIGTERM');
  t.is(await sessiond.exited, 0);
  const output = sessiond.stdout() + sessiond.stderr();
  t.true(output.includes('rpc rejected'), 'the refused call was logged at debug level');
  t.false(output.includes(PASSWORD), 'no Redis password in the logs');
  t.false(output.includes(TOKEN), 'no namespace token in the logs');
  t.true(output.includes('[REDACTED]'), 'secrets are shown as [REDACTED]');
});

test('a Redis that requires client certificates is reached with redisTlsCertFile and redisTlsKeyFile', async (t) => {
  const { pki, url } = await startTlsRedis(t, 'yes');
  const clientCert = pki.issueClient('sessiond');
  const config = parseServerConfig({
    listen: '127.0.0.1:0', redisUrl: url, keyPrefix: uniquePrefix(), logLevel: 'silent',
    redisUsername: 'sessiond', redisPassword: PASSWORD, redisTlsCaFile: pki.caFile, redisTlsCertFile: clientCert.certFile, redisTlsKeyFile: clientCert.keyFile,
  });
  const server = await createSessionServer(config, { logger: pino({ level: 'silent' }) });
  t.teardown(() => server.destroy());
  const stub = rawStub(t, `127.0.0.1:${server.port}`);
  const created = await waitFor(() => call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns' }, { deadlineMs: 30_000 }).catch(() => undefined), 60_000, 'a Create');
  t.truthy(created.session?.id);
});

test('Sentinel mode passes the ACL user, password and TLS to the servers and TLS to the sentinels', (t) => {
  const tls = { ca: Buffer.from('ca') };
  const redis = createRedisConnection({
    url: 'rediss://', sentinels: ['127.0.0.1:26379'], sentinelName: 'mymaster', username: 'sessiond', password: PASSWORD, tls,
    commandTimeoutMs: 1000, connectTimeoutMs: 1000,
  });
  t.teardown(() => redis.disconnect());
  const options = redis.options as Record<string, unknown>;
  t.is(options.username, 'sessiond');
  t.is(options.password, PASSWORD);
  t.is(options.tls, tls);
  t.is(options.sentinelTLS, tls);
  t.true(options.enableTLSForSentinelMode);
});
