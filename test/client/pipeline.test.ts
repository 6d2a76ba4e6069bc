// The client's Pipeline stream (client/call-pipe.ts) against real servers: one stream carries every
// per-session call; what each failure says about the calls it carried (a stream that never became
// ready sent nothing, one that broke later leaves the outcome unknown, a silent one runs into the
// deadline); kill -9 of a sessiond process with calls in flight; an older sessiond without the method;
// an idle stream half-closed so that a process can exit, and a burst beyond what one stream may carry.
import * as grpc from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import { CLIENT_CHANNELS, SessionError, type RetryMessage } from '../../client/index.ts';
import { PIPE_MAX_IN_FLIGHT } from '../../client/call-pipe.ts';
import { sessionServiceDefinition } from '../../proto/index.ts';
import { parseServerConfig } from '../../server/config.ts';
import { createSessionService } from '../../server/session-service.ts';
import { MemorySessionStore } from '../../server/session-store-memory.ts';
import { storeLimits } from '../../server/session-server.ts';
import { checkHealth, healthClient } from '../helpers/health.ts';
import { freePort, startOwnRedis, startRedis, type RedisHandle } from '../helpers/redis.ts';
import { spawnNode, spawnSessiond, startSessiond, waitFor } from '../helpers/servers.ts';
import { connect, fakeSessiond, namespace, record } from './client-harness.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

