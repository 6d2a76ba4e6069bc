// The immutable route table: every route with its policy, its pool, its pin codec and its
// counters, plus the router over them. Rebuilt on reload and on a runtime mode change; a request
// reads the table it started with. The per-request work lives in RouteEntry.decide().
import type { IncomingHttpHeaders } from 'node:http';
import { AffinityCookie, readCookieValue, type Pin } from './affinity-cookie.ts';
import { decideAffinity, type AffinityCandidate, type AffinityDecision, type AffinityPolicy } from './affinity.ts';
import { LearnedPin } from './learned-pin.ts';
import type { AffinityMode, ProxyConfig, RouteConfig } from './config-schema.ts';
import { hashString, rendezvousPick } from './rendezvous.ts';
import { Router } from './router.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamPool } from './upstream-pool.ts';

/** Per-route counters; they outlive table rebuilds (kept by route name). */
export interface RouteCounters {
  requests: number;
  /** Envoy's stateful-session outcomes. */
  routed: number;
  failedOpen: number;
  failedClosed: number;
  /** x-stickless-affinity values sent. */
  new: number;
  hit: number;
  moved: number;
  none: number;
}

export function createRouteCounters(): RouteCounters {
  return { requests: 0, routed: 0, failedOpen: 0, failedClosed: 0, new: 0, hit: 0, moved: 0, none: 0 };
}

/** A decision plus what the response needs to say about it. */
export type RouteDecision = AffinityDecision<Upstream> & {
  /** Set-Cookie value to send with the response, if any. */
  readonly setCookie: string | undefined;
  /** Rendezvous key hash (header / app-cookie keys), reused when a retry moves the request. */
  readonly keyHash: number | undefined;
  /** Learned keys: puts the backend's own value back into the upstream request headers. */
  readonly rewriteRequest?: ((headers: Record<string, string | string[]>) => void) | undefined;
  /** Learned keys and pinWhen: edits the client response headers (wraps the value, issues the pin). */
  readonly rewriteResponse?: ((headers: Record<string, string | string[]>) => void) | undefined;
};

export class RouteEntry {
  readonly name: string;
  readonly match: RouteConfig['match'];
  readonly config: RouteConfig;
  readonly mode: AffinityMode;
  readonly policy: AffinityPolicy;
  readonly pool: UpstreamPool;
  /** The pin codec (cookie keys only; header and app-cookie keys hash instead, learned keys wrap). */
  readonly cookie: AffinityCookie | undefined;
  /** The learned-pin codec (routes with `learn`). */
  readonly learned: LearnedPin | undefined;
  readonly counters: RouteCounters;
  /** pinWhen: anonymous responses get a pin once they set this cookie. */
  readonly #pinOnCookie: ((headers: Record<string, string | string[]>) => void) | undefined;
  readonly #wrapLearned: ((headers: Record<string, string | string[]>) => void) | undefined;

  constructor(config: RouteConfig, mode: AffinityMode, pool: UpstreamPool, keys: readonly string[], counters: RouteCounters) {
    this.name = config.name;
    this.match = config.match;
    this.config = config;
    this.mode = mode;
    this.policy = { mode, soft: config.soft, hard: config.hard };
    this.pool = pool;
    this.cookie = config.key.type === 'cookie' && config.learn === undefined ? new AffinityCookie(keys, config.cookie, config.name) : undefined;
    this.learned = config.learn === undefined ? undefined : new LearnedPin(keys, config.name, config.learn);
    this.counters = counters;
    const pinWhen = config.pinWhen?.cookie;
    this.#pinOnCookie = pinWhen === undefined || this.cookie === undefined ? undefined : (headers) => this.#pinIfAppCookieSet(headers, pinWhen);
    this.#wrapLearned =
      this.learned === undefined
        ? undefined
        : (headers) => {
            if (this.learned!.wrapResponse(headers, Date.now()) && headers['x-stickless-affinity'] === 'none') headers['x-stickless-affinity'] = 'new';
          };
  }

  /** Same route, another mode (runtime toggle); shares the codec's keys and the counters. */
  withMode(mode: AffinityMode, keys: readonly string[]): RouteEntry {
    return new RouteEntry(this.config, mode, this.pool, keys, this.counters);
  }

