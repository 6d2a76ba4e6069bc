// The forwarding path's HTTP/1.1 client against scripted backends on real sockets: response
// framing (length, chunked with trailers, until close, HEAD, 204, interim 1xx), keep-alive reuse
// and its limits, protocol errors that must not desynchronise a connection, request bodies,
// timeouts, header injection, the connection cap and https backends.
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UpstreamClient, type UpstreamRequest } from '../../proxy/upstream-client.ts';
import { createTestPki } from '../helpers/tls.ts';

interface Backend {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Connections open now. */
  open: number;
  /** Everything received, per connection. */
  received: string[];
  close(): Promise<void>;
}

/** A TCP backend whose `answer` sees each request head (and what followed it) and writes raw bytes. */
async function backend(answer: (request: string, socket: Socket, index: number) => void): Promise<Backend> {
  const state: Backend = { port: 0, connections: 0, open: 0, received: [], close: async () => {} };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const index = state.connections++;
    state.open++;
    sockets.add(socket);
    state.received[index] = '';
    let buffered = '';
    socket.on('data', (chunk) => {
      state.received[index] += chunk.toString('latin1');
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        answer(head, socket, index);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      state.open--;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as { port: number }).port;
  state.close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return state;
}

interface Outcome {
  status?: number;
  headers?: Record<string, string | string[]>;
  body: string;
  error?: NodeJS.ErrnoException;
}

function request(client: UpstreamClient, overrides: Partial<UpstreamRequest> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { body: '' };
    client.dispatch({ method: 'GET', path: '/', headers: { host: 'app' }, body: null, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000, ...overrides }, {
      onRequestStart: () => {},
      onResponseStart: (_c, head) => Object.assign(outcome, { status: head.status, headers: head.headers }),
      onResponseData: (_c, chunk) => void (outcome.body += chunk.toString('latin1')),
      onResponseEnd: () => resolve(outcome),
      onResponseError: (_c, error) => resolve({ ...outcome, error }),
    });
  });
}

function clientFor(port: number, connections = 4): UpstreamClient {
  return new UpstreamClient({ hostname: '127.0.0.1', port, tls: false, connections, connectTimeoutMs: 5_000, keepAliveTimeoutMs: 30_000 });
}

