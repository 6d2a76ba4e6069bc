// A real Redis Cluster for a test file: redis-server processes on loopback ports from the OS, joined
// with `redis-cli --cluster create`. The process management is bench/redis-process-cluster.ts, shared
// with the benchmark; this adds what a test needs: its own process set, stopped with the cluster or
// when the test worker exits. Stop it in teardown: `t.teardown(() => cluster.stop())`.
import { ChildProcesses } from '../../bench/child-processes.ts';
import { startRedisCluster as startCluster, type RedisCluster, type RedisClusterOptions } from '../../bench/redis-process-cluster.ts';

export { CLUSTER_SLOTS, type RedisCluster, type RedisClusterNode, type RedisClusterOptions } from '../../bench/redis-process-cluster.ts';

/** Starts a cluster (default 3 masters with 1 replica each) and waits until it is ok. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const children = new ChildProcesses();
  let cluster: RedisCluster;
  try {
    cluster = await startCluster(children, options);
  } catch (error) {
    children.dispose();
    throw error;
  }
  const stop = cluster.stop.bind(cluster);
  return Object.assign(cluster, {
    async stop(): Promise<void> {
      await stop();
      children.dispose();
    },
  });
}
