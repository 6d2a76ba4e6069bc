// Time in the pin: idle and absolute timeouts carried inside the signed, route-bound pin (any
// instance honours them, no state), the allowed clock skew, sliding re-issue only when it matters,
// cookie lifetime and attributes as Gateway API sessionPersistence defines them, and two routes
// that never share a pin. Time is simulated with pins signed at crafted timestamps.
import test from 'ava';
import { AffinityCookie } from '../../proxy/affinity-cookie.ts';
import { DEFAULT_PROXY_OPTIONS } from '../../proxy/config.ts';
import { call, pinTo, startProxy, testConfig, TEST_KEY } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

const KEY = 'key-a-0123456789abcdef';
const NOW = Date.UTC(2026, 0, 1);
const S = 1000;
const base = { ...DEFAULT_PROXY_OPTIONS.route.cookie };

test('route-bound pins: a pin of one route never verifies on another, even with the same cookie name and key', (t) => {
  const cart = new AffinityCookie([KEY], base, 'cart');
  const upload = new AffinityCookie([KEY], base, 'upload');
  const value = cart.encode('a', NOW);
  t.like(cart.verify(value, NOW), { backendId: 'a', startedAtSeconds: NOW / S });
  t.is(upload.verify(value, NOW), undefined);
  t.is(value.split('.').length, 4, '<id>.<issued>.<sinceStart>.<mac>');
});

test('idle and absolute timeouts and the clock skew are enforced from the pin itself', (t) => {
  const codec = new AffinityCookie([KEY], { ...base, idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 600, clockSkewSeconds: 20 }, 'r');
  t.truthy(codec.verify(codec.encode('a', NOW - 59 * S), NOW), 'idle 59 s of 60');
  t.is(codec.verify(codec.encode('a', NOW - 61 * S), NOW), undefined, 'idle 61 s of 60');
  t.truthy(codec.verify(codec.encode('a', NOW - 10 * S, (NOW - 590 * S) / S), NOW), 'started 590 s ago, re-issued 10 s ago');
  t.is(codec.verify(codec.encode('a', NOW - 10 * S, (NOW - 601 * S) / S), NOW), undefined, 'started 601 s ago: absolute timeout, however active');
  t.truthy(codec.verify(codec.encode('a', NOW + 19 * S), NOW), 'issued 19 s in the future (another instance\'s clock)');
  t.is(codec.verify(codec.encode('a', NOW + 21 * S), NOW), undefined, 'beyond the allowed skew');
});

test('sliding re-issue only when it matters, keeping the first issue time', (t) => {
  const codec = new AffinityCookie([KEY], { ...base, idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 3600 }, 'r');
  const started = NOW / S - 1000;
  const fresh = codec.verify(codec.encode('a', NOW - 10 * S, started), NOW)!;
  t.false(codec.needsRefresh(fresh, NOW), '10 s into a 60 s idle window: no Set-Cookie');
  const aging = codec.verify(codec.encode('a', NOW - 16 * S, started), NOW)!;
  t.true(codec.needsRefresh(aging, NOW), 'past a quarter of the idle timeout');
  const reissued = codec.serialize('a', NOW, aging.startedAtSeconds);
  const value = reissued.slice(reissued.indexOf('=') + 1, reissued.indexOf(';'));
  t.like(codec.verify(value, NOW), { issuedAtSeconds: NOW / S, startedAtSeconds: started });
  t.regex(reissued, /; Max-Age=2600;/, 'permanent: Max-Age is what the absolute timeout leaves');
  const noIdle = new AffinityCookie([KEY], { ...base, maxAgeSeconds: 3600 }, 'r');
  t.false(noIdle.needsRefresh(noIdle.verify(noIdle.encode('a', NOW - 1700 * S), NOW)!, NOW), 'without idle: only past half the max-age');
  t.true(noIdle.needsRefresh(noIdle.verify(noIdle.encode('a', NOW - 1801 * S), NOW)!, NOW));
  const legacy = new AffinityCookie([KEY], base).encode('a', NOW);
  t.like(codec.verify(legacy, NOW), { backendId: 'a', unbound: true }, 'a pin from before route binding still verifies...');
  t.true(codec.needsRefresh(codec.verify(legacy, NOW)!, NOW), '...and is re-issued bound');
});

test('lifetime and attributes: session cookies carry no Max-Age; Domain; Partitioned forces Secure', (t) => {
  const session = new AffinityCookie([KEY], { ...base, lifetime: 'session', path: '/cart', domain: 'example.com', partitioned: true }, 'r').serialize('a', NOW);
  t.regex(session, /^stickless=[^;]+; Path=\/cart; Domain=example\.com; Secure; HttpOnly; SameSite=Lax; Partitioned$/);
  const permanent = new AffinityCookie([KEY], { ...base, maxAgeSeconds: 120, sameSite: 'strict' }, 'r').serialize('a', NOW);
  t.regex(permanent, /^stickless=[^;]+; Path=\/; Max-Age=120; HttpOnly; SameSite=Strict$/);
});

test('through the proxy: routes do not share pins, idle pins expire, and the cookie is re-issued only past a quarter of the idle time', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const cookie = { idleTimeoutSeconds: 120, absoluteTimeoutSeconds: 3600 };
  const running = await startProxy(
    t,
    testConfig([a!, b!], {
      routes: [
        { name: 'cart', pool: 'app', affinity: 'hard', match: { pathPrefix: '/cart' }, cookie },
        { name: 'upload', pool: 'app', affinity: 'hard', match: { pathPrefix: '/upload' }, cookie },
      ],
    }),
  );
  const cartPin = await pinTo(`${running.url}/cart`, 'a');
  const onUpload = await call(`${running.url}/upload`, { cookie: cartPin });
  t.is(onUpload.affinity, 'new', 'the cart pin means nothing to the upload route');

  const codec = new AffinityCookie([TEST_KEY], { ...DEFAULT_PROXY_OPTIONS.route.cookie, ...cookie }, 'cart');
  const now = Date.now();
  const recent = await call(`${running.url}/cart`, { cookie: `stickless=${codec.encode('b', now - 5_000)}` });
  t.like(recent, { backend: 'b', affinity: 'hit', pin: undefined });
  const sliding = await call(`${running.url}/cart`, { cookie: `stickless=${codec.encode('b', now - 40_000, (now - 1_000_000) / 1000)}` });
  t.like(sliding, { backend: 'b', affinity: 'hit' });
  t.truthy(sliding.pin, 'past 30 s of a 120 s idle timeout: re-issued');
  t.like(codec.verify(sliding.pin!.slice('stickless='.length), Date.now()), { backendId: 'b', startedAtSeconds: Math.floor((now - 1_000_000) / 1000) });
  const idle = await call(`${running.url}/cart`, { cookie: `stickless=${codec.encode('b', now - 130_000)}` });
  t.is(idle.affinity, 'new', 'idle longer than idleTimeoutSeconds: the hard pin is gone');
  const old = await call(`${running.url}/cart`, { cookie: `stickless=${codec.encode('b', now - 5_000, (now - 3_700_000) / 1000)}` });
  t.is(old.affinity, 'new', 'older than absoluteTimeoutSeconds');
});
