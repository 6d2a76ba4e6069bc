// grpc.health.v1: SERVING while the store answers commands, NOT_SERVING otherwise, for both the
// overall server ('') and the session service by name. For Redis, "answers" comes from the store's
// heartbeat (redis-heartbeat.ts), not only from connection events: a frozen Redis keeps its TCP
// connection. Every transition is logged once, with the Redis address and the reason in words.
//
// Too few replicas for replicaAcks do not turn health NOT_SERVING: reads still work, every sessiond
// instance shares the one primary (so no other instance would do better), and writes already fail at
// once with SESS_ERR_NOT_ENOUGH_REPLICAS. It is logged (warn) and exported as
// stickless_sessiond_redis_replicas_missing instead.
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { ServerMetrics } from './metrics.ts';
import { hasRedisStatus, missingReplicas, type RedisStatus } from './redis-heartbeat.ts';
import { hasStoreHealth, type SessionStore } from './session-store.ts';

export const SESSION_SERVICE_NAME = 'stickless.session.v1.SessionService';

export interface HealthReporter {
  implementation: HealthImplementation;
  /** Marks the server NOT_SERVING for good (shutdown) and detaches from the store. */
  shutdown(): void;
}

export function createHealthReporter(store: SessionStore, logger: Logger, metrics?: ServerMetrics): HealthReporter {
  const implementation = new HealthImplementation();
  const set = (serving: boolean): void => {
    metrics?.setServing(serving);
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    implementation.setStatus('', status);
    implementation.setStatus(SESSION_SERVICE_NAME, status);
  };
  if (!hasStoreHealth(store)) {
    set(true);
    return { implementation, shutdown: () => set(false) };
  }
  set(store.ready);
  const detachers = [store.onReadyChange((ready) => set(ready))];
  if (hasRedisStatus(store)) {
    detachers.push(store.onRedisStatus((status, previous) => logRedisStatus(logger, metrics, status, previous)));
  } else {
    detachers.push(store.onReadyChange((ready) => {
      logger.info({ storeReady: ready }, ready ? 'store reachable: SERVING' : 'store unreachable: NOT_SERVING');
    }));
  }
  return {
    implementation,
    shutdown: () => {
      for (const detach of detachers) detach();
      set(false);
    },
  };
}

/** One log line per transition of reachability or of missing replicas; the metrics follow. */
function logRedisStatus(logger: Logger, metrics: ServerMetrics | undefined, status: RedisStatus, previous: RedisStatus): void {
  const { address, reason } = status;
  if (status.state !== previous.state) {
    if (status.state === 'unreachable') logger.warn({ redis: address, reason }, `Redis at ${address} unreachable (${reason}): NOT_SERVING`);
    else if (status.state === 'answering') logger.info({ redis: address }, `Redis at ${address} answering: SERVING`);
  }
  if (status.replicasRequired === 0) return;
  if (status.replicas !== undefined) metrics?.setRedisReplicas(status.replicas, missingReplicas(status));
  const missing = missingReplicas(status);
  const wasMissing = missingReplicas(previous);
  if (missing > 0 && wasMissing === 0) {
    logger.warn(
      { redis: address, replicas: status.replicas, replicaAcks: status.replicasRequired },
      `Redis primary at ${address} has ${status.replicas} online replica(s), replicaAcks needs ${status.replicasRequired}: writes are refused (reads still served)`,
    );
  } else if (missing === 0 && wasMissing > 0 && status.replicas !== undefined) {
    logger.info({ redis: address, replicas: status.replicas }, `Redis primary at ${address} has ${status.replicas} online replica(s) again: writes accepted`);
  }
}
