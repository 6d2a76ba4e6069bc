// The data listener's own HTTP/1.1 server (proxy/client-connection.ts, http1-request-parser.ts),
// spoken to from raw sockets: pipelining, HTTP/1.0, bodies of unknown length, HEAD, 100-continue,
// keep-alive idleness, requests the parser refuses (each checked against what the real backend
// received), and large responses arriving intact.
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { request } from 'undici';
import { startProxy, testConfig, waitFor } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits the bytes of consecutive responses (length-framed, chunked, or the last one until the close); `heads`: indexes of responses to HEAD. */
function parseResponses(data: string, heads: readonly number[] = []): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd === -1) throw new Error(`an incomplete head: ${JSON.stringify(data.slice(at, at + 200))}`);
    const lines = data.slice(at, headEnd).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    at = headEnd + 4;
    let body = '';
    if (status < 200 || status === 204 || status === 304 || heads.includes(responses.length)) {
      // no body
    } else if (headers['content-length'] !== undefined) {
      body = data.slice(at, at + Number(headers['content-length']));
      at += body.length;
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = data.indexOf('\r\n', at);
        const size = parseInt(data.slice(at, lineEnd), 16);
        at = lineEnd + 2;
        if (size === 0) {
          at += 2;
          break;
        }
        body += data.slice(at, at + size);
        at += size + 2;
      }
    } else {
      body = data.slice(at);
      at = data.length;
    }
    responses.push({ status, headers, body });
  }
  return responses;
}

/** Opens a connection, writes `bytes` (each string a separate write), resolves with all it read until the proxy closed it. */
function exchange(port: number, ...writes: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', async () => {
      for (const bytes of writes) {
        socket.write(bytes);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    let data = '';
    socket.setEncoding('latin1');
    socket.setTimeout(30_000, () => socket.destroy(new Error('no close from the proxy within 30 s')));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
  });
}

async function setUp(t: ExecutionContext, listen: Record<string, unknown> = {}) {
  const [backend] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([backend!], { listen: { host: '127.0.0.1', port: 0, ...listen } }));
  return { backend: backend!, port: Number(new URL(running.url).port) };
}

