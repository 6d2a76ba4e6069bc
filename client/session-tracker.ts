// Keeps the near cache honest: one Track stream (session.proto, Track) on which this client names
// the sessions it holds a copy of, and hears of every change to them. A copy is trusted (answerable
// with no network call) only from a TRACKING event at its exact version until the next event that
// says otherwise. A RESYNC, or a broken stream, makes every copy untrusted at once; the stream comes
// back with backoff and every id is held again, so trust returns id by id.
//
// Hold answers: sessiond answers a `hold` with one TRACKING (or DELETED), but folds holds that come
// while one is being answered into a single extra answer, and answers nothing after a `release`. So
// an id has at most one hold unanswered here (a re-check wanted meanwhile is sent after the answer),
// which pairs every answer with its hold, and an id is released only when no answer is on its way.
// An answer that arrives after a RESYNC was prepared after it (sessiond redoes answers that span a
// feed loss), so it restores trust; ids with no answer on the way are held again.
//
// Idle ids: when an UPDATED drops a trusted copy, the id stays held for a while with the version of
// the last event seen. A reply at or above that version (this client's own write, whose event often
// arrives before its reply, or the re-read after another replica's write) is then current and
// trusted at once: the subscription never stopped, so any later change is still to come.
import type * as grpc from '@grpc/grpc-js';
import type { Session__Output } from '../proto/index.ts';
import type { TrackEvent__Output } from '../proto/generated/stickless/session/v1/TrackEvent.ts';
import type { TrackRequest } from '../proto/generated/stickless/session/v1/TrackRequest.ts';
import {
  debug, invalidationChannel, LagSamples, resyncChannel, type InvalidationMessage, type NearCacheStats, type ResyncMessage,
} from './diagnostics.ts';
import { compactFields, NearCache, StoreClock, type NearCacheEntry, type RemovalReason } from './near-cache.ts';
import { backoffMs } from './retry.ts';

export type TrackCall = grpc.ClientDuplexStream<TrackRequest, TrackEvent__Output>;

export interface SessionTrackerOptions {
  maxEntries: number;
  maxBytes: number;
  namespace: string;
  address: string;
  /** Opens a Track stream (with the client's metadata). */
  open: () => TrackCall;
}

interface HoldState {
  /** Local send time of the unanswered hold, if one is on its way. */
  sentAtMs: number | undefined;
  /** Hold again once the unanswered one is answered (the copy changed meanwhile). */
  recheck: boolean;
}

/** Ids per TrackRequest: 1,000 ids of 43 characters stay far below gRPC's 4 MiB message limit. */
const IDS_PER_MESSAGE = 1000;
const RECONNECT_BACKOFF = { initialBackoffMs: 100, maxBackoffMs: 5000 };
/** Expired copies are dropped, and ids idle this long released, on this interval. */
const SWEEP_INTERVAL_MS = 10_000;
/** Most idle ids held at once (besides the copies): a stream holds at most maxEntries + this many ids. */
export const MAX_IDLE_IDS = 1024;

export class SessionTracker {
  readonly cache: NearCache;
  readonly clock = new StoreClock();
  #options: SessionTrackerOptions;
  #lag = new LagSamples();
  #resyncs = 0;
  #call: TrackCall | undefined;
  #holds = new Map<string, HoldState>();
  /** Held ids without a copy: the version of the last event seen, and since when (local ms). */
  #idle = new Map<string, { version: number; sinceMs: number }>();
  #toHold = new Set<string>();
  #toRelease = new Set<string>();
  #flushQueued = false;
  #failures = 0;
  #reconnect: NodeJS.Timeout | undefined;
  #sweep: NodeJS.Timeout;
  #closed = false;

