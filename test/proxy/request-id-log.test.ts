// The proxy's own per-request log line (a failed upstream request) names the request by the
// x-request-id the app and sessiond log too (issue 13, point 4): the client's id, or the one the
// proxy minted for it.
import { once } from 'node:events';
import { createServer } from 'node:net';
import test from 'ava';
import { call, testConfig, waitFor } from '../helpers/proxy-harness.ts';
import { startProxyProcess } from '../helpers/proxy-process.ts';

test('an upstream request that fails is logged with the request id sent upstream', async (t) => {
  // A backend that answers health checks and resets every other request before any byte.
  const backend = createServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').startsWith('GET /')) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      else socket.resetAndDestroy();
    });
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.teardown(() => backend.close());
  const { port } = backend.address() as { port: number };
  const config = testConfig([{ id: 'a', url: `http://127.0.0.1:${port}` }], { log: { level: 'info' } });
  const proc = await startProxyProcess(t, config);
  await waitFor('the backend is up', async () => (await call(`${proc.url}/`)).status === 200);
  const failed = await call(`${proc.url}/cart`, { method: 'POST', body: '{}', headers: { 'x-request-id': 'req-from-browser-1', 'content-type': 'application/json' } });
  t.true(failed.status >= 500, `a reset upstream is a 5xx, got ${failed.status}`);
  const line = await waitFor('the failure is logged', () => proc.logs.find((l) => l['msg'] === 'upstream request failed' && l['reqId'] === 'req-from-browser-1'));
  t.like(line, { route: 'main', upstream: 'a' });
  await call(`${proc.url}/cart`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  const minted = await waitFor('a second failure is logged', () => proc.logs.filter((l) => l['msg'] === 'upstream request failed')[1]);
  t.regex(String(minted['reqId']), /^[0-9a-f-]{36}$/, 'a request without an id gets one, and its log line names it');
});
