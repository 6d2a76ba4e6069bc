// Several sessiond instances behind one client (issue 9, point 6): round robin over an address list
// by default. A killed instance under load: sessiond-instances-chaos.test.ts.
import test from 'ava';
import { SessionClient } from '../../client/index.ts';
import { startRedis, uniquePrefix } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';

async function servedGets(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(20_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith('stickless_sessiond_rpc_total{') && l.includes('method="Get"') && l.includes('code="OK"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

test('a list of two addresses is balanced round robin, not pinned to the first', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const keyPrefix = uniquePrefix();
  const config = { keyPrefix, metricsListen: '127.0.0.1:0' };
  const a = await startSessiond(t, { redis, config });
  const b = await startSessiond(t, { redis, config });
  const client = new SessionClient({ address: [a.address, b.address], namespace: 'lb', deadlineMs: 20_000 });
  t.teardown(() => client.close());
  const session = await client.create({ n: 1 });
  // Round robin sends calls only to connected instances: wait until both have served one.
  await waitFor(async () => {
    await client.get(session.id);
    return (await servedGets(a.server.metricsPort!)) > 0 && (await servedGets(b.server.metricsPort!)) > 0;
  }, 30_000, 'both instances to serve a Get');
  const [beforeA, beforeB] = [await servedGets(a.server.metricsPort!), await servedGets(b.server.metricsPort!)];
  for (let i = 0; i < 100; i += 1) await client.get(session.id);
  const servedA = (await servedGets(a.server.metricsPort!)) - beforeA;
  const servedB = (await servedGets(b.server.metricsPort!)) - beforeB;
  t.is(servedA + servedB, 100);
  t.log(`instance A served ${servedA}, B served ${servedB} of 100 Gets`);
  // pick_first (grpc-js's default) would give 100/0.
  t.true(servedA >= 30 && servedB >= 30, `calls split ${servedA}/${servedB}`);
});

test('an address list must hold IP:port entries of one family', (t) => {
  const error = t.throws(() => new SessionClient({ address: ['127.0.0.1:1', 'sessiond:50051'], namespace: 'lb' }));
  t.is((error as { code?: string }).code, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error!.message, /address\[1\].*dns:\/\/\//);
  const client = new SessionClient({ address: ['127.0.0.1:1', '127.0.0.1:2'], namespace: 'lb' });
  t.is(client.options.address, 'ipv4:127.0.0.1:1,127.0.0.1:2');
  t.is(client.options.channelOptions['grpc.service_config'], JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }));
  void client.destroy();
  const own = new SessionClient({ address: '127.0.0.1:1', namespace: 'lb', channelOptions: { 'grpc.lb_policy_name': 'pick_first' } });
  t.false('grpc.service_config' in own.options.channelOptions);
  void own.destroy();
});
