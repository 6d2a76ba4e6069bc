// One named pool of backends: membership (static, DNS-discovered, admin-added), health (active
// checks + passive ejection), draining, and the immutable snapshot requests read. Every change
// publishes a new PoolSnapshot; nothing on the request path rebuilds or locks anything.
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { BackendConfig, PoolConfig } from './config-schema.ts';
import { poolSecureContext } from './config.ts';
import { DnsDiscovery, discoveredBackendId, discoveredBackendUrl, type DiscoveredAddress, type Resolver } from './discovery-dns.ts';
import { HealthChecker, type StatusSetter } from './health-checker.ts';
import { OutlierDetector, type EjectionSetter } from './outlier-detector.ts';
import { PowerOfTwoChoicesPicker } from './picker.ts';
import { Upstream, type UpstreamSource } from './upstream.ts';

/** What a request reads: replaced as a whole, never mutated. */
export interface PoolSnapshot {
  /** Every member, any state, sorted by id (rendezvous hashing ranks over these). */
  readonly members: readonly Upstream[];
  readonly byId: ReadonlyMap<string, Upstream>;
  /** Balancer over members that take new pins: up and not draining. */
  readonly picker: PowerOfTwoChoicesPicker<Upstream>;
}

/**
 * How long a backend that left DNS is remembered, ms: longer than any sensible hard.repinAfterMs.
 * After that its pins count as unknown (new).
 */
const DEPARTED_MEMORY_MS = 3_600_000;
/** Bound on remembered departures (a churning name must not grow memory). */
const MAX_DEPARTED = 10_000;

export interface UpstreamPoolOptions {
  name: string;
  config: PoolConfig;
  resolver: Resolver;
  logger: Logger;
}

export class UpstreamPool implements StatusSetter, EjectionSetter {
  readonly name: string;
  #config: PoolConfig;
  readonly #resolver: Resolver;
  readonly #log: Logger;
  readonly #upstreams = new Map<string, Upstream>();
  readonly #retired = new Set<Upstream>();
  readonly #drainTimers = new Map<string, NodeJS.Timeout>();
  /** Ids that left DNS discovery → when (ms since epoch); their hard pins wait out the route's grace. */
  readonly #departed = new Map<string, number>();
  #snapshot!: PoolSnapshot;
  #health: HealthChecker | undefined;
  #dns: DnsDiscovery | undefined;
  readonly #outlier: OutlierDetector;
  /** Made from `tls` (config.ts) once per configuration, shared by every https connection of the pool. */
  #secureContext: SecureContext | undefined;
  #closed = false;

  constructor(options: UpstreamPoolOptions) {
    this.name = options.name;
    this.#config = options.config;
    this.#resolver = options.resolver;
    this.#log = options.logger.child({ pool: options.name });
    this.#outlier = new OutlierDetector(options.config.outlier, this);
    this.#secureContext = poolSecureContext(options.config.tls);
    for (const backend of options.config.backends) this.#add(backend, 'static');
    this.#publish();
  }

  get snapshot(): PoolSnapshot {
    return this.#snapshot;
  }
  get config(): PoolConfig {
    return this.#config;
  }

