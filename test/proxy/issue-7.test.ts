// Issue 7, with raw sockets and backends that record what they received: requests whose headers
// would make the proxy and the backend disagree (Connection naming Host or framing fields, a second
// Host, dot-segments) and request smuggling through the upgrade path.
import test from 'ava';
import { startProxy, testConfig, waitFor, within } from '../helpers/proxy-harness.ts';
import { parseResponses, rawConnect, rawExchange } from '../helpers/proxy-raw.ts';
import { startRecordingBackend } from '../helpers/upstream.ts';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

test('Connection naming Host, Content-Length or Transfer-Encoding, and a second Host, are 400 and never forwarded', async (t) => {
  const backend = await startRecordingBackend(t, 'a');
  const running = await startProxy(t, testConfig([backend], { routes: [{ name: 'main', pool: 'app' }, { name: 'ws', pool: 'app', match: { pathPrefix: '/ws' } }] }));
  const port = portOf(running.url);
  const cases: Record<string, string> = {
    'Connection: host': 'GET / HTTP/1.1\r\nHost: internal.local\r\nConnection: host\r\n\r\n',
    'Connection: keep-alive, Host': 'GET / HTTP/1.1\r\nHost: internal.local\r\nConnection: keep-alive, Host\r\n\r\n',
    'Connection: content-length': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: content-length\r\n\r\nabcd',
    'Connection: transfer-encoding': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n0\r\n\r\n',
    'a second Connection header naming host': 'GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: host\r\n\r\n',
    'two Host headers': 'GET / HTTP/1.1\r\nHost: public.example\r\nHost: internal.local\r\n\r\n',
    'two Host headers, same value': 'GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n',
    'upgrade with Connection: upgrade, host': 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, Host\r\nUpgrade: websocket\r\n\r\n',
    'upgrade with two Host headers': 'GET /ws HTTP/1.1\r\nHost: x\r\nHost: y\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  };
  for (const [what, bytes] of Object.entries(cases)) {
    const answer = await rawExchange(port, bytes);
    t.is(answer.responses[0]?.status, 400, what);
    t.is(JSON.parse(answer.responses[0]!.body).error.code, 'PRX_ERR_BAD_REQUEST', what);
    t.true(answer.closedByPeer, `${what}: the connection is closed`);
  }
  t.deepEqual(backend.seen, [], 'nothing reached the backend');
  const fine = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, x-custom\r\nx-custom: 1\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.deepEqual(fine.responses.map((r) => r.status), [200, 200], 'other Connection tokens are still fine');
});

test('dot-segments are removed before routing, and the backend receives the normalized path', async (t) => {
  const pub = await startRecordingBackend(t, 'public');
  const adm = await startRecordingBackend(t, 'admin');
  const running = await startProxy(
    t,
    testConfig([pub], {
      pools: { pub: { backends: [{ id: pub.id, url: pub.url }] }, adm: { backends: [{ id: adm.id, url: adm.url }] } },
      routes: [
        { name: 'public', pool: 'pub', match: { pathPrefix: '/public' } },
        { name: 'admin', pool: 'adm', match: { pathPrefix: '/admin' } },
      ],
    }),
  );
  const port = portOf(running.url);
  const cases: Record<string, [backend: string, path: string]> = {
    '/public/../admin': ['admin', '/admin'],
    '/public/%2e%2e/admin/users?x=/../y': ['admin', '/admin/users?x=/../y'],
    '/public/.%2E/admin': ['admin', '/admin'],
    '/public/./a/../b/': ['public', '/public/b/'],
    '/admin/../public/x': ['public', '/public/x'],
    'http://x/public/../admin': ['admin', '/admin'],
  };
  for (const [target, [backendId, path]] of Object.entries(cases)) {
    const answer = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.is(answer.responses[0]?.status, 200, target);
    t.like(JSON.parse(answer.responses[0]!.body), { id: backendId, url: path }, target);
  }
  t.deepEqual(adm.seen.map((r) => r.url), ['/admin', '/admin/users?x=/../y', '/admin', '/admin']);
  t.deepEqual(pub.seen.map((r) => r.url), ['/public/b/', '/public/x']);
  const outside = await rawExchange(port, 'GET /public/../../etc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.is(outside.responses[0]?.status, 404, '/etc after normalization matches no route');
  await waitFor('nothing else arrived', () => pub.seen.length === 2 && adm.seen.length === 4);
});

const UPGRADES: Record<string, string> = {
  websocket: 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n',
  h2c: 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n',
};
const SMUGGLED = 'GET /internal/secret HTTP/1.1\r\nHost: internal.local\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n';

for (const [protocol, upgradeHeaders] of Object.entries(UPGRADES)) {
  test(`${protocol}: a backend that answers the upgrade with 200 gets no tunnel, and a pipelined request never reaches it`, async (t) => {
    const backend = await startRecordingBackend(t, 'a');
    const running = await startProxy(t, testConfig([backend]));
    const answer = await rawExchange(portOf(running.url), `GET /app HTTP/1.1\r\nHost: shop.example\r\n${upgradeHeaders}\r\n${SMUGGLED}`);
    t.true(answer.closedByPeer, 'the proxy closed the client connection after the answer');
    t.deepEqual(answer.responses.map((r) => r.status), [200], 'exactly one answer: the 200, relayed');
    t.like(JSON.parse(answer.responses[0]!.body), { id: 'a', url: '/app', host: 'shop.example' });
    t.is(answer.responses[0]!.headers['x-stickless-backend'], 'a');
    t.is(answer.responses[0]!.headers['connection'], 'close');
    t.deepEqual(backend.seen.map((r) => [r.url, r.host]), [['/app', 'shop.example']], 'the backend saw only the routed handshake');
  });
}

test('a request sent after a refused upgrade\'s answer never reaches the backend either', async (t) => {
  const backend = await startRecordingBackend(t, 'a');
  const running = await startProxy(t, testConfig([backend]));
  const socket = await rawConnect(portOf(running.url));
  t.teardown(() => socket.destroy());
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(`GET /app HTTP/1.1\r\nHost: shop.example\r\n${UPGRADES['websocket']}\r\n`);
  await waitFor('the 200', () => parseResponses(text).length === 1, 20_000);
  if (!socket.destroyed && socket.writable) socket.write(SMUGGLED);
  await within('the proxy closing the connection', closed, 20_000);
  t.deepEqual(parseResponses(text).map((r) => r.status), [200]);
  t.deepEqual(backend.seen.map((r) => r.url), ['/app']);
});

test('after a refused upgrade, a client that never closes its side is cut, not kept half-open', async (t) => {
  const backend = await startRecordingBackend(t, 'a');
  const running = await startProxy(t, testConfig([backend]));
  const socket = await rawConnect(portOf(running.url));
  t.teardown(() => socket.destroy());
  // allowHalfOpen: the client keeps its side open after the proxy's FIN, as a hostile client would.
  (socket as unknown as { allowHalfOpen: boolean }).allowHalfOpen = true;
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
  socket.write(`GET /app HTTP/1.1\r\nHost: shop.example\r\n${UPGRADES['websocket']}\r\n${SMUGGLED}`);
  await ended;
  // Once the proxy has let go of its socket, the next byte is answered with a reset.
  const probe = setInterval(() => socket.writable && socket.write('x'), 200);
  t.teardown(() => clearInterval(probe));
  await within('the proxy letting go of the half-open connection', closed, 20_000);
  t.deepEqual(parseResponses(text).map((r) => r.status), [200]);
  t.deepEqual(backend.seen.map((r) => r.url), ['/app']);
});
