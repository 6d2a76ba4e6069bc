// DNS discovery: periodic re-resolution through the resolver seam with real backends, and one
// real lookup of localhost.
import test from 'ava';
import type { DiscoveredAddress } from '../../proxy/index.ts';
import { admin, call, startProxy, testConfig, waitFor } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

test('re-resolution adds and removes backends and a failing resolver keeps the last set', async (t) => {
  const [a, b] = await startBackends(t, ['a', 'b']);
  let answer: DiscoveredAddress[] | Error = [{ address: '127.0.0.1', port: a!.port }];
  let resolutions = 0;
  const resolver = async () => {
    resolutions++;
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const raw = testConfig([], { routes: [{ name: 'main', pool: 'app', affinity: 'none' }] }, { backends: [], dns: { name: 'app.internal', type: 'srv', intervalMs: 100 } });
  const running = await startProxy(t, raw, { resolver });
  const idA = `app.internal@127.0.0.1:${a!.port}`;
  const idB = `app.internal@127.0.0.1:${b!.port}`;
  t.is((await call(running.url)).backend, idA, 'the first resolution completes before listen()');

  answer = [{ address: '127.0.0.1', port: a!.port }, { address: '127.0.0.1', port: b!.port }];
  await waitFor('b discovered', async () => (await call(running.url)).backend === idB);
  const ids = (await admin(running, 'GET', '/backends')).json().backends.map((x: { id: string; source: string }) => `${x.id}/${x.source}`);
  t.deepEqual(ids.sort(), [`${idA}/dns`, `${idB}/dns`].sort());

  answer = new Error('SERVFAIL');
  const failedAt = resolutions;
  await waitFor('a few failed resolutions', () => resolutions >= failedAt + 3);
  t.is((await admin(running, 'GET', '/backends')).json().backends.length, 2, 'a failing resolver empties nothing');

  answer = [{ address: '127.0.0.1', port: b!.port }];
  await waitFor('a removed', async () => (await admin(running, 'GET', '/backends')).json().backends.length === 1);
  for (let i = 0; i < 10; i++) t.is((await call(running.url)).backend, idB);
});

test('a name resolving through the system resolver becomes backends', async (t) => {
  const [a] = await startBackends(t, ['a']);
  const raw = testConfig([], { routes: [{ name: 'main', pool: 'app' }] }, { backends: [], dns: { name: 'localhost', port: a!.port, family: 4, intervalMs: 1_000 } });
  const running = await startProxy(t, raw);
  const reply = await call(running.url);
  t.is(reply.status, 200);
  t.is(reply.backend, `localhost@127.0.0.1:${a!.port}`);
  t.is(reply.json().id, 'a');
});
