// A hard pin whose backend left DNS discovery (a killed compose replica) is treated as down for
// the route's grace: 503 PRX_ERR_PINNED_UPSTREAM_DOWN with Retry-After, then re-pinned as `moved`,
// never silently `new`. A soft pin on such a backend moves at once, as `moved`.
import test from 'ava';
import type { DiscoveredAddress } from '../../proxy/index.ts';
import { admin, call, pinTo, startProxy, testConfig, waitFor } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

test('a hard pin whose backend left DNS gets 503 with Retry-After for the grace, then moves', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  let found: DiscoveredAddress[] = [a!, b!].map((x) => ({ address: '127.0.0.1', port: x.port }));
  const resolver = async () => found;
  const raw = testConfig([], {
    routes: [
      { name: 'hard', pool: 'app', affinity: 'hard', match: { pathPrefix: '/hard' }, hard: { whenDown: 'reject', retryAfterSeconds: 30, repinAfterMs: 2_000 } },
      { name: 'soft', pool: 'app', affinity: 'soft', match: { pathPrefix: '/soft' } },
    ],
  });
  (raw['pools'] as any).app = { dns: { name: 'app.internal', port: 1, intervalMs: 100 }, connectTimeoutMs: 1_000 };
  const running = await startProxy(t, raw, { resolver });
  const gone = `app.internal@127.0.0.1:${a!.port}`;
  const hardPin = await pinTo(`${running.url}/hard`, gone);
  const softPin = await pinTo(`${running.url}/soft`, gone);

  found = [{ address: '127.0.0.1', port: b!.port }];
  await waitFor('the backend to leave discovery', async () => (await admin(running, 'GET', '/backends')).json().backends.length === 1);
  const refused = await call(`${running.url}/hard`, { cookie: hardPin });
  t.is(refused.status, 503);
  t.is(refused.json().error.code, 'PRX_ERR_PINNED_UPSTREAM_DOWN');
  t.is(refused.backend, gone);
  const retryAfter = Number(refused.headers['retry-after']);
  t.true(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter} s is at most the grace left`);

  const soft = await call(`${running.url}/soft`, { cookie: softPin });
  t.like(soft, { status: 200, backend: `app.internal@127.0.0.1:${b!.port}`, affinity: 'moved' });

  const moved = await waitFor('the grace to pass', async () => {
    const reply = await call(`${running.url}/hard`, { cookie: hardPin });
    return reply.status === 200 ? reply : undefined;
  }, 20_000, 200);
  t.like(moved, { backend: `app.internal@127.0.0.1:${b!.port}`, affinity: 'moved' });
  t.truthy(moved.pin, 're-pinned');
});

test('a backend that comes back to DNS within the grace keeps its hard pins', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const all: DiscoveredAddress[] = [a!, b!].map((x) => ({ address: '127.0.0.1', port: x.port }));
  let found = all;
  const raw = testConfig([], { routes: [{ name: 'hard', pool: 'app', affinity: 'hard', hard: { repinAfterMs: 60_000 } }] });
  (raw['pools'] as any).app = { dns: { name: 'app.internal', port: 1, intervalMs: 100 } };
  const running = await startProxy(t, raw, { resolver: async () => found });
  const id = `app.internal@127.0.0.1:${a!.port}`;
  const pin = await pinTo(running.url, id);
  found = [all[1]!];
  await waitFor('the backend to leave', async () => (await call(running.url, { cookie: pin })).status === 503);
  found = all;
  await waitFor('the backend to return', async () => (await call(running.url, { cookie: pin })).status === 200);
  t.like(await call(running.url, { cookie: pin }), { backend: id, affinity: 'hit' });
});

test('a discovered backend removed from the pool (how a worker of workers: N learns a DNS answer) counts as departed; static ones do not', async (t) => {
  const { UpstreamPool } = await import('../../proxy/upstream-pool.ts');
  const { createLogger } = await import('../../proxy/logger.ts');
  const { parseProxyConfig } = await import('../../proxy/config.ts');
  const config = parseProxyConfig(testConfig([{ id: 'static-1', url: 'http://127.0.0.1:1' }]));
  const pool = new UpstreamPool({ name: 'app', config: config.pools['app']!, resolver: async () => [], logger: createLogger('silent') });
  t.teardown(() => pool.destroy());
  pool.add({ id: 'app@10.0.0.9:80', url: 'http://10.0.0.9:80', weight: 1 }, 'dns');
  const before = Date.now();
  t.true(pool.remove('app@10.0.0.9:80'));
  t.true(pool.remove('static-1'));
  t.true((pool.departedSinceMs('app@10.0.0.9:80') ?? 0) >= before);
  t.is(pool.departedSinceMs('static-1'), undefined);
  pool.add({ id: 'app@10.0.0.9:80', url: 'http://10.0.0.9:80', weight: 1 }, 'dns');
  t.is(pool.departedSinceMs('app@10.0.0.9:80'), undefined, 'back in the pool: no longer departed');
});
