// End to end through a real proxy to real backends: each mode × pinned backend up / down /
// draining / overloaded, pin cookies that must not work, key rotation, two instances agreeing.
import test from 'ava';
import { AffinityCookie } from '../../proxy/affinity-cookie.ts';
import { DEFAULT_PROXY_OPTIONS } from '../../proxy/index.ts';
import { admin, backendState, call, pinTo, startProxy, testConfig, TEST_KEY, waitFor, type RunningProxy } from '../helpers/proxy-harness.ts';
import { startBackends, type Backend } from '../helpers/upstream.ts';

// Checks every 100 ms, but a check times out only after 5 s and two must fail: a live backend slow
// to answer on a busy machine is not marked down.
const FAST_HEALTH = { health: { path: '/healthz', intervalMs: 100, timeoutMs: 5_000, rise: 1, fall: 2 } };
const routes = [
  { name: 'none', pool: 'app', affinity: 'none', match: { pathPrefix: '/none' } },
  { name: 'soft', pool: 'app', affinity: 'soft', match: { pathPrefix: '/soft' }, soft: { overloadFactor: 1, overloadMinInFlight: 2 } },
  { name: 'hard', pool: 'app', affinity: 'hard', match: { pathPrefix: '/hard' }, hard: { retryAfterSeconds: 3 } },
];

async function setup(t: Parameters<typeof startBackends>[0]): Promise<{ running: RunningProxy; a: Backend; b: Backend }> {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], { routes }, FAST_HEALTH));
  return { running, a: a!, b: b! };
}

test.serial('a new client gets a signed pin and then hits the same backend', async (t) => {
  const { running } = await setup(t);
  for (const mode of ['soft', 'hard'] as const) {
    const first = await call(`${running.url}/${mode}/x`);
    t.is(first.status, 200);
    t.is(first.affinity, 'new');
    t.truthy(first.pin);
    t.regex(String(first.headers['set-cookie']), /Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax/);
    for (let i = 0; i < 5; i++) {
      const again = await call(`${running.url}/${mode}/x`, { cookie: first.pin! });
      t.is(again.backend, first.backend);
      t.is(again.affinity, 'hit');
      t.is(again.pin, undefined, 'a fresh pin is not re-issued on every hit');
    }
  }
  const none = await call(`${running.url}/none/x`);
  t.is(none.affinity, 'none');
  t.is(none.pin, undefined);
  t.truthy(none.backend);
  const routesView = (await admin(running, 'GET', '/routes')).json().routes;
  t.like(routesView.find((r: any) => r.name === 'soft').counters, { new: 1, hit: 5, routed: 5 });
  t.like(routesView.find((r: any) => r.name === 'none').counters, { none: 1, routed: 0 });
});

test.serial('pinned backend down: soft moves and re-pins, hard fails closed with Retry-After, none balances', async (t) => {
  const { running, a, b } = await setup(t);
  const softPin = await pinTo(`${running.url}/soft`, 'a');
  const hardPin = await pinTo(`${running.url}/hard`, 'a');
  await a.control({ healthy: false });
  await waitFor('a down', async () => (await backendState(running, 'a')).health === 'down');

  const soft = await call(`${running.url}/soft`, { cookie: softPin });
  t.is(soft.backend, 'b');
  t.is(soft.affinity, 'moved');
  t.truthy(soft.pin);
  t.not(soft.pin, softPin);
  const softAgain = await call(`${running.url}/soft`, { cookie: soft.pin! });
  t.like(softAgain, { backend: 'b', affinity: 'hit' });

  const hard = await call(`${running.url}/hard`, { cookie: hardPin });
  t.is(hard.status, 503);
  t.is(hard.headers['retry-after'], '3');
  t.is(hard.json().error.code, 'PRX_ERR_PINNED_UPSTREAM_DOWN');
  t.like(hard, { backend: 'a', affinity: 'hit' });

  for (let i = 0; i < 5; i++) t.like(await call(`${running.url}/none`), { backend: 'b', affinity: 'none' });

  await a.control({ healthy: true });
  await waitFor('a up', async () => (await backendState(running, 'a')).health === 'up');
  t.like(await call(`${running.url}/hard`, { cookie: hardPin }), { status: 200, backend: 'a', affinity: 'hit' });
  const counters = (await admin(running, 'GET', '/routes/hard')).json().counters;
  t.like(counters, { failedClosed: 1 });
  t.is((await admin(running, 'GET', '/routes/soft')).json().counters.failedOpen, 1);
  void b;
});

