// One backend: its identity, its connection pool, its live counters and its health state machine.
// Health is `up | down`, changed only through transition(); draining is a separate, orthogonal
// flag (a draining backend can be up or down), shown to operators as the state `draining`.
import type { SecureContext } from 'node:tls';
import { hashString, type RendezvousMember } from './rendezvous.ts';
import { UpstreamClient } from './upstream-client.ts';

export type UpstreamHealth = 'up' | 'down';
/** What the admin API shows: draining wins over health. */
export type UpstreamState = UpstreamHealth | 'draining';
/** Where the backend came from; config reloads replace `static` and `dns` ones, `admin` ones too. */
export type UpstreamSource = 'static' | 'dns' | 'admin';

export interface UpstreamOptions {
  id: string;
  /** Origin, e.g. `http://10.0.0.5:3000`. */
  url: string;
  weight: number;
  poolName: string;
  source: UpstreamSource;
  /** Connections at most (UpstreamClient). */
  connections: number;
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** The pool's TLS context (`tls`: a private CA, a client certificate) for an https backend; undefined: Node's defaults. */
  secureContext?: SecureContext | undefined;
  /** Called once per health transition, after it happened. */
  onTransition?: (upstream: Upstream, from: UpstreamHealth, to: UpstreamHealth, reason: string) => void;
}

/** Anything an upstream must be able to cut at a drain deadline or shutdown (a WebSocket tunnel). */
export interface Tunnel {
  destroy(): void;
}

export class Upstream implements RendezvousMember {
  readonly id: string;
  readonly url: string;
  readonly hostname: string;
  readonly port: number;
  readonly tls: boolean;
  /** The pool's TLS context for an https backend (UpstreamOptions). */
  readonly secureContext: SecureContext | undefined;
  readonly weight: number;
  readonly idHash: number;
  readonly poolName: string;
  readonly source: UpstreamSource;
  readonly dispatcher: UpstreamClient;

  /** Requests and open WebSockets currently on this backend. Read by the balancer on every pick. */
  inFlight = 0;
  /** Of inFlight: requests whose body is still streaming from the client (capped by the pool's maxUploadConnections). */
  uploads = 0;
  /** Requests sent (attempts, retries included). */
  requests = 0;
  /** Attempts that ended in a connect error, reset, timeout or 5xx. */
  failures = 0;
  /** Outlier detection bookkeeping (outlier-detector.ts owns the rules). */
  consecutiveFailures = 0;
  ejections = 0;
  lastEjectionEndMs = 0;

  #health: UpstreamHealth = 'up';
  #activeUp = true;
  #ejectedUntilMs = 0;
  #downSinceMs = 0;
  #drainDeadlineMs = 0;
  #draining = false;
  #tunnels = new Set<Tunnel>();
  #onTransition: UpstreamOptions['onTransition'];

  constructor(options: UpstreamOptions) {
    const url = new URL(options.url);
    this.id = options.id;
    this.url = url.origin;
    this.tls = url.protocol === 'https:';
    this.hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port ? Number(url.port) : this.tls ? 443 : 80;
    this.secureContext = options.secureContext;
    this.weight = options.weight;
    this.idHash = hashString(options.id);
    this.poolName = options.poolName;
    this.source = options.source;
    this.#onTransition = options.onTransition;
    this.dispatcher = new UpstreamClient({
      hostname: this.hostname,
      port: this.port,
      tls: this.tls,
      secureContext: options.secureContext,
      connections: options.connections,
      connectTimeoutMs: options.connectTimeoutMs,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    });
  }

  get health(): UpstreamHealth {
    return this.#health;
  }
  get state(): UpstreamState {
    return this.#draining ? 'draining' : this.#health;
  }
  get up(): boolean {
    return this.#health === 'up';
  }
  /** When the backend last went down (ms since epoch); 0 while up. */
  get downSinceMs(): number {
    return this.#downSinceMs;
  }
  get draining(): boolean {
    return this.#draining;
  }
  /** Drain deadline (ms since epoch), 0 when not draining. */
  get drainDeadlineMs(): number {
    return this.#drainDeadlineMs;
  }
  get activeUp(): boolean {
    return this.#activeUp;
  }
  get ejectedUntilMs(): number {
    return this.#ejectedUntilMs;
  }
  get tunnelCount(): number {
    return this.#tunnels.size;
  }

  /**
   * Moves health from one of `from` to `to`. Returns false (and changes nothing) when the
   * current state is not in `from` or already `to`, so concurrent reporters cannot flap it.
   */
  transition(from: readonly UpstreamHealth[], to: UpstreamHealth, reason: string, nowMs = Date.now()): boolean {
    const current = this.#health;
    if (current === to || !from.includes(current)) return false;
    this.#health = to;
    this.#downSinceMs = to === 'down' ? nowMs : 0;
    this.#onTransition?.(this, current, to, reason);
    return true;
  }

  /** Active health check verdict. Returns true when the health state changed. */
  setActiveHealth(up: boolean, nowMs = Date.now()): boolean {
    this.#activeUp = up;
    return this.#reconcile(up ? 'health check passing' : 'health check failing', nowMs);
  }

  /** Passive ejection until `untilMs`, or lifted with 0. Returns true when the health state changed. */
  setEjectedUntil(untilMs: number, nowMs = Date.now()): boolean {
    this.#ejectedUntilMs = untilMs;
    return this.#reconcile(untilMs > nowMs ? 'ejected after consecutive failures' : 'ejection ended', nowMs);
  }

  /** Stop taking new pins; existing hard pins and tunnels stay until `deadlineMs`. */
  startDrain(deadlineMs: number): void {
    this.#draining = true;
    this.#drainDeadlineMs = deadlineMs;
  }

  stopDrain(): void {
    this.#draining = false;
    this.#drainDeadlineMs = 0;
  }

  addTunnel(tunnel: Tunnel): void {
    this.#tunnels.add(tunnel);
  }
  removeTunnel(tunnel: Tunnel): void {
    this.#tunnels.delete(tunnel);
  }
  /** Cuts every WebSocket tunnel (drain deadline, removal, shutdown). */
  destroyTunnels(): void {
    for (const tunnel of [...this.#tunnels]) tunnel.destroy();
    this.#tunnels.clear();
  }

  /** Graceful: queued and running requests finish, then connections close. */
  async close(): Promise<void> {
    if (!this.dispatcher.closed) await this.dispatcher.close();
  }

  async destroy(): Promise<void> {
    this.destroyTunnels();
    await this.dispatcher.destroy();
  }

  #reconcile(reason: string, nowMs: number): boolean {
    const up = this.#activeUp && this.#ejectedUntilMs <= nowMs;
    return up ? this.transition(['down'], 'up', reason, nowMs) : this.transition(['up'], 'down', reason, nowMs);
  }
}
