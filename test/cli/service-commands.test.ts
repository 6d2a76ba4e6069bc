// `stickless sessiond`, `stickless proxy` and `stickless up` as child processes: the services start
// through the one bin, serve, and stop on SIGTERM with exit 0.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { SessionClient } from '../../client/index.ts';
import { freePort } from '../helpers/redis.ts';
import { waitFor } from '../helpers/servers.ts';
import { startStickless, stickless } from './cli-harness.ts';

test('stickless sessiond runs sessiond with its flags and stops on SIGTERM (exit 0)', async (t) => {
  t.timeout(300_000, 'node start-up on a busy machine');
  const run = startStickless(t, ['sessiond', '--store', 'memory', '--listen', '127.0.0.1:0']);
  const line = await waitFor(() => run.stdout().split('\n').find((l) => l.includes('sessiond listening')), 200_000, 'sessiond listening');
  const { address } = JSON.parse(line) as { address: string };
  const client = new SessionClient({ address, namespace: 'cli', deadlineMs: 30_000 });
  t.teardown(() => client.destroy());
  const s = await client.create({ ok: true });
  t.deepEqual((await client.get(s.id))?.fields, { ok: true });
  run.child.kill('SIGTERM');
  t.is(await run.exited, 0);
});

test('stickless sessiond with a bad flag exits 2 naming it; proxy without --config exits 2', async (t) => {
  t.timeout(300_000, 'node start-ups on a busy machine');
  const [sessiond, proxy] = await Promise.all([stickless(['sessiond', '--store', 'tape']), stickless(['proxy'])]);
  t.is(sessiond.code, 2);
  t.regex(sessiond.stderr, /--store/);
  t.is(proxy.code, 2);
  t.regex(proxy.stderr, /--config/);
});

test('stickless up puts the proxy in front of the app and sessiond beside it; SIGTERM stops both (exit 0)', async (t) => {
  t.timeout(300_000, 'four node processes starting on a busy machine');
  const app = createServer((req, res) => res.end(req.url === '/healthz' ? 'ok' : 'from the app'));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())));
  const [proxyPort, sessiondPort] = [await freePort(), await freePort()];
  const up = startStickless(t, ['up', '--backend', `http://127.0.0.1:${(app.address() as AddressInfo).port}`, '--port', String(proxyPort), '--sessiond-listen', `127.0.0.1:${sessiondPort}`]);
  const body = await waitFor(async () => {
    try {
      const response = await fetch(`http://127.0.0.1:${proxyPort}/cart`, { signal: AbortSignal.timeout(5_000) });
      return response.status === 200 ? await response.text() : undefined;
    } catch {
      return undefined;
    }
  }, 200_000, 'the proxy to forward to the app');
  t.is(body, 'from the app');
  t.deepEqual(JSON.parse(up.stdout().split('\n')[0]!), { proxy: `http://127.0.0.1:${proxyPort}`, sessiond: `127.0.0.1:${sessiondPort}`, backends: [`http://127.0.0.1:${(app.address() as AddressInfo).port}`] });
  const client = new SessionClient({ address: `127.0.0.1:${sessiondPort}`, namespace: 'up', deadlineMs: 30_000 });
  t.teardown(() => client.destroy());
  // sessiond starts beside the proxy, not before it: wait until it answers too.
  const created = await waitFor(async () => {
    try {
      return (await client.create({})).id;
    } catch {
      return undefined;
    }
  }, 200_000, 'sessiond started by up to answer');
  t.regex(created, /^[A-Za-z0-9_-]{43}$/);
  up.child.kill('SIGTERM');
  t.is(await up.exited, 0);
});

test('stickless up without --backend exits 2', async (t) => {
  t.timeout(200_000, 'node start-up on a busy machine');
  const result = await stickless(['up']);
  t.is(result.code, 2);
  t.regex(result.stderr, /--backend/);
});
