// What the client does when things go wrong: deadlines against a server that never answers; sessiond
// unreachable told from store unreachable; retries of failures that applied nothing always, of
// outcome-unknown ones only when safe; errors rehydrated with their stable codes, tokens, close.
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { CLIENT_CHANNELS, SessionError, type RetryMessage, type SessionClientInit } from '../../client/index.ts';
import { freePort, startOwnRedis, startRedis, type RedisHandle } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';
import { connect, fakeSessiond, listenOnLoopback, namespace, record, setup as setupWith } from './client-harness.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const unknownId = (): string => randomBytes(32).toString('base64url');

// Reconnect quickly after a refused connection, so retries see a server that just came up.
const FAST_RECONNECT = {
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 100,
  'grpc.use_local_subchannel_pool': 1,
};

/** A TCP server that accepts connections and never says a word (no HTTP/2 settings). */
async function silentServer(t: ExecutionContext): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  return listenOnLoopback(t, server, sockets);
}

/** A client of an address where nothing listens, recording its retries. */
async function deadClient(t: ExecutionContext, init: Partial<SessionClientInit> = {}) {
  const ns = namespace();
  const retries = record<RetryMessage>(t, CLIENT_CHANNELS.retry, ns);
  const client = connect(t, {
    address: `127.0.0.1:${await freePort()}`,
    namespace: ns,
    deadlineMs: 30_000, // every attempt fails at once (connection refused); a bound, not a timing
    retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 },
    channelOptions: FAST_RECONNECT,
    ...init,
  });
  return { client, retries, ns };
}

test('a call to a server that accepts TCP but never answers rejects once its deadline passes', async (t) => {
  t.timeout(10_000);
  const client = connect(t, { address: await silentServer(t), namespace: namespace(), deadlineMs: 300 });
  for (const call of [() => client.get(unknownId()), () => client.create({ a: 1 }), () => client.patch(unknownId(), [{ increment: 'n' }], { deadlineMs: 200 })]) {
    const error = await t.throwsAsync(call(), { instanceOf: SessionError });
    t.true(['SESS_ERR_DEADLINE_EXCEEDED', 'SESS_ERR_SERVICE_UNAVAILABLE'].includes(error.code), error.code);
  }
});

