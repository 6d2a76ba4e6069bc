// `workers: N`: the primary process. It owns the configuration, health checks and DNS discovery
// (once, not N times, in a control-plane ProxyServer that never listens for data), the admin API
// and the state; N node:cluster workers serve the one data listener (the primary holds the listening
// socket and hands connections out round robin, so a dying worker never closes it).
//   - Every change of state (admin call, health verdict, discovery, reload) goes to every worker as
//     one snapshot; admin calls answer once every worker has applied it.
//   - Views and metrics sum the workers' counters, asked for at read time; a dead worker's last
//     reported counters are kept, so counters do not go backwards.
//   - A worker that exits while the proxy runs is replaced (backing off if it keeps dying).
//   - close() tells every worker to drain (shutdownTimeoutMs), waits for them, then stops.
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createAdminServer, type AdminTarget, type BackendView, type RouteView, type WorkerView } from './admin.ts';
import type { AffinityMode, BackendConfig, ProxyConfig } from './config-schema.ts';
import type { Resolver } from './discovery-dns.ts';
import { ProxyError } from './errors.ts';
import { ProxyServer, type ProxyAddresses } from './proxy-server.ts';
import type { RouteCounters } from './route-table.ts';
import { createMetricsRegistry, type StatsSource, type UpstreamStatsView } from './stats.ts';
import type { FromWorker, ToWorker } from './worker-channel.ts';
import { addCounters, addNumbers, captureState, workerConfig, type UpstreamCounters, type WorkerStats } from './worker-state.ts';

export interface WorkerSupervisorOptions {
  config: Readonly<ProxyConfig>;
  /** Worker processes, at least 2 (1 runs a standalone ProxyServer instead). */
  workers: number;
  logger: Logger;
  resolver?: Resolver;
}

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.ts', import.meta.url));
/** Bound on waiting for workers to start, apply a change or report counters, ms. */
const START_TIMEOUT_MS = 60_000;
const REPLY_TIMEOUT_MS = 10_000;
/** How often the primary looks for health and discovery changes to send, ms. */
const WATCH_INTERVAL_MS = 20;
const MAX_RESTART_DELAY_MS = 5_000;

interface WorkerSlot {
  readonly worker: Worker;
  state: WorkerView['state'];
  stats: WorkerStats;
  inFlight: number;
}

export class WorkerSupervisor implements AdminTarget, StatsSource {
  #config: Readonly<ProxyConfig>;
  readonly #count: number;
  readonly #log: Logger;
  readonly #control: ProxyServer;
  readonly #slots = new Map<number, WorkerSlot>();
  readonly #waiters = new Map<string, () => void>();
  readonly #registry: Registry;
  /** Counters of workers that exited (their last report). */
  #retired: WorkerStats = { routes: {}, upstreams: {}, errors: {} };
  #sum: WorkerStats = { routes: {}, upstreams: {}, errors: {} };
  #seq = 0;
  #statsId = 0;
  #http: AddressInfo | undefined;
  #admin: Server | undefined;
  #watch: NodeJS.Timeout | undefined;
  #seen: unknown[] = [];
  #restarts = 0;
  #stopping = false;
  #closing: Promise<void> | undefined;

