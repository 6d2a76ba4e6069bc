// Benchmark backend, run as its own process: `node bench/http-backend.ts <id>=<port> ...`.
// One process serves every listener, so "direct" and "proxied" runs cost the backend the same CPU.
// Each answers any request with 200 and a small fixed body naming the listener.
import { createServer } from 'node:http';

const listeners = process.argv.slice(2).map((arg) => {
  const [id, port] = arg.split('=');
  if (!id || !port || !/^\d+$/.test(port)) throw new Error(`expected <id>=<port>, got ${arg}`);
  return { id, port: Number(port) };
});
if (listeners.length === 0) throw new Error('usage: node bench/http-backend.ts <id>=<port> ...');

const servers = listeners.map(({ id, port }) => {
  const body = Buffer.from(`{"backend":"${id}","ok":true}\n`);
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'x-backend': id });
    res.end(body);
  });
  server.listen(port, '127.0.0.1');
  return server;
});

const stop = (): void => {
  for (const server of servers) {
    server.close();
    server.closeAllConnections();
  }
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The benchmark stops this process when it ends; this covers a benchmark killed with -9 (the
// process is then re-parented, and its parent id changes).
const parent = process.ppid;
setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref();