test('a client whose sessiond is not running gets SESS_ERR_SERVICE_UNAVAILABLE in our words, not a store code', async (t) => {
  const { client } = await deadClient(t, { retry: { maxAttempts: 1 } });
  const error = await t.throwsAsync(client.get(unknownId()), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_SERVICE_UNAVAILABLE');
  t.regex(error.message, new RegExp(`^sessiond at ${client.options.address.replace(/\./g, '\\.')} is unreachable \\(connection refused\\); nothing was sent$`));
  t.notRegex(error.message, /No connection established|Last error|ECONNREFUSED/, 'grpc-js wording stays in the cause');
  t.is((error.cause as { code: number }).code, 14, 'the grpc ServiceError (UNAVAILABLE) is the cause');
});

test('sessiond unreachable applied nothing: every call is retried, mutations without an idempotency key included', async (t) => {
  const { client, retries } = await deadClient(t, { autoIdempotencyKeys: false });
  const error = await t.throwsAsync(client.create({ a: 1 }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_SERVICE_UNAVAILABLE');
  await t.throwsAsync(client.patch(unknownId(), [{ increment: 'n' }]), { instanceOf: SessionError });
  await t.throwsAsync(client.get(unknownId()), { instanceOf: SessionError });
  t.deepEqual(retries.map((r) => [r.method, r.attempt, r.code]), [
    ['create', 1, 'SESS_ERR_SERVICE_UNAVAILABLE'], ['create', 2, 'SESS_ERR_SERVICE_UNAVAILABLE'],
    ['patch', 1, 'SESS_ERR_SERVICE_UNAVAILABLE'], ['patch', 2, 'SESS_ERR_SERVICE_UNAVAILABLE'],
    ['get', 1, 'SESS_ERR_SERVICE_UNAVAILABLE'], ['get', 2, 'SESS_ERR_SERVICE_UNAVAILABLE'],
  ]);
});

test('sessiond up, Redis down: SESS_ERR_STORE_UNAVAILABLE (not the service code), retried even without a key', async (t) => {
  const own = await startOwnRedis();
  t.teardown(() => own.stop());
  const sessiond = await startSessiond(t, { redis: own, config: { commandTimeoutMs: 300, connectTimeoutMs: 300 } });
  const ns = namespace();
  const retries = record<RetryMessage>(t, CLIENT_CHANNELS.retry, ns);
  const client = connect(t, { address: sessiond.address, namespace: ns, autoIdempotencyKeys: false, retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 } });
  await own.kill();
  const error = await waitFor(async () => {
    const failure = await client.create({ a: 1 }).then(() => undefined, (e: unknown) => e as SessionError);
    return failure?.code === 'SESS_ERR_STORE_UNAVAILABLE' ? failure : undefined;
  }, 20_000, 'STORE_UNAVAILABLE');
  t.regex(error.message, new RegExp(`^Redis at 127\\.0\\.0\\.1:${own.port} is unreachable \\(.+\\); nothing was applied$`));
  t.notRegex(error.message, /enableOfflineQueue|Stream isn't writeable/);
  t.true(retries.some((r) => r.method === 'create' && r.code === 'SESS_ERR_STORE_UNAVAILABLE'), 'a keyless create that applied nothing is retried');
});

test('outcome unknown (Redis frozen): a keyless mutation is not retried; one with an idempotency key is, and applies once', async (t) => {
  const own = await startOwnRedis();
  t.teardown(() => own.stop());
  if (!own.pause) return t.fail('this test needs a redis-server process it can freeze');
  t.teardown(() => own.pause?.(false));
  const sessiond = await startSessiond(t, { redis: own, config: { commandTimeoutMs: 1000 } });
  const ns = namespace();
  const retries = record<RetryMessage>(t, CLIENT_CHANNELS.retry, ns);
  const client = connect(t, {
    address: sessiond.address, namespace: ns, autoIdempotencyKeys: false, deadlineMs: 20_000,
    retry: { maxAttempts: 1000, initialBackoffMs: 50, maxBackoffMs: 200 },
  });
  const { id } = await client.create({ n: 0 });
  await client.patch(id, [{ increment: 'n' }]);

  own.pause(true);
  const keyless = await t.throwsAsync(client.patch(id, [{ increment: 'n' }]), { instanceOf: SessionError });
  t.is(keyless.code, 'SESS_ERR_OUTCOME_UNKNOWN');
  t.regex(keyless.message, /did not answer within 1000 ms: the write may or may not have been applied/);
  t.deepEqual(retries, [], 'a keyless mutation that may have applied is not sent again');

  const keyed = client.patch(id, [{ increment: 'n' }], { idempotencyKey: 'frozen-key' });
  await waitFor(() => retries.some((r) => r.code === 'SESS_ERR_OUTCOME_UNKNOWN'), 20_000, 'a retry of the keyed patch');
  own.pause(false);
  const result = await keyed;
  t.true(retries.every((r) => r.method === 'patch'));
  // 1 (first patch) + 1 (keyless, applied when Redis woke up) + 1 (keyed, applied once however often sent).
  t.is((await client.get(id))!.fields.n, 3);
  t.is(result.version, 4);
});

test('a connection to sessiond dropped during a unary call is SESS_ERR_OUTCOME_UNKNOWN, not retried without a key', async (t) => {
  // Takes the call, then drops the whole connection without an answer.
  const address = await fakeSessiond(t, (stream) => stream.session?.socket.destroy());
  const ns = namespace();
  const retries = record<RetryMessage>(t, CLIENT_CHANNELS.retry, ns);
  const client = connect(t, {
    address, namespace: ns, autoIdempotencyKeys: false, deadlineMs: 20_000, pipeline: false,
  });
  const error = await t.throwsAsync(client.create({ a: 1 }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_OUTCOME_UNKNOWN', error.message);
  t.regex(error.message, /dropped before the answer came: a mutation may or may not have been applied/);
  t.deepEqual(retries, []);
});

test('a get is retried until the server comes up, then succeeds', async (t) => {
  t.timeout(30_000);
  const port = await freePort();
  const ns = namespace();
  const retries = record<RetryMessage>(t, CLIENT_CHANNELS.retry, ns);
  const client = connect(t, {
    address: `127.0.0.1:${port}`,
    namespace: ns,
    deadlineMs: 20_000,
    retry: { maxAttempts: 1000, initialBackoffMs: 20, maxBackoffMs: 100 },
    channelOptions: FAST_RECONNECT,
  });
  const pending = client.get(unknownId());
  await waitFor(() => retries.length >= 2, 10_000, 'two failed attempts');
  await startSessiond(t, { redis, config: { listen: `127.0.0.1:${port}` } });
  t.is(await pending, undefined);
  t.true(retries.length >= 2);
  t.true(retries.every((r) => r.method === 'get' && r.code === 'SESS_ERR_SERVICE_UNAVAILABLE'));
  const created = await client.create({ up: true });
  t.deepEqual((await client.get(created.id))!.fields, { up: true });
});

for (const pipeline of [true, false]) test(`errors come back as SessionError with the stable code: NOT_FOUND, INVALID_ID, ALREADY_EXISTS, WRONG_TYPE (${pipeline ? 'Pipeline stream' : 'unary calls'})`, async (t) => {
  const { client } = await setupWith(t, { redis }, { pipeline });
  const notFound = await t.throwsAsync(client.patch(unknownId(), [{ set: 'a', value: 1 }]), { instanceOf: SessionError });
  t.is(notFound.code, 'SESS_ERR_NOT_FOUND');
  // A unary call's failure keeps grpc-js' ServiceError; a pipelined call's answer is a message, not a status.
  if (!pipeline) t.is((notFound.cause as { code: number }).code, 5, 'the grpc ServiceError is the cause');

  const invalidId = await t.throwsAsync(client.get('not-a-session-id'), { instanceOf: SessionError });
  t.is(invalidId.code, 'SESS_ERR_INVALID_ID');
  t.regex(invalidId.message, /43 base64url/);

  const id = unknownId();
  await client.create({}, { id });
  const exists = await t.throwsAsync(client.create({}, { id }), { instanceOf: SessionError });
  t.is(exists.code, 'SESS_ERR_ALREADY_EXISTS');

  await client.patch(id, [{ set: 's', value: 'text' }]);
  const wrongType = await t.throwsAsync(client.patch(id, [{ increment: 's' }]), { instanceOf: SessionError });
  t.is(wrongType.code, 'SESS_ERR_WRONG_TYPE');
});

test('SESS_ERR_LIMIT_EXCEEDED names the limit that was hit', async (t) => {
  const { client } = await setupWith(t, { redis, config: { maxFieldBytes: 64, maxPatchOps: 2 } });
  const tooBig = await t.throwsAsync(client.create({ blob: 'x'.repeat(100) }), { instanceOf: SessionError });
  t.is(tooBig.code, 'SESS_ERR_LIMIT_EXCEEDED');
  t.regex(tooBig.message, /maxFieldBytes/);
  const { id } = await client.create({});
  const tooMany = await t.throwsAsync(client.patch(id, [{ increment: 'a' }, { increment: 'b' }, { increment: 'c' }]), { instanceOf: SessionError });
  t.is(tooMany.code, 'SESS_ERR_LIMIT_EXCEEDED');
  t.regex(tooMany.message, /maxPatchOps/);
});

test('bad arguments are rejected on the client with SESS_ERR_INVALID_ARGUMENT before any call', async (t) => {
  const { client, retries } = await deadClient(t);
  const badOp = await t.throwsAsync(client.patch(unknownId(), [{ increment: 'n', by: Number.NaN }]), { instanceOf: SessionError });
  t.is(badOp.code, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(badOp.message, /ops\[0\]\.by/);
  const unknownOp = await t.throwsAsync(client.patch(unknownId(), [{ rename: 'n' } as never]), { instanceOf: SessionError });
  t.regex(unknownOp.message, /ops\[0\]: expected one of set, delete, increment, append/);
  const badDeadline = await t.throwsAsync(client.get(unknownId(), { deadlineMs: 0 }), { instanceOf: SessionError });
  t.regex(badDeadline.message, /deadlineMs/);
  const unencodable = await t.throwsAsync(client.create({ n: 1n << 70n }), { instanceOf: SessionError });
  t.regex(unencodable.message, /fields\.n: cannot encode/);
  t.deepEqual(retries, []);
});

test('the token is sent as a bearer token; without it the call is UNAUTHENTICATED, with another PERMISSION_DENIED', async (t) => {
  const ns = namespace();
  const token = `token-${'x'.repeat(20)}`;
  const sessiond = await startSessiond(t, { redis, config: { namespaceTokens: { [token]: [ns] } } });
  const missing = await t.throwsAsync(connect(t, { address: sessiond.address, namespace: ns }).create({}), { instanceOf: SessionError });
  t.is(missing.code, 'SESS_ERR_UNAUTHENTICATED');
  const denied = await t.throwsAsync(connect(t, { address: sessiond.address, namespace: namespace(), token }).create({}), { instanceOf: SessionError });
  t.is(denied.code, 'SESS_ERR_PERMISSION_DENIED');
  const client = connect(t, { address: sessiond.address, namespace: ns, token });
  const { id } = await client.create({ ok: true });
  t.deepEqual((await client.get(id))!.fields, { ok: true });
});

test('close() lets calls in flight finish, ends watches, then rejects new calls; destroy() cancels', async (t) => {
  const { client, ns } = await setupWith(t, { redis });
  const { id } = await client.create({ n: 1 });
  const watch = client.watch(id);
  t.is((await watch.next()).value?.kind, 'SNAPSHOT');
  const inFlight = client.get(id);
  const closed = client.close();
  t.is((await inFlight)!.fields.n, 1);
  await closed;
  t.true((await watch.next()).done);
  const after = await t.throwsAsync(client.get(id), { instanceOf: SessionError });
  t.regex(after.message, /closed/);
  await client.close();

  const silent = connect(t, { address: await silentServer(t), namespace: ns, deadlineMs: 20_000 });
  const hanging = silent.get(id);
  await silent.destroy();
  await t.throwsAsync(hanging, { instanceOf: SessionError });
});