  constructor(options: SessionTrackerOptions) {
    this.#options = options;
    this.cache = new NearCache(options, (id, reason) => this.#forget(id, reason));
    this.#sweep = setInterval(() => this.#sweepNow(), SWEEP_INTERVAL_MS).unref();
  }

  /**
   * Records a session sessiond just answered with. `sentAtMs` is the local time the call was sent;
   * `committed` is true for a mutation this client made (its updatedAtMs is the commit, after sentAtMs).
   * `known` lists the fields of a filtered read. A copy stays trusted only if the one it replaces was
   * trusted (nothing newer has been pushed since, or it would be gone) and the stream is open.
   */
  remember(session: Session__Output, sentAtMs: number, committed: boolean, slid: boolean, known?: ReadonlySet<string>): void {
    if (this.#closed) return;
    const now = Date.now();
    const old = this.cache.peek(session.id);
    if (old && (old.version > session.version || (old.version === session.version && old.known === undefined && known !== undefined))) return;
    if (committed) this.clock.observe(session.updatedAtMs, sentAtMs, now);
    const expiresAtLocalMs = committed ? sentAtMs + (session.expiresAtMs - session.updatedAtMs) : this.clock.toLocalNoLater(session.expiresAtMs);
    const idle = this.#idle.get(session.id);
    this.#idle.delete(session.id);
    const current = old?.trusted === true || (idle !== undefined && session.version >= idle.version);
    const trusted = current && this.#call !== undefined && expiresAtLocalMs !== undefined;
    this.cache.put({
      id: session.id,
      version: session.version,
      raw: compactFields(session.fields),
      known,
      meta: { namespace: session.namespace, createdAtMs: session.createdAtMs, updatedAtMs: session.updatedAtMs, expiresAtMs: session.expiresAtMs, owner: session.owner === '' ? undefined : session.owner },
      expiresAtLocalMs: expiresAtLocalMs ?? now,
      trusted,
      slidAtLocalMs: committed || slid ? sentAtMs : old?.slidAtLocalMs,
    });
    if (!trusted && this.cache.peek(session.id)) this.#hold(session.id);
  }

  /** A touch (or sliding read) extended the session to `expiresAtMs` (store clock). */
  extended(id: string, expiresAtMs: number, sentAtMs: number): void {
    const entry = this.cache.peek(id);
    const local = this.clock.toLocalNoLater(expiresAtMs);
    if (!entry || local === undefined) return;
    entry.expiresAtLocalMs = local;
    entry.slidAtLocalMs = sentAtMs;
  }

  /** Drops a copy this client knows is gone or outdated (its own delete, a conflict, NOT_FOUND). */
  drop(id: string): void {
    this.cache.remove(id, 'cleared');
  }

  stats(): NearCacheStats {
    const { hits, misses, invalidations, evictions, expirations } = this.cache.counters;
    return {
      enabled: true, entries: this.cache.size, bytes: this.cache.bytes, trusted: this.cache.trustedCount(), hits, misses, invalidations, evictions, expirations,
      resyncs: this.#resyncs, tracking: this.#call !== undefined, lagMs: this.#lag.summary(),
    };
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    clearTimeout(this.#reconnect);
    const call = this.#call;
    this.#call = undefined;
    call?.cancel();
    this.cache.clear();
  }

  #hold(id: string): void {
    const state = this.#holds.get(id);
    if (state?.sentAtMs !== undefined) {
      state.recheck = true;
      return;
    }
    this.#toRelease.delete(id);
    this.#toHold.add(id);
    this.#queueFlush();
  }

  /** The cache let go of `id`: release it once no hold of it is unanswered. */
  #forget(id: string, reason: RemovalReason): void {
    if (reason === 'replaced' || this.#idle.has(id)) return;
    this.#toHold.delete(id);
    const state = this.#holds.get(id);
    if (!state || state.sentAtMs !== undefined) return;
    this.#holds.delete(id);
    this.#toRelease.add(id);
    this.#queueFlush();
  }

  #queueFlush(): void {
    if (this.#flushQueued || this.#closed) return;
    this.#flushQueued = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#closed) return;
    if (!this.#call) {
      if (this.#reconnect === undefined && this.cache.size > 0) this.#connect();
      return;
    }
    const now = Date.now();
    const hold: string[] = [];
    for (const id of this.#toHold) {
      if (!this.cache.peek(id)) continue;
      let state = this.#holds.get(id);
      if (!state) this.#holds.set(id, (state = { sentAtMs: undefined, recheck: false }));
      if (state.sentAtMs !== undefined) continue;
      state.sentAtMs = now;
      hold.push(id);
    }
    const release = [...this.#toRelease];
    this.#toHold.clear();
    this.#toRelease.clear();
    const { namespace } = this.#options;
    for (let i = 0; i < Math.max(hold.length, release.length); i += IDS_PER_MESSAGE) {
      this.#call.write({ namespace, hold: hold.slice(i, i + IDS_PER_MESSAGE), release: release.slice(i, i + IDS_PER_MESSAGE) });
    }
  }

  #connect(): void {
    this.#reconnect = undefined;
    if (this.#closed) return;
    let call: TrackCall;
    try {
      call = this.#options.open();
    } catch (error) {
      debug('track: cannot open the stream: %s', (error as Error).message);
      this.#scheduleReconnect();
      return;
    }
    this.#call = call;
    call.on('data', (event: TrackEvent__Output) => this.#onEvent(event));
    call.on('error', (error: Error) => this.#broken(call, error.message));
    call.on('end', () => this.#broken(call, 'ended by sessiond'));
    // A new stream holds nothing: every copy is named again.
    this.#holds.clear();
    this.#toRelease.clear();
    for (const id of this.cache.ids()) this.#toHold.add(id);
    this.#flush();
  }

  #broken(call: TrackCall, why: string): void {
    if (call !== this.#call) return;
    this.#call = undefined;
    call.cancel();
    debug('track: stream lost (%s)', why);
    // A stream that never answered (sessiond still down) had nothing left to untrust: not a new resync.
    if (this.#failures === 0) this.#resync('stream');
    else this.cache.untrustAll();
    this.#holds.clear();
    this.#idle.clear();
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnect !== undefined) return;
    const delayMs = backoffMs(++this.#failures, RECONNECT_BACKOFF);
    this.#reconnect = setTimeout(() => this.#connect(), delayMs).unref();
  }

  #resync(reason: ResyncMessage['reason']): string[] {
    this.#resyncs++;
    this.#releaseIdle(0);
    const ids = this.cache.untrustAll();
    if (resyncChannel.hasSubscribers) {
      const { namespace, address } = this.#options;
      resyncChannel.publish({ reason, entries: ids.length, namespace, address } satisfies ResyncMessage);
    }
    return ids;
  }

  #onEvent(event: TrackEvent__Output): void {
    this.#failures = 0;
    const received = Date.now();
    switch (event.kind) {
      case 'TRACKING':
        return this.#onTracking(event, received);
      case 'UPDATED':
      case 'DELETED':
      case 'EXPIRED':
        return this.#onChange(event, received);
      case 'RESYNC':
        for (const id of this.#resync('RESYNC')) this.#hold(id);
        return;
      default:
        debug('track: ignored an event of kind %s', event.kind);
    }
  }

  /** Takes the unanswered hold of `id`: its send time, and whether a re-check was asked for meanwhile. */
  #answer(id: string): { sentAtMs: number | undefined; recheck: boolean } {
    const state = this.#holds.get(id);
    const sentAtMs = state?.sentAtMs;
    const recheck = state?.recheck ?? false;
    if (state) {
      state.sentAtMs = undefined;
      state.recheck = false;
    }
    return { sentAtMs, recheck };
  }

  #onTracking(event: TrackEvent__Output, received: number): void {
    const { sentAtMs, recheck } = this.#answer(event.id);
    if (sentAtMs !== undefined) this.clock.observe(event.nowMs, sentAtMs, received);
    const entry = this.cache.peek(event.id);
    if (entry && event.version > entry.version) {
      this.cache.remove(event.id, 'invalidated');
    } else if (entry && event.version === entry.version && sentAtMs !== undefined) {
      entry.trusted = true;
      entry.expiresAtLocalMs = sentAtMs + (event.expiresAtMs - event.nowMs);
    } else if (entry && !entry.trusted && !recheck) {
      // Below the copy, and no newer reply replaced it while this answer was on its way (then it is
      // asked again below): the store lost writes, so the copy is given up.
      this.cache.remove(event.id, 'invalidated');
    }
    if (recheck && this.cache.peek(event.id)?.trusted === false) this.#hold(event.id);
    this.#releaseIfIdle(event.id);
  }

  #onChange(event: TrackEvent__Output, received: number): void {
    const terminal = event.kind !== 'UPDATED';
    // DELETED also answers a hold of a session that does not exist: not a change, so no lag sample.
    const answer = terminal && this.#holds.get(event.id)?.sentAtMs !== undefined;
    if (answer) this.#answer(event.id);
    const entry = this.cache.peek(event.id);
    const stale = entry !== undefined && (terminal || event.version > entry.version);
    const idle = this.#idle.get(event.id);
    if (terminal) this.#idle.delete(event.id);
    else if (idle) idle.version = Math.max(idle.version, event.version);
    else if (stale && entry.trusted && this.#call !== undefined) this.#idle.set(event.id, { version: event.version, sinceMs: received });
    const dropped = stale && this.cache.remove(event.id, 'invalidated');
    const maxIdle = Math.min(this.#options.maxEntries, MAX_IDLE_IDS);
    if (this.#idle.size > maxIdle) this.#releaseIdle(this.#idle.size - maxIdle);
    let lagMs: number | undefined;
    if (!answer && event.kind !== 'EXPIRED' && event.changedAtMs > 0) {
      lagMs = Math.max(0, received - this.clock.toLocal(event.changedAtMs));
      this.#lag.add(lagMs);
    }
    // sessiond stops tracking an id after DELETED or EXPIRED.
    if (terminal && this.#holds.get(event.id)?.sentAtMs === undefined) this.#holds.delete(event.id);
    else this.#releaseIfIdle(event.id);
    if (invalidationChannel.hasSubscribers) {
      const { namespace, address } = this.#options;
      invalidationChannel.publish({ kind: event.kind as InvalidationMessage['kind'], version: event.version, dropped, lagMs, namespace, address } satisfies InvalidationMessage);
    }
  }

  /** Stops holding idle ids: the `count` longest idle (0: all). */
  #releaseIdle(count: number): void {
    const ids = [...this.#idle.keys()].slice(0, count === 0 ? undefined : count);
    for (const id of ids) {
      this.#idle.delete(id);
      this.#releaseIfIdle(id);
    }
  }

  #sweepNow(): void {
    const now = Date.now();
    this.cache.sweep(now);
    let stale = 0;
    for (const { sinceMs } of this.#idle.values()) if (now - sinceMs >= SWEEP_INTERVAL_MS) stale++;
    if (stale > 0) this.#releaseIdle(stale);
  }

  #releaseIfIdle(id: string): void {
    const state = this.#holds.get(id);
    if (state && state.sentAtMs === undefined && !this.cache.peek(id) && !this.#toHold.has(id)) this.#forget(id, 'cleared');
  }
}

export type { NearCacheEntry };
