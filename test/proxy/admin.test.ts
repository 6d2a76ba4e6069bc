// The admin API: auth, views, runtime mode toggles, membership changes, metrics.
import test from 'ava';
import { admin, backendState, call, pinTo, startProxy, testConfig, waitFor } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

test('every endpoint but /healthz needs the bearer token', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!]));
  t.is((await admin(running, 'GET', '/healthz', undefined, null)).status, 200);
  for (const token of [null, 'wrong-token']) {
    for (const path of ['/routes', '/backends', '/metrics']) {
      const reply = await admin(running, 'GET', path, undefined, token);
      t.is(reply.status, 401, path);
      t.is(reply.json().error.code, 'PRX_ERR_UNAUTHORIZED');
    }
  }
  const unknown = await admin(running, 'GET', '/nope');
  t.is(unknown.status, 404);
  t.is(unknown.json().error.code, 'PRX_ERR_NOT_FOUND');
});

test('authentication comes before the path is decoded: a bad escape is 401 without a token, 400 with one', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!]));
  for (const path of ['/routes/%E0%A4%A', '/backends/%ZZ', '/routes/%C0%80/affinity']) {
    const anonymous = await admin(running, 'GET', path, undefined, null);
    t.is(anonymous.status, 401, path);
    t.is(anonymous.json().error.code, 'PRX_ERR_UNAUTHORIZED', path);
    const authorized = await admin(running, 'GET', path);
    t.is(authorized.status, 400, path);
    t.is(authorized.json().error.code, 'PRX_ERR_INVALID_ARGUMENT', path);
    t.regex(authorized.json().error.message, /percent-encoded/, path);
  }
});

test('routes and backends show mode, health, in-flight and counters', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!]));
  const pin = (await call(running.url)).pin!;
  await call(running.url, { cookie: pin });
  const hanging = call(`${running.url}/hang`).catch(() => undefined);
  await waitFor('one in flight', async () => (await backendState(running, 'a')).inFlight === 1);
  const { routes } = (await admin(running, 'GET', '/routes')).json();
  t.like(routes[0], { name: 'main', pool: 'app', affinity: 'soft', configuredAffinity: 'soft', key: { type: 'cookie', name: 'stickless' }, counters: { new: 1, hit: 1, routed: 1 } });
  const { backends } = (await admin(running, 'GET', '/backends')).json();
  t.like(backends[0], { id: 'a', pool: 'app', url: a!.url, state: 'up', health: 'up', draining: false, inFlight: 1, source: 'static' });
  t.true(backends[0].requests >= 3);
  await running.proxy.destroy();
  await hanging;
});

test('a runtime affinity toggle changes behaviour on the next request', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], {}, { health: { intervalMs: 100, timeoutMs: 1_000, rise: 1, fall: 1 } }));
  const pin = await pinTo(running.url, 'a');
  await a!.control({ healthy: false });
  await waitFor('a down', async () => (await backendState(running, 'a')).health === 'down');
  t.like(await call(running.url, { cookie: pin }), { status: 200, backend: 'b', affinity: 'moved' });

  const toHard = await admin(running, 'PUT', '/routes/main/affinity', { affinity: 'hard' });
  t.like(toHard.json(), { name: 'main', affinity: 'hard', configuredAffinity: 'soft' });
  const refused = await call(running.url, { cookie: pin });
  t.is(refused.status, 503);
  t.is(refused.json().error.code, 'PRX_ERR_PINNED_UPSTREAM_DOWN');

  await admin(running, 'PUT', '/routes/main/affinity', { affinity: 'none' });
  t.like(await call(running.url, { cookie: pin }), { status: 200, backend: 'b', affinity: 'none', pin: undefined });

  const bad = await admin(running, 'PUT', '/routes/main/affinity', { affinity: 'sticky' });
  t.is(bad.status, 400);
  t.deepEqual(bad.json().error.issues, ['affinity: expected none | soft | hard']);
  t.is((await admin(running, 'PUT', '/routes/nope/affinity', { affinity: 'hard' })).status, 404);
});

test('backends can be added, drained, undrained and removed at runtime', async (t) => {
  const [a, c] = await startBackends(t, ['a', 'c']);
  const running = await startProxy(t, testConfig([a!], { routes: [{ name: 'main', pool: 'app', affinity: 'none' }] }));
  const added = await admin(running, 'POST', '/pools/app/backends', { id: 'c', url: c!.url, weight: 3 });
  t.is(added.status, 201);
  t.like(added.json(), { id: 'c', source: 'admin', weight: 3, state: 'up' });
  await waitFor('c receives traffic', async () => (await call(running.url)).backend === 'c');
  t.is((await admin(running, 'POST', '/pools/app/backends', { id: 'c', url: c!.url })).status, 409);
  t.is((await admin(running, 'POST', '/pools/nope/backends', { id: 'x', url: c!.url })).status, 404);
  const invalid = await admin(running, 'POST', '/pools/app/backends', { id: 'bad id', url: 'nope' });
  t.is(invalid.status, 400);
  t.deepEqual(invalid.json().error.issues, ['id: expected 1-128 characters of A-Z a-z 0-9 . _ ~ : @ [ ] -', 'url: expected an http(s) origin such as http://10.0.0.5:3000']);

  t.like((await admin(running, 'POST', '/backends/c/drain', { timeoutMs: 60_000 })).json(), { state: 'draining', draining: true });
  for (let i = 0; i < 10; i++) t.is((await call(running.url)).backend, 'a');
  t.like((await admin(running, 'POST', '/backends/c/undrain')).json(), { state: 'up', draining: false });
  await waitFor('c receives traffic again', async () => (await call(running.url)).backend === 'c');

  t.is((await admin(running, 'DELETE', '/backends/c')).status, 204);
  for (let i = 0; i < 10; i++) t.is((await call(running.url)).backend, 'a');
  t.is((await admin(running, 'DELETE', '/backends/c')).status, 404);
  t.deepEqual((await admin(running, 'GET', '/backends')).json().backends.map((x: { id: string }) => x.id), ['a']);
});

test('/metrics exposes per-route and per-backend series from this proxy only', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const running = await startProxy(t, testConfig([a!]));
  const other = await startProxy(t, testConfig([a!], { routes: [{ name: 'elsewhere', pool: 'app' }] }));
  const pin = (await call(running.url)).pin!;
  await call(running.url, { cookie: pin });
  await call(`${running.url}/status/503`, { cookie: pin });
  const text = (await admin(running, 'GET', '/metrics')).text;
  t.true(text.includes('stickless_proxy_route_requests_total{route="main"} 3'), text.slice(0, 2000));
  t.true(text.includes('stickless_proxy_route_affinity_total{route="main",result="new"} 1'));
  t.true(text.includes('stickless_proxy_route_affinity_total{route="main",result="hit"} 2'));
  t.true(text.includes('stickless_proxy_route_pin_outcomes_total{route="main",outcome="routed"} 2'));
  t.true(text.includes('stickless_proxy_route_mode{route="main",mode="soft"} 1'));
  t.true(text.includes('stickless_proxy_upstream_requests_total{pool="app",backend="a"} 3'));
  t.true(text.includes('stickless_proxy_upstream_failures_total{pool="app",backend="a"} 1'));
  t.true(text.includes('stickless_proxy_upstream_up{pool="app",backend="a"} 1'));
  t.false(text.includes('route="elsewhere"'));
  t.true((await admin(other, 'GET', '/metrics')).text.includes('route="elsewhere"'));
});
