// The proxy as a running thing: the data-plane and admin listeners, the pools, the current route
// table, reload, and the two stop verbs. close() stops accepting, lets in-flight requests and
// WebSockets finish for up to shutdownTimeoutMs, then releases; destroy() cuts everything now.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { backendView, createAdminServer, routeView, type AdminTarget, type BackendView, type RouteView, type WorkerView } from './admin.ts';
import type { AffinityMode, BackendConfig, ProxyConfig } from './config-schema.ts';
import { systemResolver, type Resolver } from './discovery-dns.ts';
import { ProxyError } from './errors.ts';
import { createLogger } from './logger.ts';
import { RequestHandler } from './request-handler.ts';
import { ClientListener } from './client-listener.ts';
import { buildRouteTable, withRouteMode, type RouteCounters, type RouteEntry } from './route-table.ts';
import { createMetricsRegistry, type StatsSource } from './stats.ts';
import type { Upstream } from './upstream.ts';
import { UpstreamPool } from './upstream-pool.ts';
import type { WorkerStats } from './worker-state.ts';

export interface ProxyOptions {
  /** Validated configuration (parseProxyConfig / loadProxyConfigFile). */
  config: Readonly<ProxyConfig>;
  /** DNS discovery seam. Default: the system resolver. */
  resolver?: Resolver;
  /** Default: a pino logger at config.log.level writing to stdout. */
  logger?: Logger;
  /**
   * `standalone` (default) does everything in this process. `worker` is one of `workers: N`
   * processes: it serves the data listener only; health checks, DNS discovery and the admin API
   * run once in the primary, which sends their state (worker-state.ts). Default: standalone.
   */
  role?: 'standalone' | 'worker';
}

export interface ProxyAddresses {
  readonly http: AddressInfo;
  /** Null when the configuration has no admin section. */
  readonly admin: AddressInfo | null;
}

const SHUTDOWN_POLL_MS = 25;

