// sessiond as a process on a Redis Cluster, configured the way the docs say
// (STICKLESS_REDIS_CLUSTER_NODES): clients with near caches create, patch, regenerate and list through
// it, and a change made through one client reaches the other's cache (Track on sharded pub/sub).
// A cluster combined with Sentinel is refused at start, naming the option.
import test from 'ava';
import { freePort } from '../helpers/redis.ts';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';
import { checkHealth, healthClient } from '../helpers/health.ts';
import { spawnSessiond, waitFor } from '../helpers/servers.ts';
import { connect, namespace } from '../client/client-harness.ts';

let cluster: RedisCluster;
test.before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
});
test.after.always(async () => {
  await cluster?.stop();
});

test('sessiond on a 3-master cluster: near caches stay coherent across clients, and Regenerate and ListByOwner work', async (t) => {
  // Failovers and process starts on a busy 2-core machine: a bound, not a speed limit.
  t.timeout(180_000);
  const port = await freePort();
  const sessiond = spawnSessiond(t, [], {
    STICKLESS_LISTEN: `127.0.0.1:${port}`,
    STICKLESS_REDIS_CLUSTER_NODES: cluster.seeds.join(','),
    STICKLESS_KEY_PREFIX: 'cluster-test:',
    STICKLESS_COMMAND_TIMEOUT_MS: '15000',
  });
  const address = `127.0.0.1:${port}`;
  const health = healthClient(t, address);
  await waitFor(async () => (await checkHealth(health, '').catch(() => 'UNKNOWN')) === 'SERVING' || sessiond.child.exitCode !== null, 60_000, 'sessiond to serve');
  t.is(sessiond.child.exitCode, null, sessiond.stderr());

  const ns = namespace();
  const init = { address, namespace: ns, nearCache: { maxEntries: 1000, maxBytes: 1 << 20 }, deadlineMs: 20_000 };
  const [a, b] = [connect(t, init), connect(t, init)];
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) ids.push((await a.create({ cart: [] }, { owner: 'alice' })).id);
  // B holds every session (spread over the three shards) in its cache...
  for (const id of ids) {
    await waitFor(async () => {
      const before = b.nearCacheStats().hits;
      await b.get(id);
      return b.nearCacheStats().hits > before;
    }, 30_000, 'B to hold a trusted copy');
  }
  // ...and sees each change A makes, once the invalidation from that shard arrives.
  for (const id of ids) {
    const { version } = await a.patch(id, [{ append: 'cart', value: 'sku-1' }]);
    await waitFor(async () => (await b.get(id))?.version === version, 30_000, `B to see version ${version}`);
    t.deepEqual((await b.get(id))!.fields, { cart: ['sku-1'] });
  }
  t.true(b.nearCacheStats().invalidations >= ids.length, 'the changes reached B as invalidations');

  const moved = await a.regenerate(ids[0]!, { owner: 'alice' });
  t.not(moved.id, ids[0]);
  t.is(await b.get(ids[0]!), undefined, 'the old id is gone for the other client too');
  t.deepEqual((await b.get(moved.id))!.fields, { cart: ['sku-1'] });
  t.is((await a.listByOwner('alice')).length, ids.length);
  t.is(await a.revokeByOwner('alice'), ids.length);
  t.is((await a.listByOwner('alice')).length, 0);
});

test('a cluster with Sentinel or with reads from replicas, or a malformed NAT map, is refused at start naming the option', async (t) => {
  // Failovers and process starts on a busy 2-core machine: a bound, not a speed limit.
  t.timeout(180_000);
  const combined = spawnSessiond(t, [], {
    STICKLESS_REDIS_CLUSTER_NODES: cluster.seeds.join(','),
    STICKLESS_REDIS_SENTINELS: '127.0.0.1:26379',
    STICKLESS_READ_FROM_REPLICAS: 'true',
  });
  t.is(await combined.exited, 2);
  t.regex(combined.stderr(), /STICKLESS_REDIS_CLUSTER_NODES: .*Sentinel/);
  t.regex(combined.stderr(), /STICKLESS_READ_FROM_REPLICAS: .*Cluster/);
  const natMap = spawnSessiond(t, [], {
    STICKLESS_REDIS_CLUSTER_NODES: cluster.seeds.join(','),
    STICKLESS_REDIS_CLUSTER_NAT_MAP: '10.0.0.1:6379=127.0.0.1:7000,redis-1',
  });
  t.is(await natMap.exited, 2);
  t.regex(natMap.stderr(), /STICKLESS_REDIS_CLUSTER_NAT_MAP: expected host:port/);
});
