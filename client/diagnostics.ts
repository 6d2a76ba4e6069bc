// The client never logs. It publishes what a caller may want to count on diagnostics_channel, and
// traces through `NODE_DEBUG=stickless-client`. Session ids are secrets: neither carries them.
import diagnosticsChannel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import type { SessionErrorCode } from '../proto/errors.ts';

/** Published before each retry of a unary call (`diagnostics_channel.subscribe(name, fn)`). */
export interface RetryMessage {
  /** The client method, e.g. `get`. */
  method: string;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /**
   * Why it failed: `SESS_ERR_SERVICE_UNAVAILABLE`, `SESS_ERR_STORE_UNAVAILABLE` or
   * `SESS_ERR_NOT_ENOUGH_REPLICAS` (nothing applied), or, for calls safe to repeat,
   * `SESS_ERR_OUTCOME_UNKNOWN` or `SESS_ERR_REPLICA_ACK_TIMEOUT`.
   */
  code: SessionErrorCode;
  /** The jittered backoff before the next attempt. */
  delayMs: number;
  namespace: string;
  address: string;
}

/** Published when an `update()` round lost a race and will read again. */
export interface ConflictMessage {
  method: 'update';
  /** The round that conflicted (1 for the first). */
  attempt: number;
  /** The version the round read. */
  expectedVersion: number;
  /** The version the server reported, when it did. */
  currentVersion: number | undefined;
  namespace: string;
  address: string;
}

/** Published for every change sessiond pushed on the near cache's Track stream (UPDATED, DELETED, EXPIRED). */
export interface InvalidationMessage {
  kind: 'UPDATED' | 'DELETED' | 'EXPIRED';
  /** The version after the change. */
  version: number;
  /** True when a cached copy was dropped (false: none held, or it already had this version: an own write). */
  dropped: boolean;
  /** Change committed -> event handled, in ms (see NearCacheStats.lagMs); undefined without a commit time. */
  lagMs: number | undefined;
  namespace: string;
  address: string;
}

/** Published when the near cache stops trusting every copy it holds, and re-checks each. */
export interface ResyncMessage {
  /** `RESYNC`: sessiond's store subscription was interrupted; `stream`: the Track stream broke. */
  reason: 'RESYNC' | 'stream';
  /** Copies that became untrusted. */
  entries: number;
  namespace: string;
  address: string;
}

/** Channel names, for subscribers. */
export const CLIENT_CHANNELS = Object.freeze({
  retry: 'stickless:client:retry',
  conflict: 'stickless:client:conflict',
  invalidation: 'stickless:client:invalidation',
  resync: 'stickless:client:resync',
});

export const retryChannel = diagnosticsChannel.channel(CLIENT_CHANNELS.retry);
export const conflictChannel = diagnosticsChannel.channel(CLIENT_CHANNELS.conflict);
export const invalidationChannel = diagnosticsChannel.channel(CLIENT_CHANNELS.invalidation);
export const resyncChannel = diagnosticsChannel.channel(CLIENT_CHANNELS.resync);

/** What `SessionClient.nearCacheStats()` reports. Counters count since the client was created. */
export interface NearCacheStats {
  /** False when the client has no near cache (every other number is then 0). */
  enabled: boolean;
  /** Copies held now, and their accounted size in bytes (see NearCacheOptions.maxBytes). */
  entries: number;
  bytes: number;
  /** Copies currently trusted (answerable without a network call). */
  trusted: number;
  /** Reads answered from the cache, with no network call. */
  hits: number;
  /** Reads that went to sessiond while the cache was on. */
  misses: number;
  /** Copies dropped because sessiond reported a change (another writer, delete, expiry, revoke, regenerate). */
  invalidations: number;
  /** Copies dropped to stay within maxEntries / maxBytes. */
  evictions: number;
  /** Copies dropped at their expiry. */
  expirations: number;
  /** Times every copy stopped being trusted at once: a RESYNC from sessiond, or a broken Track stream. */
  resyncs: number;
  /** True while the Track stream is open. */
  tracking: boolean;
  /**
   * Invalidation lag in ms: from the change's commit (store clock) to this client handling its event,
   * over the last 4096 UPDATED/DELETED events (own writes included). The store's clock is mapped to
   * the local one with the offset estimated from Track events (error: half the best round trip).
   */
  lagMs: { count: number; p50: number; p90: number; p99: number; max: number };
}

/** The last `capacity` invalidation lags, for percentiles on demand. */
export class LagSamples {
  #samples: Float64Array;
  #next = 0;
  count = 0;

  constructor(capacity = 4096) {
    this.#samples = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    this.count++;
  }

  summary(): NearCacheStats['lagMs'] {
    const n = Math.min(this.count, this.#samples.length);
    if (n === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#samples.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
    return { count: this.count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]! };
  }
}

export const debug = debuglog('stickless-client');
