// Backends dying under load: kill -9 with requests in flight, for soft and hard routes; passive
// ejection with growing periods.
import test from 'ava';
import { OutlierDetector } from '../../proxy/outlier-detector.ts';
import { Upstream } from '../../proxy/upstream.ts';
import { admin, backendState, call, pinTo, startProxy, testConfig, waitFor, type Reply } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

// A health check times out only after 5 s: a live backend slow to answer on a busy machine is not marked down.
const HEALTH = { health: { path: '/healthz', intervalMs: 100, timeoutMs: 5_000, rise: 2, fall: 2 } };

test('kill -9 under load on a soft route fails only the requests in flight on the killed backend', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], { routes: [{ name: 'soft', pool: 'app', affinity: 'soft' }] }, HEALTH));
  const pinsOnA = await Promise.all(Array.from({ length: 3 }, () => pinTo(running.url, 'a')));
  const pinOnB = await pinTo(running.url, 'b');

  // Non-idempotent requests held open on a: they were in flight when it died, so they must fail.
  const inFlightOnA = Array.from({ length: 3 }, () => call(`${running.url}/slow?ms=30000`, { method: 'POST', body: 'x', cookie: pinsOnA[0]! }));
  await waitFor('3 requests in flight on a', async () => (await backendState(running, 'a')).inFlight === 3);

  let stop = false;
  const results: Array<{ pinnedTo: string; reply: Reply }> = [];
  const loop = async (pin: string, pinnedTo: string) => {
    let cookie = pin;
    for (let i = 0; i < 2_000 && !stop; i++) {
      const reply = await call(`${running.url}/load`, { cookie });
      results.push({ pinnedTo, reply });
      if (reply.pin) cookie = reply.pin;
    }
  };
  const loops = [...pinsOnA.map((pin) => loop(pin, 'a')), loop(pinOnB, 'b'), loop(pinOnB, 'b')];
  await waitFor('load running', () => results.length >= 20);
  await a!.kill();
  const killedAt = results.length;
  await waitFor('a marked down', async () => (await backendState(running, 'a')).health === 'down');
  const downAt = results.length;
  await waitFor('load after a went down', () => results.length >= downAt + 30);
  stop = true;
  await Promise.all(loops);

  for (const failed of await Promise.all(inFlightOnA)) {
    t.is(failed.status, 502);
    t.is(failed.json().error.code, 'PRX_ERR_UPSTREAM_RESET');
    t.is(failed.backend, 'a');
  }
  t.deepEqual(results.filter((r) => r.reply.status !== 200).map((r) => r.reply.text), [], 'idempotent requests never fail: they are retried on b');
  // Each loop has at most one request outstanding, so everything after these started after the kill.
  t.true(results.slice(killedAt + loops.length).every((r) => r.reply.backend === 'b'), 'after the kill everything lands on b');
  t.true(results.some((r) => r.pinnedTo === 'a' && r.reply.affinity === 'moved' && r.reply.pin !== undefined), 'clients of a are re-pinned');
  t.true(results.filter((r) => r.pinnedTo === 'b').every((r) => r.reply.backend === 'b' && r.reply.affinity === 'hit'), 'clients of b never notice');
});

test('kill -9 on a hard route: 503 with Retry-After while down, hit again once it returns', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], { routes: [{ name: 'hard', pool: 'app', affinity: 'hard', hard: { retryAfterSeconds: 2 } }] }, { ...HEALTH, outlier: { baseEjectionMs: 300 } }));
  const pinA = await pinTo(running.url, 'a');
  const pinB = await pinTo(running.url, 'b');
  const hanging = call(`${running.url}/hang`, { cookie: pinA });
  await waitFor('request in flight on a', async () => (await backendState(running, 'a')).inFlight === 1);
  await a!.kill();
  // The idempotent request in flight is replayed once on a over a fresh connection. That connect is
  // refused (503), unless it lands while the dying process's listening socket still accepts and is
  // then reset (502): which one depends on how fast the kernel tears the process down. Never b.
  const inFlight = await hanging;
  t.true(inFlight.status === 503 || inFlight.status === 502, `the request in flight on a fails (${inFlight.status})`);
  t.is(inFlight.json().error.code, inFlight.status === 503 ? 'PRX_ERR_PINNED_UPSTREAM_DOWN' : 'PRX_ERR_UPSTREAM_RESET');
  t.not(inFlight.backend, 'b');

  // Right after the kill (connect refused) and once health checks agree: always 503, never b.
  const refused: Reply[] = [];
  await waitFor('a marked down', async () => {
    refused.push(await call(running.url, { cookie: pinA }));
    return (await backendState(running, 'a')).health === 'down';
  });
  refused.push(await call(running.url, { cookie: pinA }));
  for (const reply of refused) {
    t.is(reply.status, 503);
    t.is(reply.headers['retry-after'], '2');
    t.is(reply.json().error.code, 'PRX_ERR_PINNED_UPSTREAM_DOWN');
    t.like(reply, { backend: 'a', affinity: 'hit', pin: undefined });
  }
  for (let i = 0; i < 5; i++) t.like(await call(running.url, { cookie: pinB }), { status: 200, backend: 'b', affinity: 'hit' });

  await a!.restart();
  await waitFor('a up again', async () => (await backendState(running, 'a')).health === 'up');
  t.like(await call(running.url, { cookie: pinA }), { status: 200, backend: 'a', affinity: 'hit' });
  t.true((await admin(running, 'GET', '/routes/hard')).json().counters.failedClosed >= refused.length);
});

