// The admin API: its own listener (loopback by default), bearer-token auth, JSON in and out.
//
//   GET    /healthz                      liveness, no token
//   GET    /routes                       routes with mode, match, pool and counters
//   PUT    /routes/:name/affinity        {"affinity":"none|soft|hard"}: takes effect on the next request
//   GET    /backends                     every backend: pool, state, health, in-flight, counters
//   POST   /pools/:pool/backends         {"id","url","weight"?}: add a backend (201)
//   DELETE /backends/:id                 remove (in-flight requests finish)
//   POST   /backends/:id/drain           {"timeoutMs"?}: no new pins; hard pins and WebSockets leave at the deadline
//   POST   /backends/:id/undrain
//   GET    /workers                      the serving processes (one, or each of workers: N)
//   GET    /metrics                      Prometheus text format
//
// With `workers: N` the primary serves this API: views and metrics sum every worker's counters,
// and a change returns once every worker has applied it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { backendSchema, type AffinityMode, type BackendConfig } from './config-schema.ts';
import { formatPath } from './config.ts';
import { ProxyError, sendProxyError } from './errors.ts';
import type { RouteCounters, RouteEntry } from './route-table.ts';
import type { Upstream } from './upstream.ts';

/** What the admin API shows for a route. */
export interface RouteView {
  name: string;
  match: { pathPrefix: string; host?: string | undefined };
  pool: string;
  affinity: AffinityMode;
  /** The mode in the configuration file (differs after a runtime change). */
  configuredAffinity: AffinityMode;
  key: { type: string; name?: string };
  counters: RouteCounters;
}

/** What the admin API shows for a backend. */
export interface BackendView {
  id: string;
  pool: string;
  url: string;
  weight: number;
  source: string;
  state: 'up' | 'down' | 'draining';
  health: 'up' | 'down';
  draining: boolean;
  drainDeadline: string | null;
  ejectedUntil: string | null;
  inFlight: number;
  websockets: number;
  requests: number;
  failures: number;
  ejections: number;
}

