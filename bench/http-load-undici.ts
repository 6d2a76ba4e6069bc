// Fallback HTTP load generator when wrk is missing, run as its own process:
// `node bench/http-load-undici.ts '<HttpLoadOptions as JSON>'`. One undici Pool with `connections`
// keep-alive connections, a closed loop of one request per connection, and one JSON line (a
// RunResult) on stdout. It costs more CPU per request than wrk, which the reports say.
import { Pool } from 'undici';
import { runClosedLoop } from './closed-loop.ts';
import { REQUEST_TIMEOUT_MS, type HttpLoadOptions } from './http-load.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as HttpLoadOptions;
const url = new URL(options.url);
const pool = new Pool(url.origin, {
  connections: options.connections,
  pipelining: 1,
  headersTimeout: REQUEST_TIMEOUT_MS,
  bodyTimeout: REQUEST_TIMEOUT_MS,
  connectTimeout: REQUEST_TIMEOUT_MS,
});
const path = `${url.pathname}${url.search}`;

const result = await runClosedLoop(async () => {
  const response = await pool.request({ path, method: 'GET', headers: options.headers ?? {} });
  await response.body.dump();
  if (response.statusCode >= 400) throw new Error(`HTTP ${response.statusCode}`);
}, { concurrency: options.connections, durationMs: options.durationMs, warmupMs: 0 });

await pool.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
