// The dashboard's actions (kill, restart, switch affinity) answer loopback clients only: through the
// proxy a remote browser is named by X-Forwarded-For / Forwarded, and gets 403 DASHBOARD_LOOPBACK_ONLY
// with nothing done. Issue 12. The stack behind the dashboard is a recording fake of StackControl.
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createDashboardServer, type StackControl } from '../../demo/dashboard/server.ts';

function fakeStack(): { control: StackControl; actions: string[] } {
  const actions: string[] = [];
  const control: StackControl = {
    replicas: () => [{ id: 'central-1', mode: 'central', pool: 'shop', port: 1, alive: true }],
    kill: async (id) => void actions.push(`kill ${id}`),
    restart: async (id) => void actions.push(`restart ${id}`),
    admin: async (method, path) => {
      actions.push(`${method} ${path}`);
      return {};
    },
  };
  return { control, actions };
}

test('actions from a non-loopback client (as the proxy names it) are refused with 403 and do nothing', async (t) => {
  const { control, actions } = fakeStack();
  const server = createDashboardServer(control);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = (path: string, headers: Record<string, string>, method = 'POST', body?: string) =>
    fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(20_000) });

  const remote: Array<Record<string, string>> = [{ 'x-forwarded-for': '203.0.113.7' }, { 'x-forwarded-for': '127.0.0.1, 198.51.100.2' }, { forwarded: 'for="[2001:db8::1]";proto=http' }];
  for (const headers of remote) {
    const kill = await post('/dashboard/api/replicas/central-1/kill', headers);
    t.is(kill.status, 403, JSON.stringify(headers));
    t.is(((await kill.json()) as { code: string }).code, 'DASHBOARD_LOOPBACK_ONLY');
    const flip = await post('/dashboard/api/routes/shop/affinity', { ...headers, 'content-type': 'application/json' }, 'PUT', '{"affinity":"none"}');
    t.is(flip.status, 403);
  }
  t.deepEqual(actions, [], 'nothing was done');

  const local = await post('/dashboard/api/replicas/central-1/kill', { 'x-forwarded-for': '127.0.0.1', forwarded: 'for="[::1]";proto=http' });
  t.is(local.status, 200);
  t.deepEqual(actions, ['kill central-1']);
});
