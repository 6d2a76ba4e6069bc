// `--only instructions`: user-space instructions per request of the stickless proxy and of HAProxy,
// counted by valgrind's callgrind. Unlike CPU time on a shared VM (which moves 2x within a minute),
// the counts repeat whatever else the machine is doing, so they show what a change to the
// forwarding path gained. One process of each proxy runs under callgrind; for each path a warm-up,
// then the counters are dumped (`callgrind_control -d`) around the measured requests, sent over 4
// keep-alive connections. Not counted: kernel time (the socket calls, about the same for both
// proxies); counted: V8 compiling during the window, which the warm-up keeps small.
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { freePort, waitForPort, type ChildProcesses } from './child-processes.ts';
import { formatTable } from './markdown-table.ts';
import { PROXY_NODE_ARGS, startHaproxy, startSticklessProxy, type Backend, type LaunchWrapper } from './proxy-peers.ts';

export interface ProxyInstructionsOptions {
  children: ChildProcesses;
  /** Measured requests per path. */
  requests: number;
  /** Unmeasured requests per path before its window. */
  warmup: number;
  haproxy: boolean;
  log: (line: string) => void;
}

export interface InstructionRow {
  section: 'instructions';
  proxy: 'stickless' | 'HAProxy';
  path: 'none' | 'cookie inserted' | 'pinned cookie hit';
  requests: number;
  instructionsPerRequest: number;
  /** stickless / HAProxy for the same path; null for HAProxy rows or without HAProxy. */
  vsHaproxy: number | null;
}

/** A path to measure: its name, its URL and the Cookie header to send (a pin), if any. */
type PathSpec = [InstructionRow['path'], string, string | undefined];

const BACKEND_SCRIPT = fileURLToPath(new URL('./http-backend.ts', import.meta.url));
const CONNECTIONS = 4;

/** Whether valgrind can run here, or why not. */
function valgrindMissing(): string | undefined {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : 'valgrind is not installed (`apt-get install -y valgrind`)';
}

export async function runProxyInstructions(options: ProxyInstructionsOptions): Promise<{ markdown: string; rows: InstructionRow[] }> {
  const { children, log } = options;
  const missing = valgrindMissing();
  if (missing !== undefined) return { markdown: `Not measured: ${missing}.`, rows: [] };
  const backends: Backend[] = [{ id: 'a', port: await freePort() }, { id: 'b', port: await freePort() }];
  const backend = children.start({ name: 'backends', command: process.execPath, args: [BACKEND_SCRIPT, ...backends.map((b) => `${b.id}=${b.port}`)] });
  const dir = children.makeTempDir('stickless-bench-callgrind-');
  const wrapper = (name: string): LaunchWrapper => ({
    command: 'valgrind',
    args: ['--tool=callgrind', `--callgrind-out-file=${join(dir, `${name}.out`)}`, '--smc-check=all-non-file', '--dump-instr=no'],
    readyTimeoutMs: 300_000, // node starts in about a minute under valgrind on 2 slow cores; a bound, not a speed limit
  });
  const rows: InstructionRow[] = [];
  try {
    for (const b of backends) await waitForPort(b.port, backend);
    log('  stickless proxy under callgrind (about a minute to start)');
    const stickless = await startSticklessProxy(children, backends, 1, PROXY_NODE_ARGS, wrapper('stickless'));
    try {
      const measure = windowMeter(join(dir, 'stickless.out'), stickless.pid!);
      const pin = await firstSetCookie(`${stickless.url}/soft/bench`);
      const paths: PathSpec[] = [['none', `${stickless.url}/none/bench`, undefined], ['cookie inserted', `${stickless.url}/soft/bench`, undefined], ['pinned cookie hit', `${stickless.url}/soft/bench`, pin]];
      // Every path warmed before any is measured: the JIT compiles code the paths share only once.
      for (const [, url, cookie] of paths) await send(url, cookie, options.warmup);
      for (const [path, url, cookie] of paths) rows.push(await measurePath('stickless', path, url, cookie, measure, options));
    } finally {
      await stickless.stop();
    }
    if (options.haproxy) {
      log('  HAProxy under callgrind');
      const haproxy = await startHaproxy(children, backends, 1, wrapper('haproxy'));
      try {
        const measure = windowMeter(join(dir, 'haproxy.out'), haproxy.pid!);
        const pin = await firstSetCookie(`${haproxy.cookie}/bench`);
        const paths: PathSpec[] = [['none', `${haproxy.roundRobin}/bench`, undefined], ['cookie inserted', `${haproxy.cookie}/bench`, undefined], ['pinned cookie hit', `${haproxy.cookie}/bench`, pin]];
        for (const [, url, cookie] of paths) await send(url, cookie, options.warmup);
        for (const [path, url, cookie] of paths) rows.push(await measurePath('HAProxy', path, url, cookie, measure, options));
      } finally {
        await haproxy.stop();
      }
    }
  } finally {
    await children.stop(backend);
    children.removeTempDir(dir);
  }
  for (const row of rows) {
    const peer = rows.find((r) => r.proxy === 'HAProxy' && r.path === row.path);
    row.vsHaproxy = row.proxy === 'stickless' && peer !== undefined ? row.instructionsPerRequest / peer.instructionsPerRequest : null;
  }
  const table = formatTable(
    ['proxy', 'path', 'requests', 'instructions per request', 'vs HAProxy'],
    rows.map((r) => [r.proxy, r.path, String(r.requests), Math.round(r.instructionsPerRequest).toLocaleString('en-US'), r.vsHaproxy === null ? '' : `${r.vsHaproxy.toFixed(2)}×`]),
  );
  const markdown = [
    table,
    '',
    `User-space instructions per request, counted by valgrind's callgrind in one process of each proxy (stickless: one worker, launched as docs/proxy.md recommends; HAProxy: \`nbthread 1\`). ` +
      `${options.warmup} unmeasured requests on every path first, then per path ${Math.ceil(options.warmup / 4)} more and the counters dumped around ${options.requests} requests sent over ${CONNECTIONS} keep-alive connections by an undici Pool. ` +
      'Repeatable on a busy machine; kernel time (the socket calls, about the same for both proxies) is not counted, V8 compiling in the window is.' +
      (options.haproxy ? '' : ' HAProxy rows not measured: haproxy is not installed (`apt-get install -y haproxy`).'),
  ].join('\n');
  return { markdown, rows };
}

