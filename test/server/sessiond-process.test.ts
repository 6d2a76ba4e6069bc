// sessiond as a real process: configuration errors listed by name, JSON logs without session ids,
// config file < environment < flags, and a graceful SIGTERM that finishes what is in flight.
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { call, dec, rawStub } from '../helpers/grpc.ts';
import { freePort, startRedis, uniquePrefix, deleteByPrefix, type RedisHandle } from '../helpers/redis.ts';
import { spawnSessiond, startSessiond, waitFor } from '../helpers/servers.ts';
import { checkHealth, healthClient } from '../helpers/health.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

/**
 * Waits until sessiond listens and serves: it listens before its Redis connection is up, and on a
 * busy machine a first call can come before that (UNAVAILABLE, "not connected yet").
 */
async function listening(process: ReturnType<typeof spawnSessiond>, address?: string, t?: ExecutionContext): Promise<void> {
  await waitFor(() => process.stdout().includes('sessiond listening') || process.child.exitCode !== null, 60_000, 'sessiond to listen');
  if (process.child.exitCode !== null) throw new Error(`sessiond exited: ${process.stderr()}`);
  if (address === undefined || t === undefined) return;
  const health = healthClient(t, address);
  await waitFor(async () => (await checkHealth(health, '').catch(() => 'UNKNOWN')) === 'SERVING', 60_000, 'sessiond to serve');
}

test('invalid configuration exits with status 2 and lists every problem by the name it was given under', async (t) => {
  const sessiond = spawnSessiond(t, ['--max-fields', 'many'], {
    STICKLESS_LISTEN: 'nowhere',
    STICKLESS_STORE: 'disk',
    STICKLESS_DEFAULT_TTL_MS: '-1',
  });
  t.is(await sessiond.exited, 2);
  const stderr = sessiond.stderr();
  for (const name of ['STICKLESS_LISTEN:', 'STICKLESS_STORE:', 'STICKLESS_DEFAULT_TTL_MS:', '--max-fields:']) {
    t.true(stderr.includes(`sessiond: ${name} `), `${name} is named as written in:\n${stderr}`);
  }
  t.is(stderr.trimEnd().split('\n').length, 4, 'one line per problem, no usage dump');
});

test('flags override the environment, which overrides the config file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sessiond-'));
  const file = join(dir, 'sessiond.yaml');
  writeFileSync(file, 'maxFields: 2\nmaxPatchOps: 3\nlogLevel: silent\n');
  const port = await freePort();
  const keyPrefix = uniquePrefix();
  t.teardown(() => deleteByPrefix(redis.url, keyPrefix));
  const sessiond = spawnSessiond(t, ['--config', file, '--max-patch-ops', '5', '--log-level', 'info'], {
    STICKLESS_LISTEN: `127.0.0.1:${port}`, REDIS_URL: redis.url, STICKLESS_KEY_PREFIX: keyPrefix, STICKLESS_MAX_PATCH_OPS: '4',
  });
  await listening(sessiond, `127.0.0.1:${port}`, t);
  const stub = rawStub(t, `127.0.0.1:${port}`);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns' });
  const ops = Array.from({ length: 6 }, (_, i) => ({ field: `f${i}`, delete: {} }));
  const error = (await t.throwsAsync(call(stub, 'Patch', { namespace: 'ns', id: created.session!.id, ops }))) as unknown as grpc.ServiceError;
  t.regex(error.details, /maxPatchOps \(5\)/, 'the flag wins over env (4) and file (3)');
  const fields = { a: Buffer.from([1]), b: Buffer.from([2]), c: Buffer.from([3]) };
  const tooMany = (await t.throwsAsync(call(stub, 'Put', { namespace: 'ns', id: created.session!.id, fields }))) as unknown as grpc.ServiceError;
  t.regex(tooMany.details, /maxFields \(2\)/, 'the file value applies where nothing overrides it');
});

test('logs are JSON lines that name the store first and never contain a session id', async (t) => {
  const port = await freePort();
  const sessiond = spawnSessiond(t, ['--log-level', 'debug'], { STICKLESS_LISTEN: `127.0.0.1:${port}`, STICKLESS_STORE: 'memory' });
  await listening(sessiond);
  const stub = rawStub(t, `127.0.0.1:${port}`);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns' });
  const id = created.session!.id;
  await t.throwsAsync(call(stub, 'Put', { namespace: 'ns', id, fields: { x: Buffer.from([0xc1]) } }));
  await call(stub, 'Regenerate', { namespace: 'ns', id });
  sessiond.child.kill('SIGTERM');
  t.is(await sessiond.exited, 0);
  const lines = sessiond.stdout().trim().split('\n');
  const records = lines.map((line) => JSON.parse(line) as { msg: string; level: number });
  t.regex(records[0]!.msg, /store: memory \(embedded/);
  t.true(records.some((r) => r.msg === 'rpc rejected'), 'the rejected call was logged at debug level');
  t.true(records.some((r) => r.msg === 'stopped'));
  t.false(sessiond.stdout().includes(id), 'no session id in the logs');
});

test('SIGTERM lets in-flight calls finish: every acknowledged increment is stored, none hangs', async (t) => {
  const port = await freePort();
  const keyPrefix = uniquePrefix();
  t.teardown(() => deleteByPrefix(redis.url, keyPrefix));
  const sessiond = spawnSessiond(t, [], {
    STICKLESS_LISTEN: `127.0.0.1:${port}`, REDIS_URL: redis.url, STICKLESS_KEY_PREFIX: keyPrefix, STICKLESS_LOG_LEVEL: 'info',
  });
  await listening(sessiond, `127.0.0.1:${port}`, t);
  const stub = rawStub(t, `127.0.0.1:${port}`);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns' });
  const watch = stub.Watch({ namespace: 'ns', id: created.session!.id }, { deadline: Date.now() + 30_000 });
  watch.on('data', () => {});
  watch.on('error', () => {});
  const watchEnded = new Promise<grpc.StatusObject>((resolve) => watch.on('status', resolve));

  let acknowledged = 0;
  let refused = 0;
  const writers = Array.from({ length: 8 }, async () => {
    for (let i = 0; i < 200; i++) {
      try {
        await call(stub, 'Patch', { namespace: 'ns', id: created.session!.id, ops: [{ field: 'n', incrementInt: 1 }] }, { deadlineMs: 10_000 });
        acknowledged += 1;
      } catch (error) {
        t.is((error as grpc.ServiceError).code, grpc.status.UNAVAILABLE, 'a refused call is UNAVAILABLE, never a timeout');
        refused += 1;
        return;
      }
    }
  });
  await waitFor(() => acknowledged >= 50, 60_000, 'some increments');
  sessiond.child.kill('SIGTERM');
  await Promise.all(writers);
  t.is(await sessiond.exited, 0);
  t.is((await watchEnded).code, grpc.status.OK, 'open watches are ended cleanly');
  t.true(refused > 0 || acknowledged === 1600);

  const reader = await startSessiond(t, { redis, config: { keyPrefix } });
  const got = await call<object, GetResponse__Output>(rawStub(t, reader.address), 'Get', { namespace: 'ns', id: created.session!.id });
  t.is(dec(got.session!.fields.n), acknowledged, 'every acknowledged increment was stored, and no other');
});
