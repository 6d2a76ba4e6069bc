// Backend weights through the proxy: 70/30 weights split fresh clients within a few points, and
// weight 0 takes no new clients but keeps the ones pinned to it (canary, blue/green).
import test from 'ava';
import { AffinityCookie } from '../../proxy/affinity-cookie.ts';
import { DEFAULT_PROXY_OPTIONS } from '../../proxy/config.ts';
import { call, startProxy, testConfig, TEST_KEY } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

test('70/30 weights split fresh clients within a few points', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const raw = testConfig([a!, b!], { routes: [{ name: 'main', pool: 'app', affinity: 'soft' }] });
  (raw['pools'] as any).app.backends = [
    { id: 'a', url: a!.url, weight: 70 },
    { id: 'b', url: b!.url, weight: 30 },
  ];
  const running = await startProxy(t, raw);
  const counts = { a: 0, b: 0 } as Record<string, number>;
  const N = 1000;
  for (let i = 0; i < N; i += 10) {
    // Ten fresh clients at a time, none carrying a pin.
    const replies = await Promise.all(Array.from({ length: 10 }, () => call(running.url)));
    for (const reply of replies) {
      t.is(reply.affinity, 'new');
      counts[reply.backend!]!++;
    }
  }
  const share = counts['a']! / N;
  t.true(share > 0.65 && share < 0.75, `a got ${(share * 100).toFixed(1)} % of fresh clients (weight 70 %)`);
});

test('weight 0 takes no new clients but keeps its pinned ones', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const raw = testConfig([a!, b!], { routes: [{ name: 'main', pool: 'app', affinity: 'hard' }] });
  (raw['pools'] as any).app.backends = [
    { id: 'a', url: a!.url, weight: 0 },
    { id: 'b', url: b!.url, weight: 1 },
  ];
  const running = await startProxy(t, raw);
  for (let i = 0; i < 30; i++) t.is((await call(running.url)).backend, 'b', 'no new client goes to weight 0');
  const pinned = new AffinityCookie([TEST_KEY], DEFAULT_PROXY_OPTIONS.route.cookie, 'main').encode('a', Date.now());
  for (let i = 0; i < 5; i++) t.like(await call(running.url, { cookie: `stickless=${pinned}` }), { backend: 'a', affinity: 'hit' });
});