test('pipelined requests are answered in order, each forwarded once with its own path', async (t) => {
  const { backend, port } = await setUp(t);
  const data = await exchange(port, 'GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nPOST /three HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
  const responses = parseResponses(data);
  t.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
  t.deepEqual(responses.map((r) => JSON.parse(r.body).url), ['/one', '/two', '/three']);
  t.is(JSON.parse(responses[2]!.body).bodyBytes, 5);
  t.is(responses[0]!.headers['connection'], 'keep-alive');
  t.is(responses[2]!.headers['connection'], 'close');
  t.is((await backend.stats()).requests, 3);
});

test('a request split across many small writes is forwarded whole', async (t) => {
  const { port } = await setUp(t);
  const request = 'POST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd';
  const data = await exchange(port, ...request.match(/.{1,7}/gs)!);
  const [response] = parseResponses(data);
  t.is(response!.status, 200);
  t.like(JSON.parse(response!.body), { url: '/split', bodyBytes: 4, method: 'POST' });
});

test('HTTP/1.0: closed after the response unless it asks for keep-alive; a body of unknown length is not chunked', async (t) => {
  const { port } = await setUp(t);
  const plain = parseResponses(await exchange(port, 'GET /stream?chunks=3&ms=5 HTTP/1.0\r\nHost: x\r\n\r\n'));
  t.is(plain.length, 1);
  t.is(plain[0]!.headers['transfer-encoding'], undefined);
  t.is(plain[0]!.headers['connection'], 'close');
  t.is(plain[0]!.body, 'chunk-0\nchunk-1\nchunk-2\n');
  const kept = parseResponses(await exchange(port, 'GET /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nHost: x\r\n\r\n'));
  t.deepEqual(kept.map((r) => [r.status, r.headers['connection'], JSON.parse(r.body).url]), [
    [200, 'keep-alive', '/a'],
    [200, 'close', '/b'],
  ]);
});

test('HTTP/1.1: a body of unknown length is chunked to the client; HEAD gets no body; 100-continue is answered', async (t) => {
  const { port } = await setUp(t);
  const data = await exchange(
    port,
    'GET /stream?chunks=3&ms=5 HTTP/1.1\r\nHost: x\r\n\r\n',
    'HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
    'xyz',
  );
  const responses = parseResponses(data, [1]);
  t.is(responses.length, 4, data);
  const [streamed, head, interim, posted] = responses;
  t.is(streamed!.headers['transfer-encoding'], 'chunked');
  t.is(streamed!.body, 'chunk-0\nchunk-1\nchunk-2\n');
  t.is(head!.status, 200);
  t.truthy(head!.headers['content-length'], 'HEAD keeps the length the GET would have');
  t.is(interim!.status, 100);
  t.like(JSON.parse(posted!.body), { url: '/c', bodyBytes: 3 });
  t.is(JSON.parse(posted!.body).headers['expect'], undefined, 'Expect is hop-by-hop');
});

test('malformed, oversized and unknown requests are refused with their code and never forwarded', async (t) => {
  const { backend, port } = await setUp(t);
  const cases: [string, string, number, string][] = [
    ['an unknown method', 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'PRX_ERR_BAD_REQUEST'],
    ['HTTP/2.0 in the request line', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 400, 'PRX_ERR_BAD_REQUEST'],
    ['a space in the target', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'PRX_ERR_BAD_REQUEST'],
    ['an obs-fold line', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n', 400, 'PRX_ERR_BAD_REQUEST'],
    ['a bare LF inside a field', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\nX-B: 2\r\n\r\n', 400, 'PRX_ERR_BAD_REQUEST'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 400, 'PRX_ERR_BAD_REQUEST'],
    ['a second Host', 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400, 'PRX_ERR_BAD_REQUEST'],
    ['a negative Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400, 'PRX_ERR_BAD_REQUEST'],
    ['a head over 16 KiB', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, 431, 'PRX_ERR_HEADERS_TOO_LARGE'],
  ];
  for (const [what, bytes, status, code] of cases) {
    const [response] = parseResponses(await exchange(port, bytes));
    t.is(response?.status, status, what);
    t.is(JSON.parse(response!.body).error.code, code, what);
    t.is(response!.headers['connection'], 'close', what);
  }
  t.is((await backend.stats()).requests, 0, 'nothing reached the backend');
});

test('a request refused after a good one on the same connection: the good one is answered, the bad one never forwarded', async (t) => {
  const { backend, port } = await setUp(t);
  const data = await exchange(port, 'GET /good HTTP/1.1\r\nHost: x\r\n\r\nGET /bad HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  const responses = parseResponses(data);
  t.deepEqual(responses.map((r) => r.status), [200, 400]);
  t.is(JSON.parse(responses[0]!.body).url, '/good');
  t.is((await backend.stats()).requests, 1);
});

test('a malformed chunk in a body is answered 400 and the upload is cut, not completed', async (t) => {
  const { backend, port } = await setUp(t);
  const data = await exchange(port, 'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n', 'zz\r\nnot hex\r\n0\r\n\r\n');
  const [response] = parseResponses(data);
  t.is(response!.status, 400);
  t.is(JSON.parse(response!.body).error.code, 'PRX_ERR_BAD_REQUEST');
  // The backend saw the request start; it never saw a complete body, so it never answered it.
  t.is((await backend.stats()).requests, 1);
});

test('a keep-alive connection left idle is closed after keepAliveTimeoutMs', async (t) => {
  const { port } = await setUp(t, { keepAliveTimeoutMs: 300 });
  const socket: Socket = connect(port, '127.0.0.1');
  let data = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (data += chunk));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  socket.write('GET /idle HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the response', () => data.includes('"url":"/idle"'));
  t.regex(parseResponses(data)[0]!.headers['keep-alive'] ?? '', /^timeout=\d+$/);
  await waitFor('the proxy to close the idle connection', () => closed);
  t.is(parseResponses(data).length, 1, 'closed without another response');
});

test('concurrent large responses, chunked and by length, read slowly and fast, arrive byte for byte', async (t) => {
  // The client side queues response pieces and writes them at the end of each turn of the loop,
  // copying small ones and passing large ones on; a slow reader makes those writes back up.
  const bodies = new Map<string, Buffer>();
  for (const name of ['a', 'b', 'c', 'd']) bodies.set(name, randomBytes(12 * 1024 * 1024 + 17));
  const backend = createServer((req, res) => {
    const name = req.url!.slice(1, 2);
    const body = bodies.get(name)!;
    res.writeHead(200, name === 'a' || name === 'c' ? { 'content-length': body.length } : {});
    let at = 0;
    const next = (): void => {
      while (at < body.length) {
        const size = 1 + Math.floor(Math.random() * 100_000);
        const ok = res.write(body.subarray(at, (at += size)));
        if (!ok) return void res.once('drain', next);
        if (Math.random() < 0.3) return void setImmediate(next);
      }
      res.end();
    };
    next();
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  t.teardown(() => backend.close());
  const running = await startProxy(t, testConfig([{ id: 'big', url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}` }]));
  const fetchOne = async (name: string, slow: boolean): Promise<string> => {
    const response = await request(`${running.url}/${name}`, { headersTimeout: 30_000, bodyTimeout: 30_000 });
    const hash = createHash('sha256');
    let read = 0;
    for await (const chunk of response.body) {
      hash.update(chunk as Buffer);
      // A slow reader stops now and then, so the proxy's writes to it back up in its socket.
      if (slow && Math.floor(read / 2_000_000) !== Math.floor((read += (chunk as Buffer).length) / 2_000_000)) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return hash.digest('hex');
  };
  const hashes = await Promise.all([fetchOne('a', true), fetchOne('b', true), fetchOne('c', false), fetchOne('d', false)]);
  t.deepEqual(hashes, ['a', 'b', 'c', 'd'].map((name) => createHash('sha256').update(bodies.get(name)!).digest('hex')));
});