test.serial('pinned backend draining: no new pins, soft moves, hard stays until the deadline then moves', async (t) => {
  const { running } = await setup(t);
  const softPin = await pinTo(`${running.url}/soft`, 'a');
  const hardPin = await pinTo(`${running.url}/hard`, 'a');
  const drained = await admin(running, 'POST', '/backends/a/drain', { timeoutMs: 4_000 });
  t.is(drained.json().state, 'draining');
  t.like(await call(`${running.url}/hard`, { cookie: hardPin }), { backend: 'a', affinity: 'hit' }, 'hard pins stay before the deadline');

  for (let i = 0; i < 10; i++) {
    const fresh = await call(`${running.url}/soft`);
    t.is(fresh.backend, 'b', 'a draining backend takes no new pins');
    t.is((await call(`${running.url}/none`)).backend, 'b');
  }
  t.like(await call(`${running.url}/soft`, { cookie: softPin }), { backend: 'b', affinity: 'moved' });
  const moved = await waitFor('the drain deadline', async () => {
    const reply = await call(`${running.url}/hard`, { cookie: hardPin });
    return reply.affinity === 'moved' ? reply : undefined;
  });
  t.is(moved.backend, 'b');
  t.truthy(moved.pin);

  await admin(running, 'POST', '/backends/a/undrain');
  t.like(await call(`${running.url}/hard`, { cookie: hardPin }), { backend: 'a', affinity: 'hit' });
});

test.serial('pinned backend overloaded: soft moves, hard stays, none balances away', async (t) => {
  const { running } = await setup(t);
  const pin = await pinTo(`${running.url}/hard`, 'a');
  // Pins are route-bound: the soft route needs its own pin on a.
  const softPin = await pinTo(`${running.url}/soft`, 'a');
  // Three requests hang on a (hard-pinned, so they cannot move); b is idle.
  const hanging = Array.from({ length: 3 }, () => call(`${running.url}/hard/hang`, { cookie: pin }).catch(() => undefined));
  await waitFor('three requests in flight on a', async () => (await backendState(running, 'a')).inFlight === 3);
  t.like(await call(`${running.url}/soft`, { cookie: softPin }), { backend: 'b', affinity: 'moved' });
  t.like(await call(`${running.url}/hard`, { cookie: pin }), { backend: 'a', affinity: 'hit' });
  for (let i = 0; i < 5; i++) t.is((await call(`${running.url}/none`)).backend, 'b');
  await running.proxy.destroy();
  await Promise.all(hanging);
});

