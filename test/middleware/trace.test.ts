// Traces across the hops: the app request's W3C traceparent reaches sessiond as gRPC metadata or in
// the pipelined call (no OpenTelemetry SDK needed), each client call is a CLIENT span when a tracer provider is registered,
// sessiond's log lines inside an RPC carry the request and trace ids, and the proxy hands the app a
// traceparent and x-request-id (the client's, or new ones).
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, trace, type Span, type SpanContext, type SpanOptions, type Tracer, type TracerProvider, type Context } from '@opentelemetry/api';
import test, { type ExecutionContext } from 'ava';
import { SessionClient } from '../../client/index.ts';
import { sessionMiddleware, type RequestSession } from '../../client/middleware.ts';
import { sessionServiceDefinition } from '../../proto/index.ts';
import type { PipelineReply } from '../../proto/generated/stickless/session/v1/PipelineReply.ts';
import type { PipelineRequest__Output } from '../../proto/generated/stickless/session/v1/PipelineRequest.ts';
import { createLogger, withRpcLogContext } from '../../server/logger.ts';
import { startProxy, testConfig } from '../helpers/proxy-harness.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const SESSION_ID = 'Q2hlY2tpbmcgdGhlIHRyYWNlIGNvbnRleHQgaG9wcyE';

/**
 * A real gRPC server speaking SessionService that records each call's trace context and answers Get
 * as "not found": what reaches the wire is the thing under test, not sessiond's behaviour. A unary
 * call's context is its metadata; a pipelined call's is the message's own fields, recorded under the
 * same metadata keys.
 */
async function recordingSessiond(t: ExecutionContext): Promise<{ address: string; seen: { method: string; metadata: grpc.Metadata }[] }> {
  const seen: { method: string; metadata: grpc.Metadata }[] = [];
  const server = new grpc.Server();
  const handlers: grpc.UntypedServiceImplementation = Object.fromEntries(Object.keys(sessionServiceDefinition).map((method) => [method, (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    seen.push({ method, metadata: call.metadata });
    callback(null, method === 'Get' ? { found: false } : {});
  }]));
  handlers['Pipeline'] = (stream: grpc.ServerDuplexStream<PipelineRequest__Output, PipelineReply>) => {
    stream.sendMetadata(new grpc.Metadata());
    stream.on('data', (request: PipelineRequest__Output) => {
      const metadata = new grpc.Metadata();
      if (request.traceparent) metadata.set('traceparent', request.traceparent);
      if (request.tracestate) metadata.set('tracestate', request.tracestate);
      if (request.requestId) metadata.set('x-request-id', request.requestId);
      seen.push({ method: request.call![0]!.toUpperCase() + request.call!.slice(1), metadata });
      stream.write(request.call === 'get' ? { callId: request.callId, get: { found: false } } : { callId: request.callId, session: {} });
    });
    stream.on('end', () => stream.end());
  };
  server.addService(sessionServiceDefinition, handlers);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))));
  t.teardown(() => server.forceShutdown());
  return { address: `127.0.0.1:${port}`, seen };
}

for (const pipeline of [true, false]) test.serial(`the request's traceparent reaches sessiond through the middleware, without an SDK (${pipeline ? 'in the pipelined call' : 'as unary call metadata'})`, async (t) => {
  const sessiond = await recordingSessiond(t);
  const client = new SessionClient({ address: sessiond.address, namespace: 'trace', deadlineMs: 30_000, pipeline });
  t.teardown(() => client.destroy());
  const middleware = sessionMiddleware({ client });
  const app = createServer((req, res) => middleware(req, res, () => {
    void (req as typeof req & { session: RequestSession }).session.get('user').then((user) => res.end(String(user)));
  }));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())));
  const response = await fetch(`http://127.0.0.1:${(app.address() as AddressInfo).port}/`, {
    headers: { traceparent: TRACEPARENT, tracestate: 'vendor=1', 'x-request-id': 'req-7', cookie: `stickless.sid=${SESSION_ID}` },
  });
  t.is(await response.text(), 'undefined');
  const get = sessiond.seen.find((call) => call.method === 'Get');
  t.deepEqual(get?.metadata.get('traceparent'), [TRACEPARENT]);
  t.deepEqual(get?.metadata.get('tracestate'), ['vendor=1']);
  t.deepEqual(get?.metadata.get('x-request-id'), ['req-7']);
});

interface RecordedSpan { name: string; options: SpanOptions; context: SpanContext; ended: boolean; status?: unknown }

