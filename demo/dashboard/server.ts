// The dashboard's HTTP side: the page, a state endpoint that joins replica processes with the
// proxy's view of them, and the buttons' actions (kill / restart a replica, switch a route's mode).
// It runs inside the stack launcher, because it owns the replica processes.
//
// The actions (kill, restart, switch affinity) have no login: they are for the person at this
// machine. They answer only clients on the loopback interface, as the proxy reports them
// (X-Forwarded-For / Forwarded, set by the proxy in front) and as the socket shows; anyone else gets
// 403 DASHBOARD_LOOPBACK_ONLY. `npm start` also binds the proxy to 127.0.0.1 only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { renderDashboardPage } from './page.ts';

export interface ReplicaView {
  id: string;
  mode: 'local' | 'central' | 'token';
  pool: string;
  port: number;
  alive: boolean;
}

/** What the dashboard may do to the stack. */
export interface StackControl {
  replicas(): ReplicaView[];
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  /** Proxy admin API call; rejects on a non-2xx answer. */
  admin(method: string, path: string, body?: unknown): Promise<unknown>;
}

const MODES = new Set(['none', 'soft', 'hard']);

export function createDashboardServer(control: StackControl): Server {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/' || path === '/dashboard') {
      res.writeHead(302, { location: '/dashboard/' }).end();
      return;
    }
    if (req.method === 'GET' && path === '/dashboard/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(renderDashboardPage());
      return;
    }
    if (req.method === 'GET' && path === '/dashboard/api/state') {
      const [routes, backends] = (await Promise.all([control.admin('GET', '/routes'), control.admin('GET', '/backends')])) as [
        { routes: unknown[] },
        { backends: unknown[] },
      ];
      const replicas = await Promise.all(control.replicas().map(async (r) => ({ ...r, stats: r.alive ? await replicaStats(r.port) : undefined })));
      return json(res, 200, { replicas, routes: routes.routes, backends: backends.backends });
    }
    if ((req.method === 'POST' || req.method === 'PUT') && !fromLoopback(req)) {
      return json(res, 403, { code: 'DASHBOARD_LOOPBACK_ONLY', error: 'the dashboard\'s actions answer clients on this machine only (loopback): open it on the machine that runs the stack' });
    }
    const replicaAction = /^\/dashboard\/api\/replicas\/([^/]+)\/(kill|restart)$/.exec(path);
    if (req.method === 'POST' && replicaAction) {
      const [, id, action] = replicaAction as unknown as [string, string, 'kill' | 'restart'];
      if (!control.replicas().some((r) => r.id === id)) return json(res, 404, { error: `no replica "${id}"` });
      await (action === 'kill' ? control.kill(id) : control.restart(id));
      return json(res, 200, { id, action, replicas: control.replicas() });
    }
    const routeAction = /^\/dashboard\/api\/routes\/([^/]+)\/affinity$/.exec(path);
    if (req.method === 'PUT' && routeAction) {
      const body = await readJson(req);
      if (typeof body.affinity !== 'string' || !MODES.has(body.affinity)) return json(res, 400, { error: 'affinity: expected none | soft | hard' });
      return json(res, 200, await control.admin('PUT', `/routes/${routeAction[1]}/affinity`, { affinity: body.affinity }));
    }
    json(res, 404, { error: `no route ${req.method} ${path}` });
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => json(res, 502, { error: (error as Error).message }));
  });
}

/** A replica's GET /api/stats (see demo/README.md), or undefined when it does not answer in time. */
async function replicaStats(port: number): Promise<unknown> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/api/stats`, { signal: AbortSignal.timeout(2000) });
    return response.ok ? await response.json() : undefined;
  } catch {
    return undefined;
  }
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+|\[::1\])$/;

/** True when the socket and every hop named by X-Forwarded-For / Forwarded are loopback addresses. */
export function fromLoopback(req: IncomingMessage): boolean {
  const hops = [req.socket.remoteAddress ?? ''];
  for (const value of [req.headers['x-forwarded-for']].flat()) if (value) hops.push(...value.split(','));
  for (const value of [req.headers['forwarded']].flat()) {
    for (const match of (value ?? '').matchAll(/for=("?)([^;,"]*)\1/gi)) hops.push(match[2]!.replace(/^\[(.*)\](:\d+)?$/, '$1'));
  }
  return hops.every((hop) => LOOPBACK.test(hop.trim()));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 4096) return {};
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