  constructor(options: WorkerSupervisorOptions) {
    if (!cluster.isPrimary) throw new Error('WorkerSupervisor runs in the primary process');
    this.#config = options.config;
    this.#count = options.workers;
    this.#log = options.logger;
    this.#control = new ProxyServer({ config: options.config, logger: options.logger, ...(options.resolver ? { resolver: options.resolver } : {}) });
    this.#registry = createMetricsRegistry(this);
    cluster.setupPrimary({ exec: WORKER_MAIN, execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS ?? '') });
  }

  /** Starts health checks and discovery, forks the workers and waits until each one listens. */
  async listen(): Promise<ProxyAddresses> {
    await this.#control.startPools();
    // Every worker asks for the configured port, port 0 included: node:cluster hands them all the
    // one socket the primary bound for that address, and keeps it while any worker holds it.
    await Promise.all(Array.from({ length: this.#count }, () => this.#fork()));
    if (this.#config.admin) {
      this.#admin = createAdminServer(this, () => this.#config.admin?.token ?? '');
      this.#admin.listen(this.#config.admin.port, this.#config.admin.host);
      await new Promise((resolve) => this.#admin!.once('listening', resolve));
    }
    this.#seen = this.#snapshots();
    this.#watch = setInterval(() => this.#watchState(), WATCH_INTERVAL_MS);
    this.#watch.unref();
    const admin = this.#admin?.address();
    const addresses = { http: this.#http!, admin: admin && typeof admin === 'object' ? admin : null };
    this.#log.info({ http: addresses.http, admin: addresses.admin, workers: this.#count }, 'listening');
    return addresses;
  }

  /** Applies a new configuration in the primary and in every worker (ProxyServer.reload). */
  reload(config: Readonly<ProxyConfig>): Promise<void> {
    if (this.#stopping) throw new ProxyError('PRX_ERR_SHUTTING_DOWN', 'cannot reload a proxy that is shutting down');
    this.#control.reload(config);
    this.#config = config;
    this.#log.level = config.log.level;
    return this.#broadcast((seq) => ({ t: 'reload', config: workerConfig(config), state: captureState(this.#control), seq }));
  }

  close(): Promise<void> {
    this.#closing ??= this.#stop(false);
    return this.#closing;
  }

  destroy(): Promise<void> {
    return this.#stop(true);
  }

  // --- AdminTarget ---------------------------------------------------------------------------

  async routes(): Promise<RouteView[]> {
    await this.#collect();
    return this.#control.routes().map((view) => ({ ...view, counters: (this.#sum.routes[view.name] as RouteCounters | undefined) ?? view.counters }));
  }

  async setRouteMode(name: string, mode: AffinityMode): Promise<RouteView | undefined> {
    const view = this.#control.setRouteMode(name, mode);
    if (view !== undefined) await this.#sendState();
    return view && (await this.routes()).find((r) => r.name === name);
  }

  async backends(): Promise<BackendView[]> {
    await this.#collect();
    return this.#control.backends().map((view) => this.#withCounters(view));
  }

  async addBackend(pool: string, backend: BackendConfig): Promise<BackendView> {
    const view = this.#control.addBackend(pool, backend);
    await this.#sendState();
    return view;
  }

  async removeBackend(id: string): Promise<boolean> {
    const removed = this.#control.removeBackend(id);
    if (removed) await this.#sendState();
    return removed;
  }

  async drain(id: string, timeoutMs: number | undefined): Promise<BackendView | undefined> {
    const view = this.#control.drain(id, timeoutMs);
    if (view !== undefined) await this.#sendState();
    return view && this.#withCounters(view);
  }

  async undrain(id: string): Promise<BackendView | undefined> {
    const view = this.#control.undrain(id);
    if (view !== undefined) await this.#sendState();
    return view && this.#withCounters(view);
  }

  async workers(): Promise<WorkerView[]> {
    await this.#collect();
    return [...this.#slots.values()].map((s) => ({ id: s.worker.id, pid: s.worker.process.pid ?? 0, state: s.state, inFlight: s.inFlight, requests: sumRoutes(s.stats) }));
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    await this.#collect();
    return { contentType: this.#registry.contentType, body: await this.#registry.metrics() };
  }

  // --- StatsSource (sums over workers, as of the last #collect) -----------------------------

  *routeEntries(): Iterable<{ name: string; mode: AffinityMode; counters: RouteCounters }> {
    for (const entry of this.#control.routeEntries()) yield { name: entry.name, mode: entry.mode, counters: (this.#sum.routes[entry.name] as RouteCounters | undefined) ?? entry.counters };
  }

  *upstreams(): Iterable<UpstreamStatsView> {
    for (const u of this.#control.upstreams()) {
      const c = this.#sum.upstreams[u.id];
      yield { poolName: u.poolName, id: u.id, up: u.up, draining: u.draining, requests: c?.requests ?? 0, failures: c?.failures ?? 0, ejections: c?.ejections ?? 0, inFlight: c?.inFlight ?? 0 };
    }
  }

  errors(): ReadonlyMap<string, number> {
    return new Map(Object.entries(this.#sum.errors));
  }

  // --- internals -----------------------------------------------------------------------------

  #withCounters(view: BackendView): BackendView {
    const c: UpstreamCounters | undefined = this.#sum.upstreams[view.id];
    if (c === undefined) return view;
    const ejectedUntil = c.ejectedUntilMs > Date.now() ? new Date(c.ejectedUntilMs).toISOString() : view.ejectedUntil;
    return { ...view, inFlight: c.inFlight, websockets: c.websockets, requests: c.requests, failures: c.failures, ejections: c.ejections, ejectedUntil };
  }

  #fork(): Promise<void> {
    // glibc keeps one malloc arena per thread that ever allocated (V8's compiler and GC threads).
    const worker = cluster.fork(process.env.MALLOC_ARENA_MAX ? {} : { MALLOC_ARENA_MAX: '2' });
    const slot: WorkerSlot = { worker, state: 'starting', stats: { routes: {}, upstreams: {}, errors: {} }, inFlight: 0 };
    this.#slots.set(worker.id, slot);
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${worker.id} did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      worker.on('message', (message: FromWorker) => {
        if (message.t === 'ready') {
          // Built now, not at fork: any change made while the worker loaded is included.
          this.#send(slot, { t: 'start', config: workerConfig(this.#config), state: captureState(this.#control), seq: ++this.#seq });
        } else if (message.t === 'listening') {
          clearTimeout(timer);
          this.#http ??= message.address;
          slot.state = 'serving';
          resolve();
        } else if (message.t === 'failed') {
          clearTimeout(timer);
          reject(new Error(`worker ${worker.id} could not start: ${message.message}`));
        } else this.#onReply(worker.id, message);
      });
      worker.once('exit', () => clearTimeout(timer));
    });
    worker.once('exit', (code, signal) => this.#onExit(slot, code, signal));
    // A message sent to a worker that was just killed fails with EPIPE before its exit is seen:
    // without a listener that error would end the primary. The exit that follows replaces it.
    worker.on('error', (error) => this.#log.debug({ worker: worker.id, err: error.message }, 'worker channel error'));
    return started;
  }

  #onExit(slot: WorkerSlot, code: number | null, signal: string | null): void {
    this.#slots.delete(slot.worker.id);
    addCounters(this.#retired.routes, slot.stats.routes);
    addCounters(this.#retired.upstreams, zeroGauges(slot.stats.upstreams));
    addNumbers(this.#retired.errors, slot.stats.errors);
    for (const [key, resolve] of this.#waiters) if (key.startsWith(`${slot.worker.id}:`)) resolve();
    if (this.#stopping) return;
    const delayMs = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** this.#restarts++);
    this.#log.error({ worker: slot.worker.id, pid: slot.worker.process.pid, code, signal, restartInMs: delayMs }, 'worker exited; replacing it');
    const timer = setTimeout(() => {
      if (this.#stopping) return;
      this.#fork().then(
        () => setTimeout(() => (this.#restarts = 0), MAX_RESTART_DELAY_MS).unref(),
        (error: Error) => this.#log.error({ err: error }, 'replacement worker failed to start'),
      );
    }, delayMs);
    timer.unref();
  }

  #send(slot: WorkerSlot, message: ToWorker): void {
    if (slot.worker.isConnected()) slot.worker.send(message);
  }

  #onReply(workerId: number, message: FromWorker): void {
    if (message.t === 'applied') this.#waiters.get(`${workerId}:a${message.seq}`)?.();
    else if (message.t === 'stats') {
      const slot = this.#slots.get(workerId);
      if (slot) {
        slot.stats = message.stats;
        slot.inFlight = message.inFlight;
      }
      this.#waiters.get(`${workerId}:s${message.id}`)?.();
    }
  }

  /** Sends `make(seq)` to every worker and resolves once each applied it, exited, or REPLY_TIMEOUT_MS passed. */
  #broadcast(make: (seq: number) => ToWorker & { seq: number }, key = 'a'): Promise<void> {
    const message = make(++this.#seq);
    this.#seen = this.#snapshots();
    return this.#each(key, message.seq, (slot) => this.#send(slot, message));
  }

  #sendState(): Promise<void> {
    return this.#broadcast((seq) => ({ t: 'state', state: captureState(this.#control), seq }));
  }

  async #collect(): Promise<void> {
    const id = ++this.#statsId;
    await this.#each('s', id, (slot) => this.#send(slot, { t: 'stats', id }));
    const sum: WorkerStats = structuredClone(this.#retired);
    for (const slot of this.#slots.values()) {
      addCounters(sum.routes, slot.stats.routes);
      addCounters(sum.upstreams, slot.stats.upstreams);
      addNumbers(sum.errors, slot.stats.errors);
    }
    this.#sum = sum;
  }

  #each(kind: string, id: number, send: (slot: WorkerSlot) => void): Promise<void> {
    const waits = [...this.#slots.values()].map((slot) => {
      const key = `${slot.worker.id}:${kind}${id}`;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, REPLY_TIMEOUT_MS);
        const self = this;
        function done(): void {
          clearTimeout(timer);
          self.#waiters.delete(key);
          resolve();
        }
        this.#waiters.set(key, done);
        send(slot);
      });
    });
    return Promise.all(waits).then(() => undefined);
  }

  /** The pool snapshots and route table: a new object whenever health, discovery or membership changed. */
  #snapshots(): unknown[] {
    return [...this.#control.poolMap().values()].map((pool) => pool.snapshot);
  }

  #watchState(): void {
    const now = this.#snapshots();
    if (now.length === this.#seen.length && now.every((s, i) => s === this.#seen[i])) return;
    void this.#sendState();
  }

  async #stop(immediately: boolean): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#watch);
    this.#admin?.close();
    this.#admin?.closeAllConnections();
    const exited = [...this.#slots.values()].map((slot) => new Promise<void>((resolve) => {
      if (slot.worker.isDead()) return resolve();
      slot.worker.once('exit', () => resolve());
      slot.state = 'stopping';
      if (immediately) slot.worker.process.kill('SIGKILL');
      else this.#send(slot, { t: 'close' });
    }));
    // A worker that does not finish draining in time (plus a margin) is killed.
    const deadline = setTimeout(() => {
      for (const slot of this.#slots.values()) slot.worker.process.kill('SIGKILL');
    }, immediately ? 0 : this.#config.shutdownTimeoutMs + 5_000);
    await Promise.all(exited);
    clearTimeout(deadline);
    await (immediately ? this.#control.destroy() : this.#control.close());
  }
}

function sumRoutes(stats: WorkerStats): number {
  let total = 0;
  for (const counters of Object.values(stats.routes)) total += counters.requests;
  return total;
}

/** A dead worker's gauges (in flight, WebSockets) are gone with it; its counters stay. */
function zeroGauges(upstreams: Record<string, UpstreamCounters>): Record<string, UpstreamCounters> {
  return Object.fromEntries(Object.entries(upstreams).map(([id, c]) => [id, { ...c, inFlight: 0, websockets: 0 }]));
}

/**
 * The Node flags of a worker: the primary's, plus the launch settings that bound a proxy's RSS
 * (docs/proxy.md "Memory") unless the primary was started with its own value of them.
 */
export function workerExecArgv(primary: readonly string[], nodeOptions: string): string[] {
  const given = [...primary, ...nodeOptions.split(/\s+/)];
  const missing = WORKER_MEMORY_FLAGS.filter((flag) => {
    const name = flag.slice(0, flag.indexOf('='));
    return !given.some((arg) => arg === name || arg.startsWith(`${name}=`));
  });
  return [...primary, ...missing];
}

const WORKER_MEMORY_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'] as const;
