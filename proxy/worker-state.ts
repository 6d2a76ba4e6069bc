// What the primary tells its workers (workers: N): the state that admin calls, health checks and
// DNS discovery change, as one plain snapshot, and what a worker reports back (its counters).
// The primary captures a snapshot from its control-plane proxy; a worker applies it to its own
// pools and route table at once, so every worker agrees with the primary after one message.
import type { AffinityMode, ProxyConfig } from './config-schema.ts';
import type { RouteCounters } from './route-table.ts';
import type { UpstreamSource } from './upstream.ts';
import type { UpstreamPool } from './upstream-pool.ts';

/** One backend as the primary sees it. */
export interface BackendState {
  readonly id: string;
  readonly url: string;
  readonly weight: number;
  readonly source: UpstreamSource;
  /** The active health check's verdict (passive ejection stays per worker). */
  readonly activeUp: boolean;
  readonly draining: boolean;
  /** Wall clock, ms; 0 when not draining. */
  readonly drainDeadlineMs: number;
}

/** Everything a worker needs to route like the primary. */
export interface ProxyState {
  /** Route name → current affinity mode (runtime changes included). */
  readonly routes: Readonly<Record<string, AffinityMode>>;
  /** Pool name → its current members. */
  readonly pools: Readonly<Record<string, readonly BackendState[]>>;
}

/** Counters of one upstream in one worker. */
export interface UpstreamCounters {
  requests: number;
  failures: number;
  ejections: number;
  inFlight: number;
  websockets: number;
  ejectedUntilMs: number;
}

/** What a worker reports when asked (admin views and /metrics sum these). */
export interface WorkerStats {
  routes: Record<string, RouteCounters>;
  upstreams: Record<string, UpstreamCounters>;
  errors: Record<string, number>;
}

/** The side of a proxy that snapshots are read from and applied to (ProxyServer). */
export interface StateHolder {
  poolMap(): ReadonlyMap<string, UpstreamPool>;
  routeModes(): Record<string, AffinityMode>;
  setRouteMode(name: string, mode: AffinityMode): unknown;
}

/** A drain deadline re-applied within this many ms of the current one is the same drain. */
const DEADLINE_SLACK_MS = 1_000;

export function captureState(proxy: StateHolder): ProxyState {
  const pools: Record<string, BackendState[]> = {};
  for (const [name, pool] of proxy.poolMap()) {
    pools[name] = pool.snapshot.members.map((u) => ({
      id: u.id,
      url: u.url,
      weight: u.weight,
      source: u.source,
      activeUp: u.activeUp,
      draining: u.draining,
      drainDeadlineMs: u.draining ? u.drainDeadlineMs : 0,
    }));
  }
  return { routes: proxy.routeModes(), pools };
}

/** Makes `proxy` match `state`: route modes, membership, health verdicts, drains. */
export function applyState(proxy: StateHolder, state: ProxyState): void {
  for (const [name, mode] of Object.entries(state.routes)) proxy.setRouteMode(name, mode);
  for (const [name, pool] of proxy.poolMap()) {
    const members = state.pools[name];
    if (members === undefined) continue;
    const wanted = new Set(members.map((b) => b.id));
    for (const u of pool.snapshot.members) if (!wanted.has(u.id)) pool.remove(u.id);
    for (const b of members) {
      let u = pool.get(b.id);
      if (u !== undefined && (u.url !== b.url || u.weight !== b.weight)) {
        pool.remove(b.id);
        u = undefined;
      }
      u ??= pool.add({ id: b.id, url: b.url, weight: b.weight }, b.source)!;
      if (u.activeUp !== b.activeUp) pool.setStatus(b.id, b.activeUp);
      if (b.draining) {
        if (!u.draining || Math.abs(u.drainDeadlineMs - b.drainDeadlineMs) > DEADLINE_SLACK_MS) pool.drain(b.id, Math.max(0, b.drainDeadlineMs - Date.now()));
      } else if (u.draining) pool.undrain(b.id);
    }
  }
}

/**
 * The configuration a worker runs: the same, minus health checks and DNS discovery (the primary
 * runs those once and sends the results) and the admin listener (the primary's).
 */
export function workerConfig(config: Readonly<ProxyConfig>): ProxyConfig {
  const pools: ProxyConfig['pools'] = {};
  for (const [name, pool] of Object.entries(config.pools)) pools[name] = { ...pool, health: undefined, dns: undefined };
  return { ...config, pools, admin: undefined };
}

/** Sums worker counters into `into` (numbers only, key by key). */
export function addCounters<T extends object>(into: Record<string, T>, from: Readonly<Record<string, T>>): void {
  for (const [key, counters] of Object.entries(from)) {
    const target = (into[key] ??= {} as T) as Record<string, number>;
    for (const [field, value] of Object.entries(counters as Record<string, number>)) {
      target[field] = field === 'ejectedUntilMs' ? Math.max(target[field] ?? 0, value) : (target[field] ?? 0) + value;
    }
  }
}

/** Sums flat counters (errors by code) into `into`. */
export function addNumbers(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}
