// The dashboard's HTTP side: the page, a state endpoint that joins replica processes with the
// proxy's view of them, and the buttons' actions (kill / restart a replica, switch a route's mode).
// It runs inside the stack launcher, because it owns the replica processes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { renderDashboardPage } from './page.ts';

export interface ReplicaView {
  id: string;
  mode: 'local' | 'central';
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
      return json(res, 200, { replicas: control.replicas(), routes: routes.routes, backends: backends.backends });
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
