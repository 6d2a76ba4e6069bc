// Forwarding rules with real sockets: streaming both ways, header hygiene, client aborts,
// timeouts, connect-failure retries, and ambiguous framing that must never reach a backend.
import test from 'ava';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { admin, agent, backendState, call, pinTo, startProxy, testConfig, waitFor } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

test('request and response bodies stream through without buffering', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!]));
  let firstEchoed!: () => void;
  const echoed = new Promise<void>((resolve) => (firstEchoed = resolve));
  async function* body() {
    yield Buffer.from('first-');
    // Only continue once the first chunk came back through the proxy: a buffering proxy deadlocks here.
    await echoed;
    yield Buffer.from('second');
  }
  const response = await request(`${running.url}/echo`, { dispatcher: agent, method: 'POST', body: Readable.from(body()), headersTimeout: 30_000, bodyTimeout: 30_000, signal: AbortSignal.timeout(30_000) });
  t.is(response.headers['x-stickless-backend'], 'a');
  let received = '';
  for await (const chunk of response.body) {
    received += String(chunk);
    if (received.startsWith('first-')) firstEchoed();
  }
  t.is(received, 'first-second');

  const streamed = await call(`${running.url}/stream?chunks=5&ms=5`);
  t.is(streamed.text, 'chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n');
});

test('hop-by-hop headers are stripped both ways and forwarding headers are set', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!]));
  const port = new URL(running.url).port;
  const get = (path: string) =>
    new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          agent: false,
          timeout: 30_000,
          headers: { host: 'shop.example:8080', connection: 'keep-alive, x-secret-hop', 'x-secret-hop': 'no', 'keep-alive': 'timeout=5', te: 'trailers', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', 'x-app': 'kept' },
        },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
  const seen = JSON.parse((await get('/headers')).body).headers;
  t.is(seen['x-app'], 'kept');
  t.is(seen['host'], 'shop.example:8080', 'Host is preserved');
  for (const hop of ['x-secret-hop', 'keep-alive', 'te']) t.is(seen[hop], undefined, hop);
  t.is(seen['x-forwarded-for'], '127.0.0.1', 'untrusted client X-Forwarded-For is replaced');
  t.is(seen['x-forwarded-proto'], 'http');
  t.is(seen['x-forwarded-host'], 'shop.example:8080');
  t.is(seen['forwarded'], 'for=127.0.0.1;host="shop.example:8080";proto=http');

  const hop = await get('/hop');
  t.is(hop.headers['x-private-hop'], undefined);
  t.not(hop.headers['keep-alive'], 'timeout=5', "the backend's Keep-Alive is not passed on");
  t.is(hop.headers['x-stickless-backend'], 'a');
  const cookies = hop.headers['set-cookie'] as string[];
  t.true(cookies.some((c) => c.startsWith('app=1')), 'the app cookie survives');
  t.true(cookies.some((c) => c.startsWith('stickless=')), 'the pin is added beside it');

  const trusting = await startProxy(t, testConfig([a!], { listen: { host: '127.0.0.1', port: 0, trustForwardedHeaders: true } }));
  const chained = (await call(`${trusting.url}/headers`, { headers: { 'x-forwarded-for': '10.1.1.1', forwarded: 'for=10.1.1.1' } })).json().headers;
  t.is(chained['x-forwarded-for'], '10.1.1.1, 127.0.0.1');
  t.true(chained['forwarded'].startsWith('for=10.1.1.1, for=127.0.0.1'));
});

test('a client that goes away cancels the upstream request', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!]));
  const controller = new AbortController();
  const pending = request(`${running.url}/hang`, { dispatcher: agent, signal: controller.signal, headersTimeout: 10_000 }).catch((error: Error) => error);
  await waitFor('request in flight on a', async () => (await backendState(running, 'a')).inFlight === 1);
  controller.abort();
  t.true((await pending) instanceof Error);
  await waitFor('backend saw the abort', async () => (await a!.stats()).aborted === 1);
  await waitFor('nothing in flight', async () => (await backendState(running, 'a')).inFlight === 0);
  t.pass();
});

test('a backend that does not answer in time gives 504', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!], { routes: [{ name: 'main', pool: 'app', timeouts: { headersMs: 300 } }] }));
  const reply = await call(`${running.url}/hang`);
  t.is(reply.status, 504);
  t.is(reply.json().error.code, 'PRX_ERR_UPSTREAM_TIMEOUT');
  t.is(reply.backend, 'a');
});

test('connect failures are retried elsewhere only for idempotent requests whose body was not read', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], {}, { outlier: { consecutiveFailures: 0 } }));
  const pinA = await pinTo(running.url, 'a');
  await a!.kill();
  const get = await call(running.url, { cookie: pinA });
  t.like(get, { status: 200, backend: 'b', affinity: 'moved' });
  t.truthy(get.pin);
  const put = await call(running.url, { method: 'PUT', cookie: pinA, body: 'x'.repeat(100_000) });
  t.like(put, { status: 200, backend: 'b' });
  t.is(put.json().bodyBytes, 100_000, 'the body reached the retry target whole');
  const post = await call(running.url, { method: 'POST', cookie: pinA, body: 'order=1' });
  t.is(post.status, 502);
  t.is(post.json().error.code, 'PRX_ERR_UPSTREAM_CONNECT');
  t.is(post.backend, 'a');
});

test('no route gives 404 and an empty pool gives 503', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!], { routes: [{ name: 'cart', pool: 'app', match: { pathPrefix: '/cart' } }] }));
  const missing = await call(`${running.url}/elsewhere`);
  t.is(missing.status, 404);
  t.deepEqual(missing.json(), { error: { code: 'PRX_ERR_NO_ROUTE', message: 'no route matches this request' } });
  t.is(missing.affinity, 'none');
  await admin(running, 'POST', '/backends/a/drain', { timeoutMs: 0 });
  const empty = await call(`${running.url}/cart`);
  t.is(empty.status, 503);
  t.is(empty.json().error.code, 'PRX_ERR_NO_HEALTHY_UPSTREAM');
});

/** Writes raw bytes, returns the status line and body of the answer (the connection is closed after it). */
function raw(port: number, bytes: string): Promise<{ status: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let data = '';
    socket.setTimeout(30_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: data.split('\r\n')[0] ?? '', body: data.slice(data.indexOf('\r\n\r\n') + 4) }));
  });
}

test('ambiguous requests are rejected with 400 and never forwarded', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!]));
  const port = Number(new URL(running.url).port);
  const cases: Record<string, string> = {
    'Content-Length with Transfer-Encoding': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'duplicate Content-Length': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd',
    'conflicting Content-Length': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd',
    'Content-Length list': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd',
    'Transfer-Encoding identity, chunked': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n',
    'Transfer-Encoding in HTTP/1.0': 'POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'Transfer-Encoding not ending in chunked': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabcd',
    'space before the colon': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\nabcd',
  };
  for (const [what, bytes] of Object.entries(cases)) {
    const answer = await raw(port, bytes);
    t.is(answer.status, 'HTTP/1.1 400 Bad Request', what);
    t.is(JSON.parse(answer.body).error.code, 'PRX_ERR_BAD_REQUEST', what);
  }
  t.is((await a!.stats()).requests, 0, 'nothing reached the backend');
  const fine = await raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n');
  t.is(fine.status, 'HTTP/1.1 200 OK');
  t.is(JSON.parse(fine.body.split('\r\n').find((l) => l.startsWith('{'))!).bodyBytes, 4);
});
