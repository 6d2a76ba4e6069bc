// Real backends for proxy tests: each one a child process running proxy-backend.ts on a free
// 127.0.0.1 port, so a test can kill -9 it and start it again on the same port with the same id.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { request } from 'undici';

const BACKEND_FILE = fileURLToPath(new URL('./proxy-backend.ts', import.meta.url));
/** Only a bound against a hung child: a slow start on a busy machine is waited for, never killed and retried (that adds load). */
const START_TIMEOUT_MS = 60_000;
/** Backends started at once per test worker: a file starting a dozen at the same instant starves them all on a busy machine. */
const MAX_CONCURRENT_STARTS = 2;
let starting = 0;
const waitingToStart: Array<() => void> = [];

export interface BackendControl {
  /** /healthz answers 503 when false. */
  healthy?: boolean;
  /** Every request answers 500. */
  fail?: boolean;
  /** Every request waits this long, ms. */
  delayMs?: number;
}

export interface Backend {
  readonly id: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly running: boolean;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same id. */
  restart(): Promise<void>;
  control(state: BackendControl): Promise<void>;
  stats(): Promise<{ requests: number; aborted: number; websockets: number }>;
  /** Stop for good. Idempotent. */
  stop(): Promise<void>;
}

export async function startBackend(id: string, port = 0): Promise<Backend> {
  let child = await spawnBackend(id, port);
  const boundPort = child.port;
  let running = true;
  const url = `http://127.0.0.1:${boundPort}`;
  const kill = async () => {
    if (!running) return;
    running = false;
    const exited = once(child.process, 'exit');
    child.process.kill('SIGKILL');
    await exited;
  };
  return {
    id,
    port: boundPort,
    url,
    get running() {
      return running;
    },
    kill,
    async restart() {
      await kill();
      child = await spawnBackend(id, boundPort);
      running = true;
    },
    async control(state) {
      const { body } = await request(`${url}/__control`, { method: 'POST', body: JSON.stringify(state), headersTimeout: 5_000, bodyTimeout: 5_000 });
      await body.dump();
    },
    async stats() {
      const { body } = await request(`${url}/__stats`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
      return (await body.json()) as { requests: number; aborted: number; websockets: number };
    },
    stop: kill,
  };
}

/** Starts one backend per id and stops them in the test's teardown. */
export async function startBackends(t: ExecutionContext, ids: readonly string[]): Promise<Backend[]> {
  const backends = await Promise.all(ids.map((id) => startBackend(id)));
  t.teardown(() => Promise.all(backends.map((b) => b.stop())));
  return backends;
}

async function spawnBackend(id: string, port: number): Promise<{ process: ChildProcess; port: number }> {
  if (starting >= MAX_CONCURRENT_STARTS) await new Promise<void>((resolve) => waitingToStart.push(resolve));
  starting++;
  try {
    return await spawnBackendNow(id, port);
  } finally {
    starting--;
    waitingToStart.shift()?.();
  }
}

async function spawnBackendNow(id: string, port: number): Promise<{ process: ChildProcess; port: number }> {
  // Retry a few times when the child exits before listening: restarting on the same port can race
  // the kernel releasing it. A child that is merely slow is not retried.
  for (let attempt = 0; ; attempt++) {
    const child = spawn(process.execPath, [BACKEND_FILE, '--id', id, '--port', String(port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let exited = false;
    try {
      const bound = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`backend ${id} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
        child.once('message', (message: { port: number }) => {
          clearTimeout(timer);
          resolve(message.port);
        });
        child.once('exit', (code) => {
          exited = true;
          clearTimeout(timer);
          reject(new Error(`backend ${id} exited with ${code} before listening`));
        });
      });
      child.removeAllListeners('exit');
      return { process: child, port: bound };
    } catch (error) {
      child.kill('SIGKILL');
      if (!exited || attempt >= 4) throw error;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
}

/** One request as a RecordingBackend received it. */
export interface SeenRequest {
  method: string;
  url: string;
  host: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
}

export interface RecordingBackend {
  readonly id: string;
  readonly url: string;
  /** Every request received, in order, recorded once its body has ended. */
  readonly seen: SeenRequest[];
  /** Requests whose headers arrived, body finished or not. */
  readonly started: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
}

/**
 * An in-process plain HTTP backend that records what it receives and answers 200 JSON
 * {id, url, host} after reading the body. It has no WebSocket support: an `Upgrade` request is
 * answered like any other (Node's default without an 'upgrade' listener), and the connection stays
 * open for the next request, as an ordinary app server would. Closed in teardown.
 */
export async function startRecordingBackend(t: ExecutionContext, id: string): Promise<RecordingBackend> {
  const seen: SeenRequest[] = [];
  let started = 0;
  let connections = 0;
  const server = createServer((req, res) => {
    started++;
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, host: req.headers.host, headers: req.headers, bodyBytes });
      const body = JSON.stringify({ id, url: req.url, host: req.headers.host, bodyBytes });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    id,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    get started() {
      return started;
    },
    get connections() {
      return connections;
    },
  };
}
