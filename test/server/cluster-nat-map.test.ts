// redisClusterNatMap: cluster nodes that announce addresses sessiond cannot reach (here, as in
// containers, host names that do not resolve outside: cluster-announce-hostname with
// cluster-preferred-endpoint-type hostname) are reached through the map, and only through it.
import test from 'ava';
import { Redis } from 'ioredis';
import { generateSessionId } from '../../server/session-id.ts';
import { parseServerConfig } from '../../server/config.ts';
import { RedisSessionStore } from '../../server/session-store-redis.ts';
import { freePort } from '../helpers/redis.ts';
import { openClusterStore, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';
import { waitFor } from '../helpers/servers.ts';

let cluster: RedisCluster;
test.before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  for (const node of cluster.nodes) {
    const redis = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 5000 });
    redis.on('error', () => {});
    try {
      await redis.call('CONFIG', 'SET', 'cluster-announce-hostname', `stickless-node-${node.port}.invalid`);
      await redis.call('CONFIG', 'SET', 'cluster-preferred-endpoint-type', 'hostname');
    } finally {
      redis.disconnect();
    }
  }
  // Host names spread by gossip: until then a node shows the others as '?'.
  await waitFor(async () => {
    for (const node of cluster.nodes) {
      const redis = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 5000 });
      redis.on('error', () => {});
      try {
        if (JSON.stringify(await redis.call('CLUSTER', 'SLOTS')).includes('"?"')) return false;
      } finally {
        redis.disconnect();
      }
    }
    return true;
  }, 60_000, 'every node to know every host name');
});
test.after.always(async () => {
  await cluster?.stop();
});

function openStore(natMap: Record<string, string>): RedisSessionStore {
  return openClusterStore(cluster.seeds, { commandTimeoutMs: 5000, connectTimeoutMs: 2000, natMap });
}

test('nodes announced under names sessiond cannot resolve are reached through the NAT map', async (t) => {
  const natMap = Object.fromEntries(cluster.nodes.map((n) => [`stickless-node-${n.port}.invalid:${n.port}`, `127.0.0.1:${n.port}`]));
  const store = openStore(natMap);
  t.teardown(() => store.close());
  t.true(await store.waitUntilReady(30_000));
  const ids = Array.from({ length: 12 }, () => generateSessionId());
  for (const id of ids) await store.create({ namespace: 'shop', id, fields: new Map(), ttlMs: 60_000, owner: '' });
  for (const id of ids) t.truthy(await store.get('shop', id), 'sessions on every shard are reachable');
});

test('without the map, those nodes are unreachable: calls fail with STORE_UNAVAILABLE, nothing hangs', async (t) => {
  const store = openStore({});
  t.teardown(() => store.close());
  await store.waitUntilReady(5_000);
  const failures: string[] = [];
  for (let i = 0; i < 6; i++) {
    await store.create({ namespace: 'shop', id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: '' })
      .then(() => failures.push('ok'), (error: { code?: string }) => failures.push(String(error.code)));
  }
  t.false(failures.includes('ok'), `a create reached an unmapped node: ${failures.join(', ')}`);
  t.true(failures.every((code) => code === 'SESS_ERR_STORE_UNAVAILABLE' || code === 'SESS_ERR_OUTCOME_UNKNOWN'), failures.join(', '));
});

test('a master sessiond cannot connect to holds a fresh store back like a silent one: not ready until clusterStartGraceMs, then the others serve', async (t) => {
  t.timeout(120_000);
  const [dead, ...live] = cluster.nodes;
  const deadPort = await freePort();
  const natMap = Object.fromEntries([
    [`stickless-node-${dead!.port}.invalid:${dead!.port}`, `127.0.0.1:${deadPort}`],
    ...live.map((n) => [`stickless-node-${n.port}.invalid:${n.port}`, `127.0.0.1:${n.port}`]),
  ]);
  // ioredis drops a node from its pool once a connect to it fails, so its pings stop; the master
  // still owns its slots, and a store must not say it is ready while it has never reached it.
  const waiting = openClusterStore(cluster.seeds, { commandTimeoutMs: 2000, connectTimeoutMs: 1000, heartbeatIntervalMs: 200, clusterStartGraceMs: 600_000, natMap });
  t.teardown(() => waiting.close());
  const status = await waitFor(() => {
    const { state, reason } = waiting.redisStatus;
    return state === 'answering' || reason.startsWith('no connection to the Cluster master') ? waiting.redisStatus : undefined;
  }, 60_000, 'a heartbeat judged');
  t.is(status.state, 'unreachable', 'one master was never reached, so the store must not be answering');
  t.true(status.reason.includes(`127.0.0.1:${deadPort}`), status.reason);
  t.false(waiting.ready);

  const serving = openClusterStore(cluster.seeds, { commandTimeoutMs: 2000, connectTimeoutMs: 1000, heartbeatIntervalMs: 200, clusterStartGraceMs: 1000, natMap });
  t.teardown(() => serving.close());
  t.true(await serving.waitUntilReady(60_000), 'ready with the two reachable masters once the grace has passed');
});

test('the NAT map is read from "announced=reachable" pairs in a variable or flag, and from a map in a file', (t) => {
  const fromText = parseServerConfig({ redisClusterNodes: ['10.0.0.1:6379'], redisClusterNatMap: ' redis-1:6379=127.0.0.1:7001, redis-2:6379=127.0.0.1:7002 ' });
  t.deepEqual(fromText.redisClusterNatMap, { 'redis-1:6379': '127.0.0.1:7001', 'redis-2:6379': '127.0.0.1:7002' });
  const fromFile = parseServerConfig({ redisClusterNodes: ['10.0.0.1:6379'], redisClusterNatMap: { 'redis-1:6379': '127.0.0.1:7001' } });
  t.deepEqual(fromFile.redisClusterNatMap, { 'redis-1:6379': '127.0.0.1:7001' });
  t.throws(() => parseServerConfig({ redisClusterNatMap: 'redis-1:6379=127.0.0.1:7001' }), { message: /redisClusterNatMap: applies to a Redis Cluster only/ });
});
