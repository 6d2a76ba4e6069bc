// WebSocket upgrades through the proxy with a real client: affinity on the handshake, the pin on
// the 101, in-flight accounting while open, and the cut at a drain deadline.
import test from 'ava';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { admin, backendState, call, pinTo, startProxy, testConfig, waitFor } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

interface Opened {
  socket: WebSocket;
  headers: IncomingMessage['headers'];
  hello: { id: string };
}

async function open(url: string, cookie?: string): Promise<Opened> {
  const socket = new WebSocket(url.replace('http', 'ws'), { headers: cookie ? { cookie } : {}, handshakeTimeout: 10_000 });
  // Listen for both at once: the first frame can arrive in the same chunk as the 101.
  const upgrade = once(socket, 'upgrade');
  const message = once(socket, 'message');
  const [response] = (await upgrade) as [IncomingMessage];
  const [data] = await message;
  return { socket, headers: response.headers, hello: JSON.parse(String(data)) };
}

async function echo(socket: WebSocket, text: string): Promise<string> {
  const reply = once(socket, 'message');
  socket.send(text);
  return String((await reply)[0]);
}

test('the handshake is routed by affinity and the 101 carries the pin', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], { routes: [{ name: 'ws', pool: 'app', affinity: 'hard' }] }));
  const first = await open(`${running.url}/ws/chat`);
  t.is(first.headers['x-stickless-affinity'], 'new');
  const backend = first.headers['x-stickless-backend'] as string;
  t.is(first.hello.id, backend);
  const pin = (first.headers['set-cookie'] as string[]).find((c) => c.startsWith('stickless='))!.split(';')[0]!;
  t.is(await echo(first.socket, 'hello'), `${backend}:hello`);

  const second = await open(`${running.url}/ws/chat`, pin);
  t.is(second.headers['x-stickless-affinity'], 'hit');
  t.is(second.hello.id, backend);
  t.is(second.headers['set-cookie'], undefined);
  t.is(await echo(second.socket, 'again'), `${backend}:again`);

  await waitFor('two tunnels counted in flight', async () => (await backendState(running, backend)).inFlight === 2);
  first.socket.close();
  second.socket.close();
  await waitFor('tunnels released', async () => (await backendState(running, backend)).inFlight === 0);
  t.pass();
});

test('open WebSockets are closed at the drain deadline and new ones go elsewhere', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], { routes: [{ name: 'ws', pool: 'app', affinity: 'soft' }] }));
  const pin = await pinTo(running.url, 'a');
  const opened = await open(`${running.url}/ws`, pin);
  t.is(opened.hello.id, 'a');
  const closed = once(opened.socket, 'close');
  await admin(running, 'POST', '/backends/a/drain', { timeoutMs: 2_000 });
  t.is(await echo(opened.socket, 'still open while draining'), 'a:still open while draining');
  const moved = await open(`${running.url}/ws`, pin);
  t.is(moved.hello.id, 'b', 'a soft pin moves off a draining backend');
  t.is(moved.headers['x-stickless-affinity'], 'moved');
  await closed;
  await waitFor('a has nothing in flight', async () => (await backendState(running, 'a')).inFlight === 0);
  t.is((await a!.stats()).websockets, 0);
  moved.socket.close();
});

test('a hard-pinned handshake to a down backend is refused with 503 and Retry-After', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], { routes: [{ name: 'ws', pool: 'app', affinity: 'hard', hard: { retryAfterSeconds: 4 } }] }));
  const pin = await pinTo(running.url, 'a');
  await a!.kill();
  const socket = new WebSocket(running.url.replace('http', 'ws'), { headers: { cookie: pin }, handshakeTimeout: 10_000 });
  socket.on('error', () => {});
  const [, response] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
  t.is(response.statusCode, 503);
  t.is(response.headers['retry-after'], '4');
  t.is(response.headers['x-stickless-backend'], 'a');
  response.resume();
  socket.terminate();
  t.is((await call(running.url, { cookie: pin })).status, 503);
});