test('hard route with whenDown=repin moves the client once the grace period is over', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], { routes: [{ name: 'hard', pool: 'app', affinity: 'hard', hard: { whenDown: 'repin', repinAfterMs: 800, retryAfterSeconds: 10 } }] }, HEALTH));
  const pinA = await pinTo(running.url, 'a');
  await a!.control({ healthy: false });
  await waitFor('a down', async () => (await backendState(running, 'a')).health === 'down');
  const moved = await waitFor('a re-pin after the grace period', async () => {
    const reply = await call(running.url, { cookie: pinA });
    if (reply.status === 503) t.true(Number(reply.headers['retry-after']) <= 1, 'Retry-After never exceeds the remaining grace');
    return reply.status === 200 ? reply : undefined;
  });
  t.like(moved, { backend: 'b', affinity: 'moved' });
  t.like(await call(running.url, { cookie: moved.pin! }), { backend: 'b', affinity: 'hit' });
});

test('consecutive 5xx eject a backend passively and it returns when the ejection ends', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig([a!, b!], { routes: [{ name: 'none', pool: 'app', affinity: 'none' }] }, { outlier: { consecutiveFailures: 3, baseEjectionMs: 2_500 } }));
  await a!.control({ fail: true });
  // The snapshot that shows a down is the one asserted on: a second read could come after the ejection ended.
  const view = await waitFor('a ejected', async () => {
    await call(running.url);
    const snapshot = (await admin(running, 'GET', '/backends/a')).json();
    return snapshot.health === 'down' ? snapshot : undefined;
  });
  t.truthy(view.ejectedUntil);
  t.is(view.ejections, 1);
  // While the ejection lasts, everything lands on b; a reply from a may only come once it has ended.
  const ejectedUntilMs = Date.parse(view.ejectedUntil);
  for (let i = 0; i < 10; i++) {
    const sentAt = Date.now();
    const reply = await call(running.url);
    if (sentAt < ejectedUntilMs) t.is(reply.backend, 'b');
  }
  await a!.control({ fail: false });
  await waitFor('a back after the ejection', async () => (await call(running.url)).backend === 'a');
});

test('ejection periods grow with repeated ejections, are capped, decay, and respect maxEjectedPercent', (t) => {
  const calls: Array<[string, number]> = [];
  const members = new Map<string, number>();
  const setter = {
    setEjected: (id: string, untilMs: number) => {
      calls.push([id, untilMs]);
      members.set(id, untilMs);
    },
    ejectionStats: () => ({ ejected: [...members.values()].filter((until) => until > now).length, members: 4 }),
  };
  const detector = new OutlierDetector({ consecutiveFailures: 2, baseEjectionMs: 1_000, maxEjectionMs: 3_500, maxEjectedPercent: 25 }, setter);
  t.teardown(() => detector.close());
  const upstream = (id: string) => new Upstream({ id, url: 'http://127.0.0.1:9', weight: 1, poolName: 'p', source: 'static', connections: 1, connectTimeoutMs: 100, keepAliveTimeoutMs: 100 });
  const a = upstream('a');
  const b = upstream('b');
  t.teardown(() => Promise.all([a.destroy(), b.destroy()]));
  let now = 1_000_000;
  const fail = (u: Upstream) => {
    detector.record(u, true, now);
    u.setEjectedUntil(members.get(u.id) ?? 0, now);
  };
  const durations: number[] = [];
  for (let round = 0; round < 4; round++) {
    fail(a);
    detector.record(a, false, now);
    fail(a);
    t.is(calls.length, round, 'a success in between resets the streak');
    fail(a);
    durations.push(calls.at(-1)![1] - now);
    now = calls.at(-1)![1] + 1;
    a.setEjectedUntil(0, now);
  }
  t.deepEqual(durations, [1_000, 2_000, 3_500, 3_500]);
  now += 10_000;
  fail(a);
  fail(a);
  t.is(calls.at(-1)![1] - now, 1_000, 'after a quiet period longer than the cap the period starts over');
  fail(b);
  fail(b);
  t.is(calls.filter(([id]) => id === 'b').length, 0, 'a second ejection would exceed maxEjectedPercent');
});