/** One process serving the data listener. */
export interface WorkerView {
  /** cluster worker id; 0 for a standalone proxy. */
  id: number;
  pid: number;
  state: 'starting' | 'serving' | 'stopping';
  inFlight: number;
  /** Requests matched to a route by this process since it started. */
  requests: number;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * The proxy operations the admin API may call; ProxyServer implements it, and so does
 * WorkerSupervisor (workers: N), whose answers are asynchronous: they wait for every worker.
 */
export interface AdminTarget {
  routes(): MaybePromise<RouteView[]>;
  setRouteMode(name: string, mode: AffinityMode): MaybePromise<RouteView | undefined>;
  backends(): MaybePromise<BackendView[]>;
  addBackend(pool: string, backend: BackendConfig): MaybePromise<BackendView>;
  removeBackend(id: string): MaybePromise<boolean>;
  drain(id: string, timeoutMs: number | undefined): MaybePromise<BackendView | undefined>;
  undrain(id: string): MaybePromise<BackendView | undefined>;
  workers(): MaybePromise<WorkerView[]>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

const MAX_BODY_BYTES = 64 * 1024;
const modeBody = z.strictObject({ affinity: z.enum(['none', 'soft', 'hard'], { error: 'expected none | soft | hard' }) });
const drainBody = z.strictObject({ timeoutMs: z.number().int().min(0).optional() });

/** `token` is read per request, so a reloaded token applies at once. */
export function createAdminServer(target: AdminTarget, token: () => string): Server {
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => sendProxyError(res, error));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'GET' && (req.url ?? '/').split('?', 1)[0] === '/healthz') return json(res, 200, { status: 'ok' });
    // Authentication comes before anything looks at the path: an unauthenticated caller learns nothing.
    const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (presented === undefined || !timingSafeEqual(createHash('sha256').update(presented).digest(), createHash('sha256').update(token()).digest())) {
      throw new ProxyError('PRX_ERR_UNAUTHORIZED', 'send Authorization: Bearer <admin token> (admin.token in the proxy configuration)');
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeSegment);
    const [a, b, c, d] = parts;
    if (method === 'GET' && a === 'metrics' && parts.length === 1) {
      const { contentType, body } = await target.metrics();
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
      return;
    }
    if (a === 'routes') {
      if (method === 'GET' && parts.length === 1) return json(res, 200, { routes: await target.routes() });
      if (method === 'GET' && parts.length === 2) return json(res, 200, found((await target.routes()).find((r) => r.name === b), `route ${b}`));
      if ((method === 'PUT' || method === 'POST') && parts.length === 3 && c === 'affinity') {
        const { affinity } = validate(modeBody, await readJson(req));
        return json(res, 200, found(await target.setRouteMode(b!, affinity), `route ${b}`));
      }
    }
    if (a === 'workers' && method === 'GET' && parts.length === 1) return json(res, 200, { workers: await target.workers() });
    if (a === 'backends') {
      if (method === 'GET' && parts.length === 1) return json(res, 200, { backends: await target.backends() });
      if (method === 'GET' && parts.length === 2) return json(res, 200, found((await target.backends()).find((x) => x.id === b), `backend ${b}`));
      if (method === 'DELETE' && parts.length === 2) {
        found((await target.removeBackend(b!)) || undefined, `backend ${b}`);
        res.writeHead(204);
        res.end();
        return;
      }
      if (method === 'POST' && parts.length === 3 && c === 'drain') {
        const { timeoutMs } = validate(drainBody, await readJson(req));
        return json(res, 200, found(await target.drain(b!, timeoutMs), `backend ${b}`));
      }
      if (method === 'POST' && parts.length === 3 && c === 'undrain') return json(res, 200, found(await target.undrain(b!), `backend ${b}`));
    }
    if (a === 'pools' && method === 'POST' && parts.length === 3 && c === 'backends' && d === undefined) {
      const backend = validate(backendSchema, await readJson(req));
      return json(res, 201, await target.addBackend(b!, backend));
    }
    throw new ProxyError('PRX_ERR_NOT_FOUND', `no admin endpoint ${method} ${url.pathname}; see docs/proxy.md#admin-api`);
  }

  return server;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ProxyError('PRX_ERR_INVALID_ARGUMENT', `path segment "${segment}" is not valid percent-encoded UTF-8`);
  }
}

function found<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new ProxyError('PRX_ERR_NOT_FOUND', `${what} does not exist`);
  return value;
}

function validate<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  throw new ProxyError('PRX_ERR_INVALID_ARGUMENT', `invalid request body: ${issues.join('; ')}`, { issues });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ProxyError('PRX_ERR_INVALID_ARGUMENT', `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ProxyError('PRX_ERR_INVALID_ARGUMENT', 'request body is not valid JSON');
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** The RouteView of a route entry (counters copied). */
export function routeView(entry: RouteEntry): RouteView {
  const key = entry.config.key;
  return {
    name: entry.name,
    match: { pathPrefix: entry.match.pathPrefix, ...(entry.match.host ? { host: entry.match.host } : {}) },
    pool: entry.pool.name,
    affinity: entry.mode,
    configuredAffinity: entry.config.affinity,
    key: key.type === 'cookie' ? { type: 'cookie', name: entry.config.cookie.name } : { type: key.type, name: key.name },
    counters: { ...entry.counters },
  };
}

/** The BackendView of an upstream. */
export function backendView(u: Upstream): BackendView {
  const now = Date.now();
  return {
    id: u.id,
    pool: u.poolName,
    url: u.url,
    weight: u.weight,
    source: u.source,
    state: u.state,
    health: u.health,
    draining: u.draining,
    drainDeadline: u.draining ? new Date(u.drainDeadlineMs).toISOString() : null,
    ejectedUntil: u.ejectedUntilMs > now ? new Date(u.ejectedUntilMs).toISOString() : null,
    inFlight: u.inFlight,
    websockets: u.tunnelCount,
    requests: u.requests,
    failures: u.failures,
    ejections: u.ejections,
  };
}