export class ProxyServer implements AdminTarget, StatsSource {
  #config: Readonly<ProxyConfig>;
  readonly #resolver: Resolver;
  readonly #log: Logger;
  readonly #pools = new Map<string, UpstreamPool>();
  readonly #counters = new Map<string, RouteCounters>();
  readonly #handler: RequestHandler;
  readonly #listener: ClientListener;
  #admin: Server | undefined;
  readonly #registry: Registry;
  readonly #role: 'standalone' | 'worker';
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(options: ProxyOptions) {
    this.#config = options.config;
    this.#role = options.role ?? 'standalone';
    this.#resolver = options.resolver ?? systemResolver;
    this.#log = options.logger ?? createLogger(options.config.log.level);
    for (const [name, pool] of Object.entries(this.#config.pools)) this.#pools.set(name, this.#createPool(name, pool));
    this.#handler = new RequestHandler(buildRouteTable(this.#config, this.#pools, this.#counters), this.#config.listen, this.#log);
    const { keepAliveTimeoutMs, requestHeadersTimeoutMs, requestTimeoutMs } = this.#config.listen;
    this.#listener = new ClientListener(this.#handler, { keepAliveTimeoutMs, requestHeadersTimeoutMs, requestTimeoutMs });
    this.#registry = createMetricsRegistry(this);
  }

  /** Starts discovery and health checks, then listens. Resolves with the bound addresses. */
  async listen(): Promise<ProxyAddresses> {
    if (this.#role === 'standalone') await this.startPools();
    const { host, port } = this.#config.listen;
    this.#listener.listen(port, host);
    await once(this.#listener.server, 'listening');
    if (this.#role === 'worker') {
      this.#log.debug({ http: this.addresses!.http }, 'worker listening');
      return this.addresses!;
    }
    if (this.#config.admin) {
      this.#admin = createAdminServer(this, () => this.#config.admin?.token ?? '');
      this.#admin.listen(this.#config.admin.port, this.#config.admin.host);
      await once(this.#admin, 'listening');
    }
    const addresses = this.addresses!;
    this.#log.info({ http: addresses.http, admin: addresses.admin }, 'listening');
    return addresses;
  }

  /** Starts discovery and health checks without listening (the primary of `workers: N` runs only these). */
  async startPools(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.start()));
  }

  get addresses(): ProxyAddresses | undefined {
    const http = this.#listener.address();
    if (http === null) return undefined;
    const admin = this.#admin?.address();
    return { http, admin: admin && typeof admin === 'object' ? admin : null };
  }

  /**
   * Applies a new configuration without dropping anything: pools are diffed (unchanged backends
   * keep connections, health and drain state), routes and keys are replaced, and requests in
   * flight finish on the objects they started with. Runtime mode changes are reset to the file.
   * Listener addresses are not rebound (restart for that).
   */
  reload(config: Readonly<ProxyConfig>): void {
    if (this.#closing || this.#destroying) throw new ProxyError('PRX_ERR_SHUTTING_DOWN', 'cannot reload a proxy that is shutting down');
    const previous = this.#config;
    const bound = (listen: ProxyConfig['listen']) => [listen.host, listen.port, listen.keepAliveTimeoutMs, listen.requestHeadersTimeoutMs, listen.requestTimeoutMs].join();
    if (bound(previous.listen) !== bound(config.listen) || previous.admin?.port !== config.admin?.port || previous.admin?.host !== config.admin?.host) {
      this.#log.warn('listen/admin address and listener timeout changes need a restart; keeping the current listeners');
    }
    for (const [name, poolConfig] of Object.entries(config.pools)) {
      const pool = this.#pools.get(name);
      if (pool) pool.update(poolConfig);
      else {
        const created = this.#createPool(name, poolConfig);
        this.#pools.set(name, created);
        void created.start();
      }
    }
    for (const [name, pool] of [...this.#pools]) {
      if (!Object.hasOwn(config.pools, name)) {
        this.#pools.delete(name);
        void pool.close();
      }
    }
    for (const name of [...this.#counters.keys()]) if (!config.routes.some((r) => r.name === name)) this.#counters.delete(name);
    this.#config = config;
    this.#log.level = config.log.level;
    this.#handler.listen = config.listen;
    this.#handler.table = buildRouteTable(config, this.#pools, this.#counters);
    this.#log.info({ routes: config.routes.length, pools: this.#pools.size }, 'configuration reloaded');
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  destroy(error?: Error): Promise<void> {
    this.#destroying ??= this.#destroy(error);
    return this.#destroying;
  }

  // --- AdminTarget ---------------------------------------------------------------------------

  routes(): RouteView[] {
    return [...this.#handler.table.byName.values()].map(routeView);
  }

  setRouteMode(name: string, mode: AffinityMode): RouteView | undefined {
    const table = this.#handler.table;
    const entry = table.byName.get(name);
    if (entry === undefined) return undefined;
    if (entry.mode !== mode) {
      this.#handler.table = withRouteMode(table, name, mode, this.#config.keys);
      this.#log.info({ route: name, from: entry.mode, to: mode }, 'route affinity changed');
    }
    return routeView(this.#handler.table.byName.get(name)!);
  }

  backends(): BackendView[] {
    return [...this.upstreams()].map(backendView);
  }

  addBackend(poolName: string, backend: BackendConfig): BackendView {
    const pool = this.#pools.get(poolName);
    if (pool === undefined) throw new ProxyError('PRX_ERR_NOT_FOUND', `pool ${poolName} does not exist`);
    if (this.#poolOf(backend.id)) throw new ProxyError('PRX_ERR_CONFLICT', `backend id ${backend.id} is already in use; ids are unique across pools`);
    return backendView(pool.add(backend, 'admin')!);
  }

  removeBackend(id: string): boolean {
    return this.#poolOf(id)?.remove(id) ?? false;
  }

  drain(id: string, timeoutMs: number | undefined): BackendView | undefined {
    const upstream = this.#poolOf(id)?.drain(id, timeoutMs);
    return upstream && backendView(upstream);
  }

  undrain(id: string): BackendView | undefined {
    const upstream = this.#poolOf(id)?.undrain(id);
    return upstream && backendView(upstream);
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.#registry.contentType, body: await this.#registry.metrics() };
  }

  workers(): WorkerView[] {
    return [{ id: 0, pid: process.pid, state: 'serving', inFlight: this.#inFlight(), requests: sumRequests(this.#handler.table.byName.values()) }];
  }

  // --- worker state (worker-state.ts) ------------------------------------------------------

  poolMap(): ReadonlyMap<string, UpstreamPool> {
    return this.#pools;
  }

  routeModes(): Record<string, AffinityMode> {
    const modes: Record<string, AffinityMode> = {};
    for (const entry of this.#handler.table.byName.values()) modes[entry.name] = entry.mode;
    return modes;
  }

  /** This process's counters, for the primary to sum. */
  workerStats(): WorkerStats {
    const routes: WorkerStats['routes'] = {};
    for (const entry of this.#handler.table.byName.values()) routes[entry.name] = { ...entry.counters };
    const upstreams: WorkerStats['upstreams'] = {};
    for (const u of this.upstreams()) {
      upstreams[u.id] = { requests: u.requests, failures: u.failures, ejections: u.ejections, inFlight: u.inFlight, websockets: u.tunnelCount, ejectedUntilMs: u.ejectedUntilMs };
    }
    return { routes, upstreams, errors: Object.fromEntries(this.#handler.errors) };
  }

  // --- StatsSource ---------------------------------------------------------------------------

  routeEntries(): Iterable<RouteEntry> {
    return this.#handler.table.byName.values();
  }

  *upstreams(): Iterable<Upstream> {
    for (const pool of this.#pools.values()) yield* pool.snapshot.members;
  }

  errors(): ReadonlyMap<string, number> {
    return this.#handler.errors;
  }

  // --- internals -----------------------------------------------------------------------------

  #createPool(name: string, config: ProxyConfig['pools'][string]): UpstreamPool {
    return new UpstreamPool({ name, config, resolver: this.#resolver, logger: this.#log });
  }

  #poolOf(id: string): UpstreamPool | undefined {
    for (const pool of this.#pools.values()) if (pool.get(id)) return pool;
    return undefined;
  }

  #inFlight(): number {
    let total = 0;
    for (const pool of this.#pools.values()) total += pool.inFlight();
    return total;
  }

  async #close(): Promise<void> {
    this.#handler.closing = true;
    this.#log.info({ inFlight: this.#inFlight() }, 'closing');
    const stopped = this.#listener.close();
    this.#admin?.close();
    this.#admin?.closeIdleConnections();
    const deadline = Date.now() + this.#config.shutdownTimeoutMs;
    while (this.#inFlight() > 0 && Date.now() < deadline && !this.#destroying) {
      this.#listener.closeIdleConnections();
      await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_POLL_MS));
    }
    for (const pool of this.#pools.values()) pool.destroyTunnels();
    this.#listener.closeAllConnections();
    this.#admin?.closeAllConnections();
    await stopped;
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    this.#log.info('closed');
  }

  async #destroy(error?: Error): Promise<void> {
    this.#handler.closing = true;
    if (error) this.#log.error({ err: error }, 'destroying');
    void this.#listener.close();
    this.#listener.closeAllConnections();
    this.#admin?.close();
    this.#admin?.closeAllConnections();
    await Promise.all([...this.#pools.values()].map((pool) => pool.destroy()));
    this.#log.info('destroyed');
  }
}

function sumRequests(entries: Iterable<RouteEntry>): number {
  let total = 0;
  for (const entry of entries) total += entry.counters.requests;
  return total;
}
