// A real Redis Cluster for a test file: redis-server processes on loopback ports from the OS, joined
// with `redis-cli --cluster create`. The process management is bench/redis-process-cluster.ts, shared
// with the benchmark; this adds what a test needs: its own process set, stopped with the cluster or
// when the test worker exits. Stop it in teardown: `t.teardown(() => cluster.stop())`.
import { pack } from 'msgpackr';
import { ChildProcesses } from '../../bench/child-processes.ts';
import { startRedisCluster as startCluster, type RedisCluster, type RedisClusterOptions } from '../../bench/redis-process-cluster.ts';
import { generateSessionId, sessionHandle } from '../../server/session-id.ts';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../server/session-store-redis.ts';
import { DEFAULT_TEST_LIMITS } from '../contract/helpers.ts';
import { uniquePrefix } from './redis.ts';

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

export interface ClusterStoreOptions extends Partial<Omit<RedisSessionStoreOptions, 'connection'>> {
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  natMap?: Record<string, string> | undefined;
}

/** A RedisSessionStore on the cluster at `seeds` (a fresh key prefix and the test limits unless given); the caller closes it. */
export function openClusterStore(seeds: readonly string[], options: ClusterStoreOptions): RedisSessionStore {
  const { commandTimeoutMs, connectTimeoutMs, natMap, ...rest } = options;
  return new RedisSessionStore({
    connection: { url: 'redis://unused', sentinels: [], sentinelName: 'unused', clusterNodes: seeds, clusterNatMap: natMap, commandTimeoutMs, connectTimeoutMs },
    keyPrefix: uniquePrefix(),
    limits: DEFAULT_TEST_LIMITS,
    ...rest,
  });
}

/** Creates `count` sessions (field `n` = 0) and names the port of the master that holds each. */
export async function spreadSessions(
  cluster: RedisCluster, store: RedisSessionStore, keyPrefix: string, namespace: string, count: number,
): Promise<Array<{ id: string; master: number }>> {
  const sessions: Array<{ id: string; master: number }> = [];
  for (let i = 0; i < count; i += 1) {
    const id = generateSessionId();
    await store.create({ namespace, id, fields: new Map([['n', pack(0)]]), ttlMs: 300_000, owner: '' });
    sessions.push({ id, master: (await cluster.masterForKey(`${keyPrefix}s:{${sessionHandle(namespace, id)}}`)).port });
  }
  return sessions;
}