/** A minimal tracer provider, as an OpenTelemetry SDK would register one: spans are recorded. */
function recordingProvider(spans: RecordedSpan[]): TracerProvider {
  let next = 1;
  const tracer: Tracer = {
    startSpan(name: string, options: SpanOptions = {}, parent?: Context): Span {
      const parentContext = parent ? trace.getSpanContext(parent) : undefined;
      const record: RecordedSpan = { name, options, ended: false, context: { traceId: parentContext?.traceId ?? 'f'.repeat(32), spanId: (next++).toString(16).padStart(16, '0'), traceFlags: 1 } };
      spans.push(record);
      const span: Span = {
        spanContext: () => record.context,
        setAttribute: () => span, setAttributes: () => span, addEvent: () => span, addLink: () => span, addLinks: () => span,
        setStatus: (status) => { record.status = status; return span; },
        updateName: () => span, end: () => { record.ended = true; }, isRecording: () => true, recordException: () => undefined,
      };
      return span;
    },
    startActiveSpan: (() => { throw new Error('not used'); }) as Tracer['startActiveSpan'],
  };
  return { getTracer: () => tracer };
}

test.serial('with a tracer provider registered, each call is a CLIENT span in the request\'s trace and its context rides in the metadata', async (t) => {
  const spans: RecordedSpan[] = [];
  trace.setGlobalTracerProvider(recordingProvider(spans));
  t.teardown(() => trace.disable());
  const sessiond = await recordingSessiond(t);
  const client = new SessionClient({ address: sessiond.address, namespace: 'trace', deadlineMs: 30_000 });
  t.teardown(() => client.destroy());
  t.is(await client.get(SESSION_ID, { traceparent: TRACEPARENT }), undefined);
  const [span] = spans;
  t.is(span?.name, 'stickless.session.v1.SessionService/Get');
  t.is(span?.options.kind, SpanKind.CLIENT);
  t.like(span?.options.attributes, { 'rpc.system': 'grpc', 'rpc.method': 'Get', 'stickless.namespace': 'trace' });
  t.is(span?.context.traceId, TRACE_ID);
  t.true(span?.ended);
  t.deepEqual(sessiond.seen[0]?.metadata.get('traceparent'), [`00-${TRACE_ID}-${span!.context.spanId}-01`]);
});

test('sessiond log lines written while serving an RPC carry its reqId and traceId', (t) => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  const logger = createLogger('info', sink);
  const metadata = new grpc.Metadata();
  metadata.set('traceparent', TRACEPARENT);
  metadata.set('x-request-id', 'req-42');
  withRpcLogContext(metadata, () => logger.info({ method: 'Get' }, 'rpc rejected'));
  withRpcLogContext(new grpc.Metadata(), () => logger.child({ component: 'store' }).warn('slow'));
  logger.info('outside any rpc');
  t.like(lines[0], { reqId: 'req-42', traceId: TRACE_ID, parentSpanId: '00f067aa0ba902b7', method: 'Get' });
  t.regex(String(lines[1]?.['reqId']), /^[0-9a-f-]{36}$/, 'a new request id when the caller sent none');
  t.is(lines[1]?.['traceId'], undefined);
  t.is(lines[2]?.['reqId'], undefined);
});

test('the proxy passes the request\'s traceparent and x-request-id to the app, and mints them when absent', async (t) => {
  const app = createServer((req, res) => res.end(JSON.stringify({ traceparent: req.headers['traceparent'], tracestate: req.headers['tracestate'], requestId: req.headers['x-request-id'] })));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())));
  const running = await startProxy(t, testConfig([{ id: 'app-1', url: `http://127.0.0.1:${(app.address() as AddressInfo).port}` }]));
  type Seen = { traceparent?: string; tracestate?: string; requestId?: string };
  const passed = (await (await fetch(`${running.url}/`, { headers: { traceparent: TRACEPARENT, tracestate: 'vendor=1', 'x-request-id': 'req-9' } })).json()) as Seen;
  t.deepEqual(passed, { traceparent: TRACEPARENT, tracestate: 'vendor=1', requestId: 'req-9' });
  const minted = (await (await fetch(`${running.url}/`, { headers: { traceparent: 'garbage', tracestate: 'vendor=1' } })).json()) as Seen;
  t.regex(minted.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  t.is(minted.tracestate, undefined);
  t.regex(minted.requestId ?? '', /^[0-9a-f-]{36}$/);
});
