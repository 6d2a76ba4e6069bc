// A tiny real HTTP + WebSocket backend for proxy tests, run as a child process by upstream.ts so
// tests can kill -9 it. It reports its id, echoes what it received, and can be told (POST
// /__control) to fail health checks, answer 500, or delay every answer.
//   GET  /healthz                 200, or 503 when {healthy:false}
//   POST /__control               {healthy?, fail?, delayMs?}
//   GET  /__stats                 {requests, aborted, websockets}
//   ANY  /hang                    never answers (counts an abort when the proxy cancels it)
//   ANY  /slow?ms=N               answers after N ms
//   POST /echo                    streams the request body back as it arrives
//   GET  /stream?chunks=N&ms=M    N chunks, one every M ms
//   ANY  /status/:code            answers with that status
//   ANY  /hop                     answers with hop-by-hop headers the proxy must strip
//   ANY  (else)                   200 JSON {id, method, url, headers, bodyBytes}
// A leading route segment used by the tests (/none, /soft, /hard, /api, /app, /ws, /other) is ignored.
// WebSocket on any path: first message {"id"}, then echoes `<id>:<message>`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values } = parseArgs({ options: { id: { type: 'string' }, port: { type: 'string', default: '0' } } });
const id = values.id ?? 'backend';
const state = { healthy: true, fail: false, delayMs: 0 };
const stats = { requests: 0, aborted: 0, websockets: 0 };

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://backend');
  url.pathname = url.pathname.replace(/^\/(none|soft|hard|api|app|ws|other)(?=\/)/, '');
  if (url.pathname === '/healthz') return void res.writeHead(state.healthy ? 200 : 503).end(state.healthy ? 'ok' : 'unhealthy');
  if (url.pathname === '/__stats') return json(res, 200, stats);
  if (url.pathname === '/__control') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      Object.assign(state, JSON.parse(body || '{}'));
      json(res, 200, state);
    });
    return;
  }
  stats.requests++;
  const answer = () => respond(req, res, url);
  if (state.delayMs > 0) setTimeout(answer, state.delayMs);
  else answer();
});

function respond(req: IncomingMessage, res: ServerResponse, url: URL): void {
  if (state.fail) return json(res, 500, { id, error: 'told to fail' });
  if (url.pathname === '/hang') {
    res.on('close', () => {
      if (!res.writableFinished) stats.aborted++;
    });
    req.resume();
    return;
  }
  if (url.pathname === '/slow') {
    const timer = setTimeout(() => drainThen(req, () => json(res, 200, { id, slow: true })), Number(url.searchParams.get('ms') ?? 100));
    res.on('close', () => clearTimeout(timer));
    return;
  }
  if (url.pathname === '/echo') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-backend-id': id });
    req.pipe(res);
    return;
  }
  if (url.pathname === '/stream') {
    const chunks = Number(url.searchParams.get('chunks') ?? 3);
    const ms = Number(url.searchParams.get('ms') ?? 10);
    res.writeHead(200, { 'content-type': 'text/plain', 'x-backend-id': id });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(`chunk-${sent}\n`);
      if (++sent === chunks) {
        clearInterval(timer);
        res.end();
      }
    }, ms);
    res.on('close', () => clearInterval(timer));
    return;
  }
  if (url.pathname.startsWith('/status/')) return drainThen(req, () => json(res, Number(url.pathname.slice(8)), { id }));
  if (url.pathname === '/hop') {
    return drainThen(req, () => {
      res.setHeader('connection', 'keep-alive, x-private-hop');
      res.setHeader('x-private-hop', 'must-not-pass');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('set-cookie', ['app=1; Path=/']);
      json(res, 200, { id });
    });
  }
  let bodyBytes = 0;
  req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
  req.on('end', () => json(res, 200, { id, method: req.method, url: req.url, headers: req.headers, bodyBytes }));
}

function drainThen(req: IncomingMessage, then: () => void): void {
  if (req.readableEnded) return then();
  req.on('end', then).resume();
}

function json(res: ServerResponse, status: number, value: unknown): void {
  if (res.destroyed) return;
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-backend-id': id });
  res.end(body);
}

const wss = new WebSocketServer({ server });
wss.on('connection', (socket) => {
  stats.websockets++;
  socket.on('close', () => stats.websockets--);
  socket.send(JSON.stringify({ id }));
  socket.on('message', (data) => socket.send(`${id}:${String(data)}`));
});

server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.send?.({ port });
});
process.on('disconnect', () => process.exit(0));