  /** Starts discovery (first resolution awaited) and health checks. */
  async start(): Promise<void> {
    if (this.#config.dns) await this.#startDns();
    this.#startHealth();
  }

  /** Result of one attempt, for passive ejection. */
  record(upstream: Upstream, failed: boolean): void {
    this.#outlier.record(upstream, failed);
  }

  setStatus(id: string, up: boolean): void {
    this.#upstreams.get(id)?.setActiveHealth(up);
  }

  setEjected(id: string, untilMs: number): void {
    const upstream = this.#upstreams.get(id);
    if (upstream === undefined) return;
    if (untilMs > 0) this.#log.warn({ upstream: id, ejectedForMs: untilMs - Date.now(), ejections: upstream.ejections }, 'upstream ejected');
    upstream.setEjectedUntil(untilMs);
  }

  ejectionStats(): { ejected: number; members: number } {
    const now = Date.now();
    let ejected = 0;
    for (const upstream of this.#upstreams.values()) if (upstream.ejectedUntilMs > now) ejected++;
    return { ejected, members: this.#upstreams.size };
  }

  /** Requests and tunnels in flight on this pool, removed backends included. */
  inFlight(): number {
    let total = 0;
    for (const upstream of this.#upstreams.values()) total += upstream.inFlight;
    for (const upstream of this.#retired) total += upstream.inFlight;
    return total;
  }

  get(id: string): Upstream | undefined {
    return this.#upstreams.get(id);
  }

  /** When the backend `id` left DNS discovery (ms since epoch), if it did within DEPARTED_MEMORY_MS and has not come back. */
  departedSinceMs(id: string): number | undefined {
    return this.#departed.get(id);
  }

  /** Drain: no new pins now; hard pins and WebSockets leave at `timeoutMs` from now (default drainTimeoutMs). */
  drain(id: string, timeoutMs = this.#config.drainTimeoutMs): Upstream | undefined {
    const upstream = this.#upstreams.get(id);
    if (upstream === undefined) return undefined;
    clearTimeout(this.#drainTimers.get(id));
    upstream.startDrain(Date.now() + timeoutMs);
    const timer = setTimeout(() => {
      this.#drainTimers.delete(id);
      this.#log.info({ upstream: id, tunnels: upstream.tunnelCount }, 'upstream drain deadline reached');
      upstream.destroyTunnels();
    }, timeoutMs);
    timer.unref();
    this.#drainTimers.set(id, timer);
    this.#log.info({ upstream: id, timeoutMs }, 'upstream draining');
    this.#publish();
    return upstream;
  }

  undrain(id: string): Upstream | undefined {
    const upstream = this.#upstreams.get(id);
    if (upstream === undefined) return undefined;
    clearTimeout(this.#drainTimers.get(id));
    this.#drainTimers.delete(id);
    upstream.stopDrain();
    this.#log.info({ upstream: id }, 'upstream undrained');
    this.#publish();
    return upstream;
  }

  /** Adds a backend at runtime; false when the id is taken. */
  add(backend: BackendConfig, source: UpstreamSource = 'admin'): Upstream | undefined {
    if (this.#upstreams.has(backend.id)) return undefined;
    const upstream = this.#add(backend, source);
    this.#publish();
    return upstream;
  }

  /**
   * Removes a backend: no new requests; in-flight ones finish, tunnels get drainTimeoutMs. A
   * discovered backend counts as departed (a worker of `workers: N` learns DNS answers this way).
   */
  remove(id: string): boolean {
    const upstream = this.#upstreams.get(id);
    if (upstream === undefined) return false;
    if (upstream.source === 'dns') {
      this.#departed.set(id, Date.now());
      this.#forgetOldDepartures();
    }
    this.#upstreams.delete(id);
    this.#retire(upstream);
    this.#publish();
    return true;
  }

  /**
   * Applies a reloaded pool section. Backends whose id, url and weight are unchanged keep their
   * Upstream (connections, health, in-flight, drain state), so pins and running requests survive.
   */
  update(config: PoolConfig): void {
    const previous = this.#config;
    this.#config = config;
    this.#outlier.configure(config.outlier);
    const tlsChanged = previous.tls?.ca !== config.tls?.ca || previous.tls?.cert !== config.tls?.cert || previous.tls?.key !== config.tls?.key;
    if (tlsChanged) this.#secureContext = poolSecureContext(config.tls);
    const connectionChanged =
      previous.connections !== config.connections || previous.connectTimeoutMs !== config.connectTimeoutMs || previous.keepAliveTimeoutMs !== config.keepAliveTimeoutMs || tlsChanged;
    const wanted = new Map(config.backends.map((b) => [b.id, b]));
    for (const upstream of [...this.#upstreams.values()]) {
      // Discovered backends stay until the (possibly new) discovery's next answer reconciles them;
      // new connection settings (timeouts, the CA) apply to them at once, as to static ones.
      if (upstream.source === 'dns' && config.dns) {
        if (connectionChanged) this.#replace(upstream, { id: upstream.id, url: upstream.url, weight: upstream.weight });
        continue;
      }
      const backend = wanted.get(upstream.id);
      if (backend !== undefined && upstream.source !== 'dns' && !connectionChanged && new URL(backend.url).origin === upstream.url && backend.weight === upstream.weight) continue;
      if (backend !== undefined && upstream.source !== 'dns') this.#replace(upstream, backend);
      else {
        this.#upstreams.delete(upstream.id);
        this.#retire(upstream);
      }
    }
    for (const backend of config.backends) if (!this.#upstreams.has(backend.id)) this.#add(backend, 'static');
    if (JSON.stringify(previous.dns) !== JSON.stringify(config.dns)) {
      this.#dns?.close();
      this.#dns = undefined;
      if (config.dns) void this.#startDns();
    }
    if (JSON.stringify(previous.health) !== JSON.stringify(config.health) || tlsChanged) {
      void this.#health?.close();
      this.#health = undefined;
      this.#startHealth();
    }
    this.#publish();
  }

  /** Graceful: timers stop, in-flight requests finish, connections close. */
  async close(): Promise<void> {
    this.#stop();
    await Promise.all([...this.#upstreams.values(), ...this.#retired].map((u) => u.close()));
  }

  async destroy(): Promise<void> {
    this.#stop();
    await Promise.all([...this.#upstreams.values(), ...this.#retired].map((u) => u.destroy()));
  }

  /** Cuts every WebSocket tunnel of the pool (shutdown deadline). */
  destroyTunnels(): void {
    for (const upstream of [...this.#upstreams.values(), ...this.#retired]) upstream.destroyTunnels();
  }

  #stop(): void {
    this.#closed = true;
    this.#dns?.close();
    void this.#health?.close();
    this.#outlier.close();
    for (const timer of this.#drainTimers.values()) clearTimeout(timer);
    this.#drainTimers.clear();
  }

  #add(backend: BackendConfig, source: UpstreamSource): Upstream {
    this.#departed.delete(backend.id);
    const upstream = new Upstream({
      id: backend.id,
      url: backend.url,
      weight: backend.weight,
      poolName: this.name,
      source,
      connections: this.#config.connections,
      connectTimeoutMs: this.#config.connectTimeoutMs,
      keepAliveTimeoutMs: this.#config.keepAliveTimeoutMs,
      secureContext: this.#secureContext,
      onTransition: (u, from, to, reason) => {
        this.#log[to === 'down' ? 'warn' : 'info']({ upstream: u.id, from, to, reason }, `upstream ${from} -> ${to}`);
        if (this.#upstreams.get(u.id) === u) this.#publish();
      },
    });
    this.#upstreams.set(backend.id, upstream);
    return upstream;
  }

  #replace(old: Upstream, backend: BackendConfig): void {
    const upstream = this.#add({ ...backend }, old.source);
    upstream.setActiveHealth(old.activeUp);
    if (old.draining) upstream.startDrain(old.drainDeadlineMs);
    this.#retire(old);
  }

  #retire(upstream: Upstream): void {
    this.#outlier.forget(upstream.id);
    clearTimeout(this.#drainTimers.get(upstream.id));
    this.#drainTimers.delete(upstream.id);
    this.#retired.add(upstream);
    this.#log.info({ upstream: upstream.id, inFlight: upstream.inFlight }, 'upstream removed');
    const cut = setTimeout(() => upstream.destroyTunnels(), this.#config.drainTimeoutMs);
    cut.unref();
    void upstream.close().finally(() => {
      if (upstream.tunnelCount === 0) {
        clearTimeout(cut);
        this.#retired.delete(upstream);
      }
    });
  }

  #onDiscovered(found: readonly DiscoveredAddress[]): void {
    const dns = this.#config.dns;
    if (dns === undefined || this.#closed) return;
    const seen = new Set<string>();
    let changed = false;
    for (const address of found) {
      const id = discoveredBackendId(dns, address);
      seen.add(id);
      this.#departed.delete(id);
      if (this.#upstreams.has(id)) continue;
      this.#add({ id, url: discoveredBackendUrl(dns, address), weight: dns.weight }, 'dns');
      this.#log.info({ upstream: id }, 'upstream discovered');
      changed = true;
    }
    for (const upstream of [...this.#upstreams.values()]) {
      if (upstream.source === 'dns' && !seen.has(upstream.id)) {
        this.#departed.set(upstream.id, Date.now());
        this.#upstreams.delete(upstream.id);
        this.#retire(upstream);
        changed = true;
      }
    }
    this.#forgetOldDepartures();
    if (changed) this.#publish();
  }

  #forgetOldDepartures(): void {
    const forgetBefore = Date.now() - DEPARTED_MEMORY_MS;
    for (const [id, leftAtMs] of this.#departed) if (leftAtMs < forgetBefore || this.#departed.size > MAX_DEPARTED) this.#departed.delete(id);
  }

  async #startDns(): Promise<void> {
    const dns = this.#config.dns!;
    const discovery = new DnsDiscovery(
      dns,
      this.#resolver,
      (found) => {
        if (this.#dns === discovery) this.#onDiscovered(found);
      },
      (error) => this.#log.warn({ err: error, name: dns.name }, 'dns resolution failed; keeping the last known backends'),
    );
    this.#dns = discovery;
    await discovery.start();
  }

  #startHealth(): void {
    if (!this.#config.health || this.#closed) return;
    this.#health = new HealthChecker(this.#config.health, this, () => this.#upstreams.values(), this.#secureContext);
    this.#health.start();
  }

  #publish(): void {
    const members = [...this.#upstreams.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.#snapshot = Object.freeze({
      members: Object.freeze(members),
      byId: new Map(members.map((u) => [u.id, u])),
      // Weight 0 takes no new clients; its pins still find it through byId.
      picker: new PowerOfTwoChoicesPicker(members.filter((u) => u.up && !u.draining && u.weight > 0)),
    });
  }
}
