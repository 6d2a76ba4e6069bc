// grpc.health.v1: SERVING while the store accepts commands, NOT_SERVING otherwise, for both the
// overall server ('') and the session service by name.
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { ServerMetrics } from './metrics.ts';
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
  const detach = store.onReadyChange((ready) => {
    logger.info({ storeReady: ready }, ready ? 'store reachable: SERVING' : 'store unreachable: NOT_SERVING');
    set(ready);
  });
  return {
    implementation,
    shutdown: () => {
      detach();
      set(false);
    },
  };
}