  decide(headers: IncomingHttpHeaders, nowMs: number): RouteDecision {
    const snapshot = this.pool.snapshot;
    const picker = snapshot.picker;
    if (this.learned !== undefined) return this.#decideLearned(headers, nowMs);
    if (this.mode === 'none') return this.#finish(decideAffinity({ policy: this.policy, pinned: undefined, nowMs, meanInFlight: 0, balance: () => picker.pick() }), undefined, undefined, nowMs);

    const key = this.config.key;
    if (key.type === 'cookie') {
      const pin = this.cookie!.verifyHeader(headers.cookie, nowMs);
      if (pin === undefined && this.#pinOnCookie !== undefined && readCookieValue(headers.cookie ?? '', this.config.pinWhen!.cookie) === undefined) {
        // pinWhen: anonymous traffic is balanced freely; the response that sets the app's cookie gets the pin.
        const decision = decideAffinity({ policy: { ...this.policy, mode: 'none' }, pinned: undefined, nowMs, meanInFlight: 0, balance: () => picker.pick() });
        return { ...decision, setCookie: undefined, keyHash: undefined, rewriteResponse: this.#pinOnCookie };
      }
      return this.#finish(this.#decidePinned(pin?.backendId, nowMs), pin, undefined, nowMs);
    }

    const value = key.type === 'header' ? headerValue(headers[key.name]) : readCookieValue(headers.cookie ?? '', key.name)?.value;
    if (value === undefined || value === '') {
      // No key to hash: plain balancing, nothing to pin.
      return this.#finish(decideAffinity({ policy: { ...this.policy, mode: 'none' }, pinned: undefined, nowMs, meanInFlight: 0, balance: () => picker.pick() }), undefined, undefined, nowMs);
    }
    const keyHash = hashString(value);
    const decision = decideAffinity({
      policy: this.policy,
      pinned: rendezvousPick(keyHash, snapshot.members),
      nowMs,
      meanInFlight: this.mode === 'soft' ? meanInFlight(picker.candidates) : 0,
      balance: (exclude) => rendezvousPick(keyHash, picker.candidates, (u) => u !== exclude),
    });
    return this.#finish(decision, undefined, keyHash, nowMs);
  }

  /** Another backend for a retry, never one in `tried`; for hashed keys the next in rendezvous order. */
  rebalance(tried: ReadonlySet<Upstream>, keyHash: number | undefined): Upstream | undefined {
    const picker = this.pool.snapshot.picker;
    if (keyHash === undefined) return picker.pick(tried);
    return rendezvousPick(keyHash, picker.candidates, (u) => !tried.has(u));
  }

  /**
   * The affinity decision for a request pinned to `backendId` (undefined: no valid pin). A pin on a
   * backend that left DNS discovery counts as a backend that went down when it left: hard pins
   * get 503 + Retry-After for the route's repinAfterMs (whatever hard.whenDown says), then move.
   */
  #decidePinned(backendId: string | undefined, nowMs: number): AffinityDecision<Upstream> {
    const snapshot = this.pool.snapshot;
    const picker = snapshot.picker;
    let pinned: Upstream | undefined = backendId === undefined ? undefined : snapshot.byId.get(backendId);
    let policy = this.policy;
    if (backendId !== undefined && pinned === undefined) {
      const leftAtMs = this.pool.departedSinceMs(backendId);
      if (leftAtMs !== undefined) {
        const departed: AffinityCandidate = { id: backendId, up: false, draining: false, drainDeadlineMs: 0, downSinceMs: leftAtMs, inFlight: 0 };
        // Only `id` of a refused pin is read (x-stickless-backend); it never reaches the forwarder.
        pinned = departed as Upstream;
        policy = { ...policy, hard: { ...policy.hard, whenDown: 'repin' } };
      }
    }
    return decideAffinity({
      policy,
      pinned,
      nowMs,
      meanInFlight: pinned !== undefined && this.mode === 'soft' ? meanInFlight(picker.candidates) : 0,
      balance: (exclude) => (exclude === undefined ? picker.pick() : picker.pick(new Set([exclude]))),
    });
  }

