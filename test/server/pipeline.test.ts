// The Pipeline stream on the wire, from a raw stub: calls answered by call_id with what their unary
// methods answer (errors included, with code and current version), bad messages refused per call,
// the in-flight bound, namespace tokens per call, the drain at shutdown and at half-close, and each
// call's own log context.
import * as grpc from '@grpc/grpc-js';
import { Writable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import type { PipelineReply__Output } from '../../proto/generated/stickless/session/v1/PipelineReply.ts';
import type { PipelineRequest } from '../../proto/generated/stickless/session/v1/PipelineRequest.ts';
import { parseServerConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { createSessionServer } from '../../server/session-server.ts';
import { startOwnRedis, startRedis, type RedisHandle } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';
import { dec, enc, rawStub } from '../helpers/grpc.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

type Stream = grpc.ClientDuplexStream<PipelineRequest, PipelineReply__Output>;

/** A Pipeline stream whose answers are collected, and its final status. */
function openPipeline(t: ExecutionContext, address: string, metadata = new grpc.Metadata()) {
  const stream: Stream = rawStub(t, address).pipeline(metadata);
  t.teardown(() => stream.cancel());
  const replies: PipelineReply__Output[] = [];
  stream.on('data', (reply: PipelineReply__Output) => replies.push(reply));
  stream.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  const ready = new Promise<void>((resolve) => stream.once('metadata', () => resolve()));
  const answer = (callId: number): Promise<PipelineReply__Output> => waitFor(() => replies.find((r) => r.callId === callId), 20_000, `the answer to call ${callId}`);
  return { stream, replies, status, ready, answer };
}

test('calls are answered by call_id with what the unary methods answer, errors as messages with code and version', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const { stream, answer } = openPipeline(t, sessiond.address);
  stream.write({ callId: 1, create: { namespace: 'p', fields: { cart: enc([]) } } });
  const created = await answer(1);
  t.is(created.result, 'session');
  const id = created.session!.session!.id;
  t.is(created.session!.session!.version, 1);

  stream.write({ callId: 2, patch: { namespace: 'p', id, ops: [{ field: 'cart', append: enc('sku-1') }] } });
  stream.write({ callId: 3, get: { namespace: 'p', id, minVersion: 0 } });
  stream.write({ callId: 4, put: { namespace: 'p', id, fields: {}, options: { expectedVersion: 1 } } });
  stream.write({ callId: 5, touch: { namespace: 'p', id, ttlMs: 60_000 } });
  const [patched, , conflict, touched] = await Promise.all([answer(2), answer(3), answer(4), answer(5)]);
  t.is(patched.session!.session!.version, 2);
  t.deepEqual(dec(patched.session!.session!.fields['cart']), ['sku-1']);
  t.is(conflict.result, 'error');
  t.like(conflict.error, { status: grpc.status.ABORTED, code: 'SESS_ERR_VERSION_CONFLICT', currentVersion: 2 });
  t.is(conflict.error!.message, 'version conflict: the session is at version 2');
  t.like(touched, { result: 'touch', touch: { found: true, version: 2 } });

  stream.write({ callId: 6, get: { namespace: 'p', id, minVersion: 9 } });
  t.like((await answer(6)).error, { status: grpc.status.FAILED_PRECONDITION, code: 'SESS_ERR_VERSION_BEHIND', currentVersion: 2 });
  stream.write({ callId: 7, delete: { namespace: 'p', id } });
  t.like(await answer(7), { result: 'delete', delete: { deleted: true } });
  stream.write({ callId: 8, get: { namespace: 'p', id } });
  t.like(await answer(8), { result: 'get', get: { found: false } });
  stream.write({ callId: 9, patch: { namespace: 'p', id, ops: [{ field: 'cart', append: enc('sku-2') }] } });
  t.like((await answer(9)).error, { status: grpc.status.NOT_FOUND, code: 'SESS_ERR_NOT_FOUND' });
});

test('a message without a call, a call_id already in flight and calls past maxPipelinedCalls are refused by name; nothing of them is applied', async (t) => {
  const own = await startOwnRedis();
  t.teardown(() => own.stop());
  const sessiond = await startSessiond(t, { redis: own, config: { maxPipelinedCalls: 3 } });
  const { stream, answer, replies } = openPipeline(t, sessiond.address);
  stream.write({ callId: 1, create: { namespace: 'p', fields: {} } });
  const id = (await answer(1)).session!.session!.id;

  stream.write({ callId: 2 });
  t.like((await answer(2)).error, { status: grpc.status.INVALID_ARGUMENT, code: 'SESS_ERR_INVALID_ARGUMENT', message: 'call: expected one of create, get, put, patch, delete, touch, regenerate' });

  // Redis frozen: the first patches stay in flight until it thaws.
  own.pause!(true);
  let thawed = false;
  t.teardown(() => {
    if (!thawed) own.pause!(false);
  });
  const increment = (callId: number): void => void stream.write({ callId, patch: { namespace: 'p', id, ops: [{ field: 'n', incrementInt: 1 }] } });
  increment(10);
  increment(10);
  increment(11);
  increment(12);
  increment(13);
  const duplicate = await waitFor(() => replies.find((r) => r.callId === 10), 20_000, 'the duplicate refused');
  t.like(duplicate.error, { status: grpc.status.INVALID_ARGUMENT, code: 'SESS_ERR_INVALID_ARGUMENT' });
  t.regex(duplicate.error!.message, /^call_id 10: a call with this id is already in flight/);
  const over = await answer(13);
  t.like(over.error, { status: grpc.status.RESOURCE_EXHAUSTED, code: 'SESS_ERR_LIMIT_EXCEEDED' });
  t.regex(over.error!.message, /3 calls in flight .* maxPipelinedCalls \(3\) allows; this call was not applied/);

  own.pause!(false);
  thawed = true;
  const answered = await Promise.all([10, 11, 12].map((callId) => waitFor(() => replies.filter((r) => r.callId === callId && r.result === 'session')[0], 20_000, `call ${callId}`)));
  t.deepEqual(answered.map((r) => r.session!.session!.version).sort(), [2, 3, 4]);
  stream.write({ callId: 14, get: { namespace: 'p', id } });
  t.deepEqual(dec((await answer(14)).get!.session!.fields['n']), 3, 'three increments applied: not the duplicate, not the one over the bound');
});

test('namespace tokens are checked per call against the stream\'s authorization', async (t) => {
  const token = 'pipeline-token-0123456789';
  const sessiond = await startSessiond(t, { store: 'memory', config: { namespaceTokens: { [token]: ['shop'] } } });
  const anonymous = openPipeline(t, sessiond.address);
  anonymous.stream.write({ callId: 1, create: { namespace: 'shop', fields: {} } });
  t.like((await anonymous.answer(1)).error, { status: grpc.status.UNAUTHENTICATED, code: 'SESS_ERR_UNAUTHENTICATED' });

  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const granted = openPipeline(t, sessiond.address, metadata);
  granted.stream.write({ callId: 1, create: { namespace: 'shop', fields: {} } });
  granted.stream.write({ callId: 2, create: { namespace: 'other', fields: {} } });
  t.is((await granted.answer(1)).result, 'session');
  const denied = (await granted.answer(2)).error!;
  t.like(denied, { status: grpc.status.PERMISSION_DENIED, code: 'SESS_ERR_PERMISSION_DENIED' });
  t.regex(denied.message, /namespace "other"/);
});

test('a graceful stop answers the calls in flight, refuses later ones as not applied, then ends the stream OK', async (t) => {
  const own = await startOwnRedis();
  t.teardown(() => own.stop());
  const sessiond = await startSessiond(t, { redis: own });
  const { stream, answer, status, ready } = openPipeline(t, sessiond.address);
  stream.write({ callId: 1, create: { namespace: 'p', fields: {} } });
  const id = (await answer(1)).session!.session!.id;
  await ready;

  own.pause!(true);
  let thawed = false;
  t.teardown(() => {
    if (!thawed) own.pause!(false);
  });
  stream.write({ callId: 2, patch: { namespace: 'p', id, ops: [{ field: 'n', incrementInt: 1 }] } });
  // Calls are taken in order: once this refusal is back, call 2 is running.
  stream.write({ callId: 99 });
  await answer(99);
  const stopping = sessiond.server.close();
  stream.write({ callId: 3, patch: { namespace: 'p', id, ops: [{ field: 'n', incrementInt: 1 }] } });
  const refused = await answer(3);
  t.like(refused.error, { status: grpc.status.UNAVAILABLE, code: 'SESS_ERR_SERVICE_UNAVAILABLE' });
  t.regex(refused.error!.message, /not applied/);

  own.pause!(false);
  thawed = true;
  t.is((await answer(2)).session!.session!.version, 2, 'the call in flight was answered');
  t.is((await status).code, grpc.status.OK);
  await stopping;
});

test('a client that half-closes the stream gets every answer, then the end', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const { stream, replies, status } = openPipeline(t, sessiond.address);
  for (let callId = 1; callId <= 20; callId++) stream.write({ callId, create: { namespace: 'p', fields: { n: enc(callId) } } });
  stream.end();
  t.is((await status).code, grpc.status.OK);
  t.deepEqual(replies.map((r) => r.callId).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
  t.true(replies.every((r) => r.result === 'session'));
});

test('each pipelined call is logged with its own request id and trace id, else the stream\'s', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const config = parseServerConfig({ store: 'memory', listen: '127.0.0.1:0', logLevel: 'debug' });
  const server = await createSessionServer(config, { logger: createLogger('debug', sink) });
  t.teardown(() => server.destroy());
  const metadata = new grpc.Metadata();
  metadata.set('x-request-id', 'stream-req');
  const { stream, answer } = openPipeline(t, `127.0.0.1:${server.port}`, metadata);
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const missing = 'Q2hlY2tpbmcgdGhlIHRyYWNlIGNvbnRleHQgaG9wcyE';
  stream.write({ callId: 1, requestId: 'call-req', traceparent: `00-${traceId}-00f067aa0ba902b7-01`, patch: { namespace: 'p', id: missing, ops: [{ field: 'a', incrementInt: 1 }] } });
  stream.write({ callId: 2, patch: { namespace: 'p', id: missing, ops: [{ field: 'a', incrementInt: 1 }] } });
  t.like((await answer(1)).error, { code: 'SESS_ERR_NOT_FOUND' });
  t.like((await answer(2)).error, { code: 'SESS_ERR_NOT_FOUND' });
  const rejected = lines.filter((line) => line['msg'] === 'rpc rejected');
  t.like(rejected.find((line) => line['reqId'] === 'call-req'), { method: 'Patch', code: 'SESS_ERR_NOT_FOUND', traceId });
  t.like(rejected.find((line) => line['reqId'] === 'stream-req'), { method: 'Patch', code: 'SESS_ERR_NOT_FOUND' });
});