/** A client of `server`; both are closed when the test ends. */
function connectedClient(t: ExecutionContext, server: Backend, connections = 4): UpstreamClient {
  const client = clientFor(server.port, connections);
  t.teardown(() => Promise.all([client.destroy(), server.close()]));
  return client;
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000; // a bound for a state that never comes, not a speed limit
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('responses framed by length, chunks (trailers dropped), HEAD, 204 and interim 1xx all reuse one connection', async (t) => {
  const server = await backend((head, socket) => {
    const path = head.split(' ')[1];
    if (path === '/length') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\nx-a: 2\r\n\r\nhello');
    else if (path === '/chunked') socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nx-trailer: t\r\n\r\n');
    else if (path === '/head') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n');
    else if (path === '/204') socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    else if (path === '/early') socket.write('HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const client = connectedClient(t, server);
  const length = await request(client, { path: '/length' });
  t.is(length.status, 200);
  t.is(length.body, 'hello');
  t.deepEqual(length.headers?.['x-a'], ['1', '2'], 'a repeated field keeps every value');
  for (let i = 0; i < 5; i++) t.is((await request(client, { path: '/chunked' })).body, 'abcdefg');
  t.is((await request(client, { path: '/head', method: 'HEAD' })).body, '', 'no body after a HEAD, whatever the length says');
  t.is((await request(client, { path: '/204' })).status, 204);
  const early = await request(client, { path: '/early' });
  t.is(early.status, 200, 'the interim 103 is skipped');
  t.is(early.body, 'ok');
  t.is(server.connections, 1, 'every request rode the same keep-alive connection');
});

test('a body that runs until the close ends with it, and that connection is not reused', async (t) => {
  const server = await backend((_head, socket) => socket.end('HTTP/1.1 200 OK\r\n\r\nall of it'));
  const client = connectedClient(t, server);
  t.is((await request(client)).body, 'all of it');
  t.is((await request(client)).body, 'all of it');
  t.is(server.connections, 2);
});

test('Connection: close, a Keep-Alive hint and bytes after the response each keep a connection from being reused', async (t) => {
  const server = await backend((head, socket) => {
    const path = head.split(' ')[1];
    if (path === '/close') socket.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\na');
    else if (path === '/hint') socket.write('HTTP/1.1 200 OK\r\nkeep-alive: timeout=2\r\ncontent-length: 1\r\n\r\nb');
    else if (path === '/extra') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\ncHTTP/1.1 200 OK\r\n\r\n');
    else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nd');
  });
  const client = connectedClient(t, server);
  t.is((await request(client, { path: '/close' })).body, 'a');
  t.is((await request(client)).body, 'd');
  t.is(server.connections, 2, 'the connection the backend closed was not reused');
  t.is((await request(client, { path: '/extra' })).body, 'c');
  t.is((await request(client)).body, 'd');
  t.is(server.connections, 3, 'a connection with bytes after its response was dropped');
  t.is((await request(client, { path: '/hint' })).body, 'b');
  await waitFor(() => server.open === 0, 'the client to close the idle connection 1 s before the backend\'s 2 s');
  t.pass();
});

for (const [name, response, code] of [
  ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
  ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
  ['a coding other than chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING'],
  ['an obs-fold line', 'HTTP/1.1 200 OK\r\nx-a: 1\r\n folded\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ['a bare LF inside a field', 'HTTP/1.1 200 OK\r\nx-a: 1\nx-b: 2\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ['a malformed chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 'HPE_INVALID_CHUNK_SIZE'],
  ['a head over 16 KiB', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, 'HPE_HEADER_OVERFLOW'],
  ['a 101 nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n', 'HPE_INVALID_STATUS'],
] as const) {
  test(`a response with ${name} fails with ${code} and its connection is closed`, async (t) => {
    const server = await backend((head, socket) => socket.write(head.startsWith('GET /fine') ? 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok' : response));
    const client = connectedClient(t, server);
    t.is((await request(client)).error?.code, code);
    t.is((await request(client, { path: '/fine' })).body, 'ok');
    t.is(server.connections, 2, 'the next request took a new connection');
  });
}

test('request bodies: with a length as sent, without one chunked on the wire', async (t) => {
  const server = await backend((head, socket) => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${head.length}\r\n\r\n${head}`));
  const client = connectedClient(t, server, 1);
  await request(client, { method: 'POST', headers: { host: 'app', 'content-length': '11' }, body: Readable.from([Buffer.from('hello '), Buffer.from('world')]) });
  await request(client, { method: 'POST', headers: { host: 'app' }, body: Readable.from([Buffer.from('abc'), Buffer.from('de')]) });
  await waitFor(() => server.received[0]!.includes('0\r\n\r\n'), 'the chunked body');
  const wire = server.received[0]!;
  t.true(wire.includes('content-length: 11\r\n\r\nhello world'), 'the body follows its head as sent');
  t.true(wire.includes('transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'), 'a body of unknown length is chunked');
  t.is(server.connections, 1);
});

test('a backend that closes before the response ends, or never answers, fails the request with its code', async (t) => {
  const server = await backend((head, socket) => {
    if (head.startsWith('GET /cut')) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc');
    else if (head.startsWith('GET /stall-body')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc');
    else if (head.startsWith('GET /reset')) socket.destroy();
  });
  const client = connectedClient(t, server);
  const cut = await request(client, { path: '/cut' });
  t.is(cut.error?.code, 'UND_ERR_SOCKET');
  t.is(cut.body, 'abc', 'what arrived was passed on before the error');
  t.is((await request(client, { path: '/reset' })).error?.code, 'UND_ERR_SOCKET');
  t.is((await request(client, { path: '/silent', headersTimeoutMs: 300 })).error?.code, 'UND_ERR_HEADERS_TIMEOUT');
  t.is((await request(client, { path: '/stall-body', bodyTimeoutMs: 300 })).error?.code, 'UND_ERR_BODY_TIMEOUT');
});

test('a header value holding CR or LF is refused before anything is sent', async (t) => {
  const server = await backend((_head, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
  const client = connectedClient(t, server);
  const outcome = await request(client, { headers: { host: 'app', 'x-evil': 'a\r\nx-injected: 1' } });
  t.is(outcome.error?.code, 'UND_ERR_INVALID_ARG');
  t.is((await request(client)).status, 200);
  t.false(server.received.join('').includes('x-injected'), 'the backend never saw the injected line');
});

test('no more connections than allowed: requests beyond wait and are all answered', async (t) => {
  let peak = 0;
  const server = await backend((_head, socket) => {
    peak = Math.max(peak, server.open);
    setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 20);
  });
  const client = connectedClient(t, server, 2);
  const outcomes = await Promise.all(Array.from({ length: 12 }, () => request(client)));
  t.deepEqual(outcomes.map((o) => o.body), Array(12).fill('ok'));
  t.is(server.connections, 2);
  t.true(peak <= 2);
});

test('connect failures carry the socket\'s code, and close() waits for the request in flight', async (t) => {
  const refused = clientFor(1);
  t.is((await request(refused)).error?.code, 'ECONNREFUSED');
  const server = await backend((_head, socket) => setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 100));
  const client = clientFor(server.port);
  t.teardown(() => server.close());
  const pending = request(client);
  await waitFor(() => server.received[0] !== undefined && server.received[0].length > 0, 'the request to arrive');
  const closed = client.close();
  t.is((await pending).body, 'ok', 'the request in flight finished');
  await closed;
  await t.throwsAsync(request(client), { message: /removed or the proxy is stopping/ });
});

test('an https backend: verified against the trusted CAs with the host name as SNI, kept alive; an untrusted one fails with its code', async (t) => {
  const pki = createTestPki(t);
  const certificate = pki.issueServer('backend');
  const server = createHttpsServer({ key: readFileSync(certificate.keyFile), cert: readFileSync(certificate.certFile) }, (req, res) => {
    res.end(`${req.headers.host} ${(req.socket as { servername?: string }).servername ?? '-'}`);
  });
  let connections = 0;
  server.on('secureConnection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  // Node reads extra CAs once at start, so the trusting client runs in a child process.
  const clientModule = fileURLToPath(new URL('../../proxy/upstream-client.ts', import.meta.url));
  const script = `
    const { UpstreamClient } = await import(${JSON.stringify(clientModule)});
    const client = new UpstreamClient({ hostname: 'localhost', port: ${port}, tls: true, connections: 1, connectTimeoutMs: 10000, keepAliveTimeoutMs: 10000 });
    const one = () => new Promise((resolve) => { let body = '';
      client.dispatch({ method: 'GET', path: '/', headers: {}, body: null, headersTimeoutMs: 10000, bodyTimeoutMs: 10000 }, {
        onRequestStart() {}, onResponseStart(_c, head) { body += head.status + ' '; }, onResponseData(_c, chunk) { body += chunk; },
        onResponseEnd() { resolve(body); }, onResponseError(_c, error) { resolve('error ' + error.code); } }); });
    console.log(JSON.stringify([await one(), await one()]));
    await client.destroy();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.caFile }, timeout: 60_000 });
  t.deepEqual(JSON.parse(stdout), [`200 localhost:${port} localhost`, `200 localhost:${port} localhost`]);
  t.is(connections, 1, 'both requests on one TLS connection');
  const untrusted = new UpstreamClient({ hostname: 'localhost', port, tls: true, connections: 1, connectTimeoutMs: 10_000, keepAliveTimeoutMs: 10_000 });
  t.teardown(() => untrusted.destroy());
  const outcome = await request(untrusted, { headers: {} });
  t.is(outcome.status, undefined);
  t.regex(outcome.error?.code ?? '', /CERT|SIGNATURE|ISSUER/);
});
