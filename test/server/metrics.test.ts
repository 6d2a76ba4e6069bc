// The /metrics listener: calls counted by method and outcome, latency observed, open watches and
// serving state shown; and no listener unless metricsListen is set.
import test from 'ava';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { call, rawStub } from '../helpers/grpc.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(30_000) });
  return response.text();
}

test('calls, outcomes, latency, watches and serving state are exported for Prometheus', async (t) => {
  const sessiond = await startSessiond(t, { store: 'memory', config: { metricsListen: '127.0.0.1:0' } });
  const port = sessiond.server.metricsPort!;
  t.true(port > 0);
  const stub = rawStub(t, sessiond.address);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns' });
  await call(stub, 'Create', { namespace: 'ns' });
  await t.throwsAsync(call(stub, 'Get', { namespace: 'ns', id: 'nope' }));
  const watch = stub.Watch({ namespace: 'ns', id: created.session!.id });
  watch.on('data', () => {});
  watch.on('error', () => {});
  const text = await waitFor(async () => {
    const body = await scrape(port);
    return body.includes('stickless_sessiond_watch_streams 1') ? body : undefined;
  }, 30_000, 'the open watch to show');
  t.regex(text, /stickless_sessiond_rpc_total\{method="Create",code="OK"\} 2/);
  t.regex(text, /stickless_sessiond_rpc_total\{method="Get",code="SESS_ERR_INVALID_ID"\} 1/);
  t.regex(text, /stickless_sessiond_rpc_duration_seconds_count\{method="Create"\} 2/);
  t.regex(text, /stickless_sessiond_serving 1/);
  t.regex(text, /stickless_sessiond_process_cpu_seconds_total/);
  watch.cancel();
  await waitFor(async () => (await scrape(port)).includes('stickless_sessiond_watch_streams 0'), 30_000, 'the watch to close');
  const notFound = await fetch(`http://127.0.0.1:${port}/other`, { signal: AbortSignal.timeout(30_000) });
  t.is(notFound.status, 404);
});

test('without metricsListen there is no metrics listener', async (t) => {
  const sessiond = await startSessiond(t, { store: 'memory' });
  t.is(sessiond.server.metricsPort, undefined);
});