  /** Routes with `learn`: the request's wrapped value names the backend; the response's value gets wrapped. */
  #decideLearned(headers: IncomingHttpHeaders, nowMs: number): RouteDecision {
    const value = this.learned!.read(headers);
    if (value?.kind === 'pinned') {
      const decision = this.#decidePinned(value.backendId, nowMs);
      return { ...decision, setCookie: undefined, keyHash: undefined, rewriteRequest: (out) => this.learned!.unwrapRequest(out, value), rewriteResponse: this.#wrapLearned };
    }
    if (value?.kind === 'unknown' && this.mode === 'hard') {
      return { kind: 'unavailable', code: 'PRX_ERR_UNKNOWN_LEARNED_PIN', affinity: 'none', upstream: undefined, retryAfterSeconds: undefined, outcome: 'failed_closed', setCookie: undefined, keyHash: undefined };
    }
    // No value, or (soft) one we did not issue: balanced, forwarded as it came.
    const picker = this.pool.snapshot.picker;
    const decision = decideAffinity({ policy: { ...this.policy, mode: 'none' }, pinned: undefined, nowMs, meanInFlight: 0, balance: () => picker.pick() });
    return { ...decision, setCookie: undefined, keyHash: undefined, rewriteResponse: this.#wrapLearned };
  }

  #pinIfAppCookieSet(headers: Record<string, string | string[]>, appCookie: string): void {
    const backendId = headers['x-stickless-backend'];
    const setCookie = headers['set-cookie'];
    if (typeof backendId !== 'string' || backendId === '' || setCookie === undefined || this.mode === 'none') return;
    const lines = Array.isArray(setCookie) ? setCookie : [setCookie];
    const setsIt = lines.some((line) => line.startsWith(`${appCookie}=`) && !line.startsWith(`${appCookie}=;`));
    if (!setsIt) return;
    headers['set-cookie'] = [...lines, this.cookie!.serialize(backendId, Date.now())];
    headers['x-stickless-affinity'] = 'new';
  }

  /** Set-Cookie for a pin on `upstream` (cookie keys, affinity on), else undefined. */
  pinCookie(upstream: Upstream, nowMs: number): string | undefined {
    return this.cookie !== undefined && this.mode !== 'none' ? this.cookie.serialize(upstream.id, nowMs) : undefined;
  }

  #finish(decision: AffinityDecision<Upstream>, pin: Pin | undefined, keyHash: number | undefined, nowMs: number): RouteDecision {
    let setCookie: string | undefined;
    if (decision.kind === 'upstream' && this.cookie !== undefined && this.mode !== 'none') {
      if (decision.repin) setCookie = this.cookie.serialize(decision.upstream.id, nowMs);
      else if (pin !== undefined && this.cookie.needsRefresh(pin, nowMs)) setCookie = this.cookie.serialize(decision.upstream.id, nowMs, pin.startedAtSeconds);
    }
    return { ...decision, setCookie, keyHash };
  }
}

export interface RouteTable {
  readonly router: Router<RouteEntry>;
  readonly byName: ReadonlyMap<string, RouteEntry>;
}

/** Builds the table for `config`; `counters` carries counters across rebuilds. */
export function buildRouteTable(config: Readonly<ProxyConfig>, pools: ReadonlyMap<string, UpstreamPool>, counters: Map<string, RouteCounters>): RouteTable {
  const entries = config.routes.map((route) => {
    let routeCounters = counters.get(route.name);
    if (routeCounters === undefined) counters.set(route.name, (routeCounters = createRouteCounters()));
    return new RouteEntry(route, route.affinity, pools.get(route.pool)!, config.keys, routeCounters);
  });
  return tableOf(entries);
}

/** The table with one route's mode replaced. */
export function withRouteMode(table: RouteTable, name: string, mode: AffinityMode, keys: readonly string[]): RouteTable {
  return tableOf([...table.byName.values()].map((entry) => (entry.name === name ? entry.withMode(mode, keys) : entry)));
}

function tableOf(entries: RouteEntry[]): RouteTable {
  return { router: new Router(entries), byName: new Map(entries.map((e) => [e.name, e])) };
}

function meanInFlight(upstreams: readonly Upstream[]): number {
  if (upstreams.length === 0) return 0;
  let sum = 0;
  for (const u of upstreams) sum += u.inFlight;
  return sum / upstreams.length;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
