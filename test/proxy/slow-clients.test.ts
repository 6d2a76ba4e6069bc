// Issue 7: slow clients. Header and whole-request timeouts that hold within about a second, a body
// idle timeout, idle WebSocket tunnels, and slow uploads that cannot take every upstream connection.
// Timeouts are asserted to happen (and nothing to reach the backend), never how fast.
import test from 'ava';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { backendState, call, startProxy, testConfig, waitFor, within } from '../helpers/proxy-harness.ts';
import { parseResponses, rawConnect, rawExchange, type RawResponse } from '../helpers/proxy-raw.ts';
import { startBackends, startRecordingBackend } from '../helpers/upstream.ts';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function listen(overrides: Record<string, unknown>): Record<string, unknown> {
  return { host: '127.0.0.1', port: 0, ...overrides };
}

/** A raw connection that keeps what it receives; destroyed in teardown. */
async function slowClient(t: { teardown(fn: () => void): void }, port: number, first: string): Promise<{ socket: Socket; responses: () => RawResponse[]; closed: Promise<void> }> {
  const socket = await rawConnect(port);
  t.teardown(() => socket.destroy());
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {});
  const closed = once(socket, 'close').then(() => undefined);
  socket.write(first);
  return { socket, responses: () => parseResponses(text), closed };
}

test('a client that never finishes its headers gets 408 well before Node\'s 30 s check interval with a 1 s setting', async (t) => {
  const backend = await startRecordingBackend(t, 'a');
  const running = await startProxy(t, testConfig([backend], { listen: listen({ requestHeadersTimeoutMs: 1_000 }) }));
  // Node's default check interval (30 s) would let this connection live far past the bound.
  const answer = await rawExchange(portOf(running.url), 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ', 20_000);
  t.true(answer.closedByPeer, 'the proxy closed the connection before 20 s');
  t.is(answer.responses[0]?.status, 408);
  t.is(JSON.parse(answer.responses[0]!.body).error.code, 'PRX_ERR_REQUEST_TIMEOUT');
  t.is(backend.started, 0, 'the backend never saw the request');
});

test('a client that stalls its body gets 408 and the connection is closed, buffered or streamed', async (t) => {
  const backend = await startRecordingBackend(t, 'a');
  const running = await startProxy(t, testConfig([backend], { listen: listen({ requestBodyIdleTimeoutMs: 500, requestBodyBufferBytes: 1_024 }) }));
  const port = portOf(running.url);
  const small = await rawExchange(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n${'a'.repeat(10)}`);
  t.true(small.closedByPeer);
  t.is(small.responses[0]?.status, 408);
  t.is(JSON.parse(small.responses[0]!.body).error.code, 'PRX_ERR_REQUEST_TIMEOUT');
  t.is(backend.started, 0, 'a small body is read whole first: the backend never saw this one');

  const large = await rawExchange(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(2_000)}`);
  t.true(large.closedByPeer);
  t.is(large.responses[0]?.status, 408);
  t.is(large.responses[0]?.headers['x-stickless-backend'], 'a');
  t.deepEqual(backend.seen, [], 'a large body streams, and its backend request never completes');
  await waitFor('the upload released', async () => (await backendState(running, 'a')).inFlight === 0);
});

test('a request trickled within the body idle timeout still ends at requestTimeoutMs', async (t) => {
  const backend = await startRecordingBackend(t, 'a');
  const running = await startProxy(t, testConfig([backend], { listen: listen({ requestHeadersTimeoutMs: 1_000, requestTimeoutMs: 2_000, requestBodyIdleTimeoutMs: 0 }) }));
  const client = await slowClient(t, portOf(running.url), 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
  const trickle = setInterval(() => client.socket.writable && client.socket.write('a'), 100);
  t.teardown(() => clearInterval(trickle));
  await within('the proxy closing the trickled request', client.closed, 25_000);
  t.is(client.responses()[0]?.status, 408);
  t.is(backend.started, 0);
});

test('slow uploads cannot hold a pool hostage: ordinary GETs are still answered', async (t) => {
  const backend = await startRecordingBackend(t, 'a');
  // Scaled down: 4 connections, so at most 2 may be held by bodies still arriving.
  const running = await startProxy(t, testConfig([backend], { listen: listen({ requestBodyBufferBytes: 1_024 }) }, { connections: 4 }));
  const port = portOf(running.url);
  const smallBodies = await Promise.all(Array.from({ length: 6 }, () => slowClient(t, port, 'POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\na')));
  const uploads = await Promise.all(Array.from({ length: 4 }, () => slowClient(t, port, `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(2_000)}`)));
  await waitFor('two uploads streaming and two refused', () => backend.started === 2 && uploads.filter((u) => u.responses().length === 1).length === 2);
  for (const refused of uploads.filter((u) => u.responses().length === 1)) {
    t.is(refused.responses()[0]!.status, 503);
    t.is(JSON.parse(refused.responses()[0]!.body).error.code, 'PRX_ERR_TOO_MANY_UPLOADS');
    t.is(refused.responses()[0]!.headers['retry-after'], '1');
  }
  const gets = await Promise.all(Array.from({ length: 5 }, (_, i) => call(`${running.url}/get-${i}`)));
  t.deepEqual(gets.map((g) => g.status), [200, 200, 200, 200, 200]);
  t.deepEqual(backend.seen.map((r) => r.url).sort(), ['/get-0', '/get-1', '/get-2', '/get-3', '/get-4']);
  t.is(backend.started, 7, 'the six slow small bodies never reached the backend');
  t.true(smallBodies.every((c) => c.responses().length === 0), 'the slow small bodies are still waiting, not refused');
});

test('an idle WebSocket tunnel is closed after tunnelIdleMs', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!], { routes: [{ name: 'ws', pool: 'app', timeouts: { tunnelIdleMs: 500 } }] }));
  const socket = new WebSocket(running.url.replace('http', 'ws'), { handshakeTimeout: 10_000 });
  t.teardown(() => socket.terminate());
  const closed = once(socket, 'close');
  await once(socket, 'message');
  await within('the proxy closing the idle tunnel', closed, 20_000);
  await waitFor('the backend saw the close', async () => (await a!.stats()).websockets === 0);
  await waitFor('nothing in flight', async () => (await backendState(running, 'a')).inFlight === 0);
  t.pass();
});
