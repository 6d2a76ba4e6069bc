// The Redis Cluster test harness itself (test/helpers/redis-cluster.ts, issue 9): the chaos and
// contract tests on Cluster rely on it starting a real cluster and failing a master over.
import test from 'ava';
import { Redis } from 'ioredis';
import { startRedisCluster } from '../helpers/redis-cluster.ts';
import { uniquePrefix } from '../helpers/redis.ts';

const connect = (node: { host: string; port: number }): Redis => {
  const redis = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 1, connectTimeout: 5000, commandTimeout: 10_000 });
  redis.on('error', () => {});
  return redis;
};

test('3 masters each holding slots; a written key survives kill -9 of its master, which rejoins as a replica', async (t) => {
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  t.teardown(() => cluster.stop());
  t.is(cluster.nodes.length, 6);
  t.is(cluster.seeds.length, 6);
  const masters = cluster.nodes.filter((n) => n.role === 'master');
  t.is(masters.length, 3);
  const owners = new Set<number>();
  for (const slot of [0, 8000, 16383]) owners.add((await cluster.masterForSlot(slot)).port);
  t.is(owners.size, 3, 'slots 0, 8000 and 16383 are on three different masters');

  // Through a cluster client: the seeds are enough to find every slot.
  const client = new Redis.Cluster(cluster.seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })), { redisOptions: { connectTimeout: 5000, commandTimeout: 10_000 } });
  client.on('error', () => {});
  t.teardown(() => client.disconnect());
  const key = `${uniquePrefix()}harness`;
  await client.set(key, 'kept');
  t.is(await client.get(key), 'kept');

  const master = await cluster.masterForKey(key);
  const onMaster = connect(master);
  t.teardown(() => onMaster.disconnect());
  t.is(await onMaster.get(key), 'kept');
  t.is(await onMaster.wait(1, 10_000), 1, 'the replica has the key before its master dies');
  onMaster.disconnect();

  await cluster.kill(master);
  t.is(master.state, 'killed');
  const promoted = await cluster.waitForFailover(master);
  t.not(promoted.port, master.port);
  t.is(promoted.role, 'master');
  t.is((await cluster.masterForKey(key)).port, promoted.port);
  const onPromoted = connect(promoted);
  t.teardown(() => onPromoted.disconnect());
  t.is(await onPromoted.get(key), 'kept');

  // Back on its ports with its nodes.conf, the old master rejoins as a replica.
  await cluster.restart(master);
  await cluster.waitForClusterOk();
  t.is(master.state, 'running');
  t.is(master.role, 'replica');
});