/** Dumps callgrind's counters of `pid` and returns the instructions since the previous dump. */
function windowMeter(outFile: string, pid: number): () => Promise<number> {
  let dumps = 0;
  return async () => {
    await promisify(execFile)('callgrind_control', ['-d', String(pid)], { timeout: 120_000 });
    dumps++;
    const text = readFileSync(`${outFile}.${dumps}`, 'utf8');
    const summary = /^summary: (\d+)$/m.exec(text);
    if (summary === null) throw new Error(`no summary line in callgrind dump ${outFile}.${dumps}`);
    return Number(summary[1]);
  };
}

async function measurePath(proxy: InstructionRow['proxy'], path: InstructionRow['path'], url: string, cookie: string | undefined, measure: () => Promise<number>, options: ProxyInstructionsOptions): Promise<InstructionRow> {
  await send(url, cookie, Math.ceil(options.warmup / 4));
  await measure(); // everything before this path's window
  await send(url, cookie, options.requests);
  const instructions = await measure();
  const row: InstructionRow = { section: 'instructions', proxy, path, requests: options.requests, instructionsPerRequest: instructions / options.requests, vsHaproxy: null };
  options.log(`  ${proxy}, ${path}: ${Math.round(row.instructionsPerRequest).toLocaleString('en-US')} instructions per request`);
  return row;
}

/** `count` GET requests over CONNECTIONS keep-alive connections; every one must answer 200. */
async function send(url: string, cookie: string | undefined, count: number): Promise<void> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: CONNECTIONS, headersTimeout: 120_000, bodyTimeout: 120_000 });
  let left = count;
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (left-- > 0) {
        const response = await pool.request({ path: target.pathname, method: 'GET', headers: cookie === undefined ? {} : { cookie } });
        await response.body.text();
        if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
      }
    }));
  } finally {
    await pool.close();
  }
}

async function firstSetCookie(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  await response.text();
  const setCookie = response.headers.getSetCookie()[0];
  if (setCookie === undefined) throw new Error(`${url} set no cookie`);
  return setCookie.split(';')[0]!;
}