test.serial('forged, tampered, foreign and expired cookies count as absent and never leave the pool', async (t) => {
  const [a, b, c] = await startBackends(t, ['a', 'b', 'c']);
  const raw = testConfig([a!, b!], {
    routes: [
      { name: 'hard', pool: 'app', affinity: 'hard', cookie: { maxAgeSeconds: 60 } },
      { name: 'other', pool: 'other', affinity: 'hard', match: { pathPrefix: '/other' } },
    ],
  });
  (raw['pools'] as any).other = { backends: [{ id: 'c', url: c!.url }] };
  const running = await startProxy(t, raw);
  const codec = (key: string, maxAgeSeconds = 60) => new AffinityCookie([key], { ...DEFAULT_PROXY_OPTIONS.route.cookie, maxAgeSeconds });
  const now = Date.now();
  const valid = codec(TEST_KEY).encode('b', now);
  const [id, issued, mac] = valid.split('.') as [string, string, string];
  const cases: Record<string, string> = {
    'signed with an unknown key': codec('attacker-key-0123456789').encode('b', now),
    'id swapped under a valid mac': `${Buffer.from('a').toString('base64url')}.${issued}.${mac}`,
    'mac tampered': `${id}.${issued}.${mac.slice(0, -4)}AAAA`,
    expired: codec(TEST_KEY).encode('b', now - 61_000),
    'valid pin for a backend of another pool': codec(TEST_KEY).encode('c', now),
    'valid pin for an unknown backend': codec(TEST_KEY).encode('nowhere', now),
  };
  for (const [what, value] of Object.entries(cases)) {
    for (let i = 0; i < 3; i++) {
      const reply = await call(running.url, { cookie: `stickless=${value}` });
      t.is(reply.status, 200, what);
      t.is(reply.affinity, 'new', what);
      t.true(reply.backend === 'a' || reply.backend === 'b', what);
      t.truthy(reply.pin, what);
    }
  }
  t.like(await call(running.url, { cookie: `stickless=${valid}` }), { backend: 'b', affinity: 'hit' });
});

test.serial('key rotation: pins signed by an old key still hit and are re-signed with the new one', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const OLD = TEST_KEY;
  const NEW = 'rotated-key-0123456789abcdef';
  const before = await startProxy(t, testConfig([a!, b!], { keys: [OLD] }));
  const during = await startProxy(t, testConfig([a!, b!], { keys: [NEW, OLD] }));
  const after = await startProxy(t, testConfig([a!, b!], { keys: [NEW] }));
  const oldPin = await pinTo(before.url, 'b');
  const hit = await call(during.url, { cookie: oldPin });
  t.like(hit, { backend: 'b', affinity: 'hit' });
  t.truthy(hit.pin, 'the hit re-issues the pin under the new key');
  t.not(hit.pin, oldPin);
  t.like(await call(after.url, { cookie: hit.pin! }), { backend: 'b', affinity: 'hit' });
  t.is((await call(after.url, { cookie: oldPin })).affinity, 'new', 'once the old key is dropped its pins are absent');
});

test.serial('two proxy instances with the same keys agree on pins and on header hashing', async (t) => {
  const backends = await startBackends(t, ['a', 'b', 'c']);
  const extra = {
    routes: [
      { name: 'cookie', pool: 'app', affinity: 'hard' },
      { name: 'header', pool: 'app', affinity: 'soft', key: { type: 'header', name: 'X-User' }, match: { pathPrefix: '/api' } },
      { name: 'session', pool: 'app', affinity: 'soft', key: { type: 'app-cookie', name: 'sid' }, match: { pathPrefix: '/app' } },
    ],
  };
  const one = await startProxy(t, testConfig(backends, extra));
  const two = await startProxy(t, testConfig(backends, extra));
  for (let i = 0; i < 6; i++) {
    const first = await call(one.url);
    const other = await call(two.url, { cookie: first.pin! });
    t.like(other, { backend: first.backend, affinity: 'hit' });
  }
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const viaOne = await call(`${one.url}/api/x`, { headers: { 'x-user': `user-${i}` } });
    const viaTwo = await call(`${two.url}/api/x`, { headers: { 'x-user': `user-${i}` } });
    t.like(viaOne, { affinity: 'hit', pin: undefined });
    t.is(viaTwo.backend, viaOne.backend);
    const session = await call(`${two.url}/app/x`, { cookie: `sid=session-${i}` });
    t.is(session.affinity, 'hit');
    t.is((await call(`${one.url}/app/x`, { cookie: `sid=session-${i}` })).backend, session.backend);
    seen.add(viaOne.backend!);
  }
  t.true(seen.size > 1, 'keys spread over the pool');
  t.is((await call(`${one.url}/api/x`)).affinity, 'none', 'no key, nothing to hash');
});