async function metric(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(20_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(labels) && !l.startsWith('#'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Unary calls a client makes (the Track and Pipeline streams not counted), and Pipeline streams it opens. */
function countingInterceptor(): { interceptor: grpc.Interceptor; unary: string[]; pipelines: () => number } {
  const unary: string[] = [];
  let pipelines = 0;
  const interceptor: grpc.Interceptor = (options, nextCall) => {
    const method = options.method_definition.path.split('/').at(-1)!;
    if (method === 'Pipeline') pipelines += 1;
    else if (method !== 'Track') unary.push(method);
    return new grpc.InterceptingCall(nextCall(options));
  };
  return { interceptor, unary, pipelines: () => pipelines };
}

const GRPC_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };

test('one Pipeline stream carries every per-session call of a client, concurrent ones included', async (t) => {
  const sessiond = await startSessiond(t, { redis, config: { metricsListen: '127.0.0.1:0' } });
  const port = sessiond.server.metricsPort!;
  const { interceptor, unary, pipelines } = countingInterceptor();
  const client = connect(t, { address: sessiond.address, namespace: namespace(), channelOptions: { interceptors: [interceptor] } });
  const created = await client.create({ n: 0 });
  const results = await Promise.all(Array.from({ length: 40 }, () => client.patch(created.id, [{ increment: 'n' }])));
  t.deepEqual(results.map((r) => r.version).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 2));
  t.is((await client.get(created.id))!.fields['n'], 40);
  t.true(await client.touch(created.id) !== undefined);
  t.true(await client.delete(created.id));
  t.deepEqual(unary, [], 'no unary call');
  t.is(pipelines(), 1);
  t.is(await metric(port, 'stickless_sessiond_rpc_total', 'method="Patch",code="OK"'), 40);
});

test('a stream that fails before sessiond\'s headers sent nothing: SESS_ERR_SERVICE_UNAVAILABLE, retried even without a key', async (t) => {
  const address = await fakeSessiond(t, (stream) => stream.session?.socket.destroy());
  const ns = namespace();
  const retries = record<RetryMessage>(t, CLIENT_CHANNELS.retry, ns);
  const client = connect(t, { address, namespace: ns, autoIdempotencyKeys: false, retry: { maxAttempts: 3, initialBackoffMs: 10 } });
  const error = await t.throwsAsync(client.create({ a: 1 }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_SERVICE_UNAVAILABLE', error.message);
  t.regex(error.message, /nothing was sent/);
  t.deepEqual(retries.map((r) => r.code), ['SESS_ERR_SERVICE_UNAVAILABLE', 'SESS_ERR_SERVICE_UNAVAILABLE']);
});

test('a stream that breaks after the call went out leaves its outcome unknown: a keyless mutation is not retried', async (t) => {
  const address = await fakeSessiond(t, (stream) => {
    stream.respond(GRPC_HEADERS);
    stream.on('data', () => stream.session?.socket.destroy());
  });
  const ns = namespace();
  const retries = record<RetryMessage>(t, CLIENT_CHANNELS.retry, ns);
  const client = connect(t, { address, namespace: ns, autoIdempotencyKeys: false });
  const error = await t.throwsAsync(client.create({ a: 1 }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_OUTCOME_UNKNOWN', error.message);
  t.regex(error.message, /broke before the answer came .*: a mutation may or may not have been applied/);
  t.deepEqual(retries, []);
});

test('a stream whose sessiond stops answering runs into the call\'s deadline, and says the outcome is unknown', async (t) => {
  const address = await fakeSessiond(t, (stream) => stream.respond(GRPC_HEADERS));
  const client = connect(t, { address, namespace: namespace(), deadlineMs: 300 });
  const error = await t.throwsAsync(client.patch('Q2hlY2tpbmcgdGhlIHRyYWNlIGNvbnRleHQgaG9wcyE', [{ set: 'a', value: 1 }]), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_DEADLINE_EXCEEDED');
  t.regex(error.message, /before the call's deadline \(deadlineMs\): a mutation may or may not have been applied/);
});

test('kill -9 of sessiond with pipelined calls in flight: a keyless patch is OUTCOME_UNKNOWN, a keyed one is retried and applied once', async (t) => {
  t.timeout(120_000);
  const own = await startOwnRedis();
  t.teardown(() => own.stop());
  const port = await freePort();
  const env = { STICKLESS_LISTEN: `127.0.0.1:${port}`, REDIS_URL: own.url, STICKLESS_COMMAND_TIMEOUT_MS: '15000', STICKLESS_CONNECT_TIMEOUT_MS: '15000' };
  const serving = async (process: ReturnType<typeof spawnSessiond>): Promise<void> => {
    const health = healthClient(t, `127.0.0.1:${port}`);
    await waitFor(async () => process.child.exitCode !== null || (await checkHealth(health, '').catch(() => 'UNKNOWN')) === 'SERVING', 45_000, 'sessiond to serve');
    t.is(process.child.exitCode, null, process.stderr());
  };
  const first = spawnSessiond(t, [], env);
  await serving(first);
  const retry = { maxAttempts: 1000, initialBackoffMs: 20, maxBackoffMs: 200 };
  const keyless = connect(t, { address: `127.0.0.1:${port}`, namespace: 'kill', autoIdempotencyKeys: false, retry });
  const keyed = connect(t, { address: `127.0.0.1:${port}`, namespace: 'kill', retry });
  const { id } = await keyless.create({ n: 0 });
  await keyed.get(id); // both streams are open and ready

  // Frozen, sessiond reads nothing: the patches wait in its socket when it dies.
  first.child.kill('SIGSTOP');
  const lost = keyless.patch(id, [{ increment: 'n' }]);
  const retried = keyed.patch(id, [{ increment: 'n' }]);
  await new Promise((resolve) => setImmediate(resolve));
  first.child.kill('SIGKILL');
  await first.exited;
  const error = await t.throwsAsync(lost, { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_OUTCOME_UNKNOWN', error.message);

  await serving(spawnSessiond(t, [], env));
  t.is((await retried).version, 2);
  t.is((await keyless.get(id))!.fields['n'], 1, 'the keyed patch applied once, the lost one never reached a running sessiond');
});

test('a sessiond without the Pipeline method (an older one) is detected: the calls go unary', async (t) => {
  const config = parseServerConfig({ store: 'memory', listen: '127.0.0.1:0', logLevel: 'silent' });
  const { handlers } = createSessionService(new MemorySessionStore(storeLimits(config)), { ...config }, pino({ level: 'silent' }));
  const older: Partial<typeof handlers> = { ...handlers };
  delete older.Pipeline;
  const server = new grpc.Server();
  server.addService(sessionServiceDefinition, older as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(() => server.forceShutdown());

  const { interceptor, unary, pipelines } = countingInterceptor();
  const client = connect(t, { address: `127.0.0.1:${port}`, namespace: namespace(), channelOptions: { interceptors: [interceptor] } });
  const created = await client.create({ n: 1 });
  await client.patch(created.id, [{ increment: 'n' }]);
  t.is((await client.get(created.id))!.fields['n'], 2);
  t.is(pipelines(), 1, 'asked once');
  t.deepEqual(unary, ['Create', 'Patch', 'Get']);
});

test('an idle stream is half-closed, so a process that never closes its client still exits; the next call opens a new one', async (t) => {
  const sessiond = await startSessiond(t, { store: 'memory', config: { metricsListen: '127.0.0.1:0' } });
  const port = sessiond.server.metricsPort!;
  const worker = spawnNode(t, fileURLToPath(new URL('./pipeline-exit-worker.ts', import.meta.url)), [sessiond.address]);
  t.is(await worker.exited, 0, worker.stderr());
  t.is(worker.stdout(), 'created\n');

  const { interceptor, pipelines } = countingInterceptor();
  const client = connect(t, { address: sessiond.address, namespace: namespace(), channelOptions: { interceptors: [interceptor] } });
  const created = await client.create({ n: 1 });
  await waitFor(async () => (await metric(port, 'stickless_sessiond_pipeline_streams')) === 0, 20_000, 'the idle stream to end');
  t.is((await client.patch(created.id, [{ increment: 'n' }])).version, 2);
  t.is(pipelines(), 2);
});

test('a burst beyond what one stream may carry waits in the client: sessiond never sees more than its default maxPipelinedCalls', async (t) => {
  // A Pipeline server that takes calls and never answers, counting what reaches it.
  let received = 0;
  const server = new grpc.Server();
  server.addService(sessionServiceDefinition, {
    Pipeline: (stream: grpc.ServerDuplexStream<unknown, unknown>) => {
      stream.sendMetadata(new grpc.Metadata());
      stream.on('data', () => void (received += 1));
    },
  } as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(() => server.forceShutdown());
  // The deadline is a bound for a busy machine to get the stream ready and the calls across.
  const client = connect(t, { address: `127.0.0.1:${port}`, namespace: namespace(), deadlineMs: 10_000, retry: { maxAttempts: 1 } });
  const calls = Array.from({ length: PIPE_MAX_IN_FLIGHT + 200 }, (_, i) => client.get(`Q2hlY2tpbmcgdGhlIHRyYWNlIGNvbnRleHQgaG9wcy${String.fromCharCode(65 + (i % 26))}`));
  await waitFor(() => received >= PIPE_MAX_IN_FLIGHT, 20_000, 'the first calls to reach the server');
  const errors = (await Promise.allSettled(calls)).map((r) => (r.status === 'rejected' ? (r.reason as SessionError) : undefined));
  t.is(received, PIPE_MAX_IN_FLIGHT, 'calls on the wire at most');
  t.true(errors.every((e) => e?.code === 'SESS_ERR_DEADLINE_EXCEEDED'));
  t.is(errors.filter((e) => /still waiting to be sent .*nothing was sent/.test(e!.message)).length, 200, 'the calls held back say they were never sent');
});
