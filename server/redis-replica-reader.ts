// Read-only connections to Redis replicas for `readFromReplicas`: the explicit `redisReplicaUrls`
// (standalone), or one connection that Sentinel points at a replica (ioredis role 'slave'). Each has
// its own heartbeat; only replicas answering now are picked, round robin. The store decides whether
// a replica's answer is good enough (present and at least min_version); this file only connects.
import type { Redis } from 'ioredis';
import { createRedisConnection, type RedisConnectionOptions } from './redis-connection.ts';
import { describeRedisAddress } from './redis-failures.ts';
import { RedisHeartbeat } from './redis-heartbeat.ts';

interface Replica {
  redis: Redis;
  heartbeat: RedisHeartbeat;
}

export class RedisReplicaReader {
  #replicas: Replica[];
  #next = 0;

  /** `urls`: replica URLs for standalone Redis; ignored with Sentinel, which names the replicas. */
  constructor(connection: RedisConnectionOptions, urls: readonly string[], heartbeatIntervalMs: number) {
    const targets = connection.sentinels.length > 0
      ? [{ redis: createRedisConnection(connection, { role: 'slave' }), address: `a replica of ${describeRedisAddress(connection)}` }]
      : urls.map((url) => ({ redis: createRedisConnection({ ...connection, url }), address: describeRedisAddress({ ...connection, url }) }));
    this.#replicas = targets.map(({ redis, address }) => {
      redis.on('error', () => {}); // the heartbeat reads errors; a failed read falls back to the primary
      redis.connect().catch(() => {});
      const heartbeat = new RedisHeartbeat(redis, { address, intervalMs: heartbeatIntervalMs, commandTimeoutMs: connection.commandTimeoutMs, replicasRequired: 0 });
      return { redis, heartbeat };
    });
  }

  /** A replica answering now (round robin), or undefined when none is. */
  pick(): Redis | undefined {
    for (let i = 0; i < this.#replicas.length; i++) {
      const replica = this.#replicas[(this.#next + i) % this.#replicas.length]!;
      if (replica.heartbeat.redisStatus.state !== 'answering' || replica.redis.status !== 'ready') continue;
      this.#next = (this.#next + i + 1) % this.#replicas.length;
      return replica.redis;
    }
    return undefined;
  }

  /** A read on `redis` failed: check it now, so a frozen replica stops being picked. */
  failed(redis: Redis): void {
    this.#replicas.find((replica) => replica.redis === redis)?.heartbeat.beatNow();
  }

  close(): void {
    for (const { redis, heartbeat } of this.#replicas) {
      heartbeat.stop();
      redis.disconnect();
    }
  }
}
