// sessiond's own log lines inside an RPC carry the caller's request and trace ids (issue 13, point 4):
// end to end through a real gRPC server, not only through the logger helper.
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { parseServerConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { createSessionServer } from '../../server/session-server.ts';
import { call, rawStub } from '../helpers/grpc.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

test('a rejected RPC logs its reqId and traceId; a call without ids gets a fresh reqId', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  const config = parseServerConfig({ listen: '127.0.0.1:0', store: 'memory', logLevel: 'debug' });
  const server = await createSessionServer(config, { logger: createLogger('debug', sink) });
  t.teardown(() => server.destroy());
  const stub = rawStub(t, `127.0.0.1:${server.port}`);
  const metadata = new grpc.Metadata();
  metadata.set('traceparent', `00-${TRACE_ID}-00f067aa0ba902b7-01`);
  metadata.set('x-request-id', 'req-issue-13');
  await t.throwsAsync(call(stub, 'get', { namespace: 'ns', id: 'not-an-id' }, { metadata }));
  const rejected = lines.find((line) => line['msg'] === 'rpc rejected');
  t.like(rejected, { reqId: 'req-issue-13', traceId: TRACE_ID, method: 'Get', code: 'SESS_ERR_INVALID_ID' });
  await t.throwsAsync(call(stub, 'get', { namespace: '', id: 'x' }));
  const second = lines.filter((line) => line['msg'] === 'rpc rejected')[1];
  t.regex(String(second?.['reqId']), /^[0-9a-f-]{36}$/, 'a new request id when the caller sent none');
  t.not(second?.['reqId'], 'req-issue-13');
});
