// The IPC vocabulary between the primary and its workers (workers: N), and the worker's side of
// it. Messages go over node:cluster's channel, in order; a worker answers every state change with
// `applied`, so the primary can tell an admin caller "done" only once every worker routes the new way.
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from './config-schema.ts';
import { createLogger } from './logger.ts';
import { ProxyServer } from './proxy-server.ts';
import { applyState, type ProxyState, type WorkerStats } from './worker-state.ts';

/** Primary → worker. */
export type ToWorker =
  /** First message: the worker builds its proxy from `config`, applies `state`, then listens. */
  | { t: 'start'; config: ProxyConfig; state: ProxyState; seq: number }
  | { t: 'state'; state: ProxyState; seq: number }
  /** A reloaded configuration and the state that goes with it, applied together. */
  | { t: 'reload'; config: ProxyConfig; state: ProxyState; seq: number }
  | { t: 'stats'; id: number }
  /** Graceful stop: stop accepting, let in-flight requests finish (shutdownTimeoutMs), exit 0. */
  | { t: 'close' };

/** Worker → primary. */
export type FromWorker =
  /** The worker listens for messages (anything sent before would be lost): send `start`. */
  | { t: 'ready' }
  | { t: 'listening'; address: AddressInfo }
  | { t: 'applied'; seq: number }
  | { t: 'stats'; id: number; stats: WorkerStats; inFlight: number }
  | { t: 'failed'; message: string };

/** Runs this process as a worker: waits for `start`, then serves until told to close. */
export function runWorker(): void {
  if (!cluster.isWorker) throw new Error('runWorker() must run in a node:cluster worker');
  let proxy: ProxyServer | undefined;
  const send = (message: FromWorker) => {
    if (process.connected) process.send!(message);
  };
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void (proxy?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  };
  process.on('message', (message: ToWorker) => {
    switch (message.t) {
      case 'start': {
        const logger = createLogger(message.config.log.level).child({ worker: cluster.worker!.id });
        proxy = new ProxyServer({ config: message.config, logger, role: 'worker' });
        applyState(proxy, message.state);
        proxy.listen().then(
          (addresses) => {
            send({ t: 'applied', seq: message.seq });
            send({ t: 'listening', address: addresses.http });
          },
          (error: Error) => {
            send({ t: 'failed', message: error.message });
            process.exit(1);
          },
        );
        return;
      }
      case 'reload':
        proxy?.reload(message.config);
        if (proxy) applyState(proxy, message.state);
        return send({ t: 'applied', seq: message.seq });
      case 'state':
        if (proxy) applyState(proxy, message.state);
        return send({ t: 'applied', seq: message.seq });
      case 'stats': {
        const stats = proxy?.workerStats() ?? { routes: {}, upstreams: {}, errors: {} };
        let inFlight = 0;
        for (const u of Object.values(stats.upstreams)) inFlight += u.inFlight;
        return send({ t: 'stats', id: message.id, stats, inFlight });
      }
      case 'close':
        return stop();
    }
  });
  // Signals sent to the whole process group (Ctrl-C, systemd) stop workers gracefully too; a
  // primary that is gone (its channel closed) leaves the worker nothing to do but drain and exit.
  send({ t: 'ready' });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}
