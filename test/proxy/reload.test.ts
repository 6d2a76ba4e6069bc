// The proxy process and its signals: SIGHUP reloads under load without dropping a request or
// breaking a pin, a bad file is refused, SIGTERM lets in-flight requests finish.
import test from 'ava';
import { call, pinTo, testConfig, waitFor, type Reply } from '../helpers/proxy-harness.ts';
import { startProxyProcess } from '../helpers/proxy-process.ts';
import { startBackends } from '../helpers/upstream.ts';

test('SIGHUP reload under load drops no request and keeps every pin', async (t) => {
  const [a, b, c] = await startBackends(t, ['a', 'b', 'c']);
  const config = testConfig([a!, b!], { log: { level: 'info' } });
  const proc = await startProxyProcess(t, config);
  const pins = [await pinTo(proc.url, 'a'), await pinTo(proc.url, 'b')];

  let stop = false;
  const replies: Array<{ pin: string; reply: Reply }> = [];
  const loop = async (pin: string) => {
    for (let i = 0; i < 5_000 && !stop; i++) replies.push({ pin, reply: await call(`${proc.url}/x`, { cookie: pin }) });
  };
  const loops = [loop(pins[0]!), loop(pins[1]!), loop(pins[0]!), loop(pins[1]!)];
  await waitFor('load running', () => replies.length >= 20);

  const next = testConfig([a!, b!, c!], { log: { level: 'info' }, routes: [{ name: 'main', pool: 'app', affinity: 'soft' }, { name: 'added', pool: 'app', affinity: 'none', match: { pathPrefix: '/added' } }] });
  proc.writeConfig(next);
  proc.signal('SIGHUP');
  await waitFor('the new route answers', async () => (await call(`${proc.url}/added`)).status === 200);
  const reloadedAt = replies.length;
  await waitFor('load after the reload', () => replies.length >= reloadedAt + 40);

  proc.writeConfig({ ...next, routes: [{ name: 'broken', pool: 'missing' }] });
  proc.signal('SIGHUP');
  await waitFor('the bad reload is logged', () => proc.logs.some((l) => l['msg'] === 'reload failed; keeping the running configuration'));
  const afterBad = replies.length;
  await waitFor('load after the refused reload', () => replies.length >= afterBad + 20);
  stop = true;
  await Promise.all(loops);

  t.deepEqual(replies.filter((r) => r.reply.status !== 200).map((r) => r.reply.text), [], 'no request failed');
  const expected = new Map([[pins[0], 'a'], [pins[1], 'b']]);
  t.true(replies.every((r) => r.reply.backend === expected.get(r.pin) && r.reply.affinity === 'hit'), 'every pinned request hit its backend');
  t.is((await call(`${proc.url}/added`)).status, 200, 'the refused file changed nothing');
  t.true(proc.logs.some((l) => l['msg'] === 'configuration reloaded'));
  proc.signal('SIGTERM');
  t.is(await proc.exited(), 0);
});

test('SIGTERM lets in-flight requests finish, then exits 0', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const proc = await startProxyProcess(t, testConfig([a!], { shutdownTimeoutMs: 10_000, log: { level: 'info' } }));
  const slow = call(`${proc.url}/slow?ms=600`);
  await waitFor('request reached the backend', async () => (await a!.stats()).requests === 1);
  proc.signal('SIGTERM');
  const reply = await slow;
  t.is(reply.status, 200);
  t.true(reply.json().slow);
  t.is(await proc.exited(), 0);
  await t.throwsAsync(call(proc.url), undefined, 'the listener is gone');
});
