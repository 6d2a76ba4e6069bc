// SessionClient: the typed promise API over the generated stub. Deadlines on every call, retries of
// failures that applied nothing (and of outcome-unknown ones for calls safe to repeat), errors
// rehydrated as SessionError.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { SessionServiceClientConstructor, type SessionServiceClient } from '../proto/index.ts';
import { SessionError } from '../proto/errors.ts';
import type {
  CallOptions, CreateOptions, DeleteOptions, GetOptions, MutationCallOptions, RegenerateOptions,
  RevokeByOwnerOptions, TouchOptions, UpdateFunction, UpdateOptions,
} from './call-options.ts';
import { encodeFields } from './codec.ts';
import { conflictChannel, debug, retryChannel, type ConflictMessage, type NearCacheStats, type RetryMessage } from './diagnostics.ts';
import { fromGrpcError, toSessionError } from './errors.ts';
import { resolveClientOptions, type SessionClientInit, type SessionClientOptions } from './options.ts';
import { toFieldOp, type PatchOp } from './patch-op.ts';
import { backoffMs, shouldRetry, withRetry } from './retry.ts';
import { traceCall } from './trace-context.ts';
import {
  fromCachedEntry, toSnapshot, toSummary, type SessionMutationResult, type SessionSnapshot, type SessionSummary, type TouchResult,
} from './session-snapshot.ts';
import { SessionTracker, type NearCacheEntry, type TrackCall } from './session-tracker.ts';
import { CallPipe, PIPE_METHODS, PipelineUnsupported, type PipeMethod } from './call-pipe.ts';
import { readWatchEvents, type WatchEvent, type WatchOptions } from './session-watch.ts';

type UnaryMethod = 'create' | 'get' | 'put' | 'patch' | 'delete' | 'touch' | 'regenerate' | 'listByOwner' | 'revokeByOwner';
type UnaryFn = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<unknown>) => grpc.ClientUnaryCall;
interface SessionReply { session?: Parameters<typeof toSnapshot>[0] | null; replayed?: boolean }

// Backoff between update() rounds: short, since the competing write has already landed.
const CONFLICT_BACKOFF = { initialBackoffMs: 2, maxBackoffMs: 50 };

/**
 * A client of one sessiond namespace over one gRPC channel. Field values are JS values, encoded as
 * standard MessagePack. Every call has a deadline; failures reject with a `SessionError` whose
 * `code` is the server's stable code. Safe for concurrent use; create one per process and namespace.
 *
 * @example
 * const sessions = new SessionClient({ address: '127.0.0.1:50051', namespace: 'shop' });
 * const s = await sessions.create({ cart: [] }, { owner: 'ada', ttlMs: 30 * 60_000 });
 * await sessions.patch(s.id, [{ append: 'cart', value: 'sku-1' }, { increment: 'visits' }]);
 * await sessions.close();
 */
export class SessionClient {
  readonly options: Readonly<SessionClientOptions>;
  #stub: SessionServiceClient;
  #metadata = new grpc.Metadata();
  #inFlight = new Set<Promise<unknown>>();
  #calls = new Set<grpc.ClientUnaryCall>();
  #watches = new Set<grpc.ClientReadableStream<unknown>>();
  #lifecycle = new AbortController();
  #closed = false;
  #tracker: SessionTracker | undefined;
  #pipe: CallPipe | undefined;
  #sliding = new Set<string>();

  constructor(init: SessionClientInit) {
    this.options = resolveClientOptions(init);
    const { address, credentials, channelOptions, token } = this.options;
    this.#stub = new SessionServiceClientConstructor(address, credentials ?? grpc.credentials.createInsecure(), channelOptions);
    if (token !== undefined) this.#metadata.set('authorization', `Bearer ${token}`);
    const { nearCache, namespace } = this.options;
    if (nearCache) {
      const open = (): TrackCall => this.#stub.track(this.#metadata.clone());
      this.#tracker = new SessionTracker({ ...nearCache, namespace, address, open });
    }
    if (this.options.pipeline) this.#pipe = new CallPipe(() => this.#stub.pipeline(this.#metadata.clone()), address);
    debug('client created for %s namespace %s', address, this.options.namespace);
  }

  /** Creates a session with the given fields; returns it with its new id and version 1. */
  async create(fields: Record<string, unknown> = {}, options: CreateOptions = {}): Promise<SessionMutationResult> {
    const idempotencyKey = this.#idempotencyKey(options.idempotencyKey);
    const request = { namespace: this.options.namespace, fields: encodeFields(fields), ttlMs: options.ttlMs ?? 0, owner: options.owner ?? '', id: options.id ?? '', idempotencyKey };
    return this.#mutation('create', request, options, idempotencyKey !== '', undefined);
  }

  /**
   * Reads a session; `undefined` when it does not exist or has expired. With the near cache on, a
   * trusted copy at least `minVersion` new answers with no network call. A session older than
   * `minVersion` rejects with `SESS_ERR_VERSION_BEHIND`, never returns. See {@link GetOptions}.
   */
  async get(id: string, options: GetOptions = {}): Promise<SessionSnapshot | undefined> {
    const minVersion = options.minVersion ?? 0;
    if (!Number.isSafeInteger(minVersion) || minVersion < 0) {
      throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `minVersion: expected an integer >= 0 (a version), got ${String(minVersion)}`);
    }
    const tracker = this.#tracker;
    if (tracker) {
      this.#assertOpen();
      const now = Date.now();
      const entry = tracker.cache.lookup(id, options.fields, minVersion, now);
      if (entry) {
        if (options.slide) this.#slideIfDue(entry, now);
        return fromCachedEntry(entry, options.fields);
      }
    }
    const fields = options.fields ?? [];
    const request = { namespace: this.options.namespace, id, fields, slide: options.slide ?? false, minVersion };
    const sentAtMs = Date.now();
    const reply = await this.#unary<{ found: boolean; session?: SessionReply['session'] }>('get', request, options, true);
    if (!reply.found || !reply.session) {
      tracker?.drop(id);
      return undefined;
    }
    // A sessiond older than min_version would answer with any version: the guarantee is kept here too.
    if (reply.session.version < minVersion) {
      throw new SessionError('SESS_ERR_VERSION_BEHIND', `get: the store holds version ${reply.session.version}, below minVersion ${minVersion} (writes were lost)`, { currentVersion: reply.session.version });
    }
    tracker?.remember(reply.session, sentAtMs, false, options.slide ?? false, fields.length > 0 ? new Set(fields) : undefined);
    return toSnapshot(reply.session);
  }

  /** Replaces all fields of an existing session (never creates one): `SESS_ERR_NOT_FOUND` if missing. */
  async put(id: string, fields: Record<string, unknown>, options: MutationCallOptions = {}): Promise<SessionMutationResult> {
    const mutation = this.#mutationOptions(options);
    const request = { namespace: this.options.namespace, id, fields: encodeFields(fields), options: mutation };
    return this.#mutation('put', request, options, mutation.idempotencyKey !== '', id);
  }

  /** Applies field operations in order, atomically. See {@link PatchOp}. */
  async patch(id: string, ops: readonly PatchOp[], options: MutationCallOptions = {}): Promise<SessionMutationResult> {
    if (!Array.isArray(ops)) throw new SessionError('SESS_ERR_INVALID_ARGUMENT', 'ops: expected an array of operations');
    const mutation = this.#mutationOptions(options);
    const request = { namespace: this.options.namespace, id, ops: ops.map(toFieldOp), options: mutation };
    return this.#mutation('patch', request, options, mutation.idempotencyKey !== '', id);
  }

  /**
   * Deletes a session; false when there was nothing to delete. Retried even when its outcome is
   * unknown, so a delete whose first answer was lost may report false although it deleted the session.
   */
  async delete(id: string, options: DeleteOptions = {}): Promise<boolean> {
    const request = { namespace: this.options.namespace, id, ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }) };
    try {
      return (await this.#unary<{ deleted: boolean }>('delete', request, options, true)).deleted;
    } finally {
      this.#tracker?.drop(id);
    }
  }

  /** Extends a session's expiry without reading or changing it; `undefined` when it does not exist. */
  async touch(id: string, options: TouchOptions = {}): Promise<TouchResult | undefined> {
    const request = { namespace: this.options.namespace, id, ttlMs: options.ttlMs ?? 0 };
    const sentAtMs = Date.now();
    const reply = await this.#unary<{ found: boolean; version: number; expiresAtMs: number }>('touch', request, options, true);
    if (!reply.found) this.#tracker?.drop(id);
    else this.#tracker?.extended(id, reply.expiresAtMs, sentAtMs);
    return reply.found ? { version: reply.version, expiresAtMs: reply.expiresAtMs } : undefined;
  }

  /**
   * Moves the session to a new id, atomically (the old id is gone at once); call it at login against
   * session fixation. Returns the session under its new id.
   */
  async regenerate(id: string, options: RegenerateOptions = {}): Promise<SessionMutationResult> {
    const mutation = this.#mutationOptions(options);
    const request = { namespace: this.options.namespace, id, options: mutation, owner: options.owner ?? '' };
    try {
      return await this.#mutation('regenerate', request, options, mutation.idempotencyKey !== '', id);
    } finally {
      this.#tracker?.drop(id);
    }
  }

  /** The live sessions of one owner, oldest first: metadata and handles, never ids. */
  async listByOwner(owner: string, options: CallOptions = {}): Promise<SessionSummary[]> {
    const reply = await this.#unary<{ sessions: Parameters<typeof toSummary>[0][] }>('listByOwner', { namespace: this.options.namespace, owner }, options, true);
    return reply.sessions.map(toSummary);
  }

  /** Deletes every session of an owner, or only the given handles; returns how many were deleted. */
  async revokeByOwner(owner: string, options: RevokeByOwnerOptions = {}): Promise<number> {
    // Idempotent by nature (the end state is the same), so it is retried without a key; a retry may
    // report fewer revocations than actually happened.
    const request = { namespace: this.options.namespace, owner, handles: options.handles ?? [] };
    return (await this.#unary<{ revoked: number }>('revokeByOwner', request, options, true)).revoked;
  }

  /**
   * Streams the changes of one session: a `SNAPSHOT` first (or `DELETED` if it does not exist), then
   * one event per change in version order, until `DELETED` or `EXPIRED`. The stream has no deadline
   * and is not retried: after an error, `get()` and watch again. Breaking out of the loop or
   * aborting `signal` cancels it; `close()`/`destroy()` of the client end it (the loop just ends).
   */
  watch(id: string, options: WatchOptions = {}): AsyncIterableIterator<WatchEvent> {
    const start = (): grpc.ClientReadableStream<never> => {
      this.#assertOpen();
      const call = this.#stub.watch({ namespace: this.options.namespace, id }, this.#metadata.clone());
      this.#watches.add(call);
      call.on('close', () => this.#watches.delete(call));
      return call as grpc.ClientReadableStream<never>;
    };
    return readWatchEvents(start, options.signal, () => this.#closed);
  }

  /**
   * Read-modify-write with compare-and-set: reads the session, runs `fn` on its fields and writes
   * the result with `expectedVersion`. When another writer got there first, it reads again and
   * reruns `fn`, at most `maxUpdateAttempts` rounds (then the last `SESS_ERR_VERSION_CONFLICT`
   * rejects). `fn` returning `undefined` writes nothing and resolves the current snapshot. A missing
   * session rejects with `SESS_ERR_NOT_FOUND`, one with a field this client cannot decode with
   * `SESS_ERR_UNDECODABLE_FIELD` (see `SessionSnapshot.fieldErrors`). Each get and put has its own deadline.
   */
  async update(id: string, fn: UpdateFunction, options: UpdateOptions = {}): Promise<SessionSnapshot> {
    // After a conflict, read at least the version that won, so a near-cache copy cannot replay the race.
    let minVersion = 0;
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(id, { deadlineMs: options.deadlineMs, minVersion });
      if (!current) throw new SessionError('SESS_ERR_NOT_FOUND', 'update: the session does not exist or has expired');
      // Writing back what fn saw would silently drop a field this client cannot decode.
      const undecodable = Object.values(current.fieldErrors)[0];
      if (undecodable) throw new SessionError(undecodable.code, `update: ${undecodable.message}; overwrite or delete it with patch() first`, { cause: undecodable });
      const next = await fn(current.fields, current);
      if (next === undefined) return current;
      try {
        return await this.put(id, next, { expectedVersion: current.version, ttlMs: options.ttlMs, deadlineMs: options.deadlineMs });
      } catch (error) {
        if (!(error instanceof SessionError) || error.code !== 'SESS_ERR_VERSION_CONFLICT' || attempt >= this.options.maxUpdateAttempts) throw error;
        if (conflictChannel.hasSubscribers) {
          const { namespace, address } = this.options;
          conflictChannel.publish({ method: 'update', attempt, expectedVersion: current.version, currentVersion: error.currentVersion, namespace, address } satisfies ConflictMessage);
        }
        debug('update: conflict at version %d (now %s), round %d', current.version, error.currentVersion, attempt);
        minVersion = Math.max(current.version + 1, error.currentVersion ?? 0);
        await sleep(backoffMs(attempt, CONFLICT_BACKOFF));
      }
    }
  }

  /**
   * Counters of the near cache (hits, misses, invalidations, evictions, resyncs, invalidation lag);
   * `enabled: false` and zeros without one. The same events go to diagnostics_channel
   * (`CLIENT_CHANNELS.invalidation`, `CLIENT_CHANNELS.resync`).
   */
  nearCacheStats(): NearCacheStats {
    return this.#tracker?.stats() ?? {
      enabled: false, entries: 0, bytes: 0, trusted: 0, hits: 0, misses: 0, invalidations: 0, evictions: 0, expirations: 0,
      resyncs: 0, tracking: false, lagMs: { count: 0, p50: 0, p90: 0, p99: 0, max: 0 },
    };
  }

  /** Graceful stop: new calls reject, calls in flight finish, watches are cancelled, the channel closes. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#tracker?.close();
    for (const call of this.#watches) call.cancel();
    await Promise.allSettled([...this.#inFlight]);
    this.#pipe?.close();
    this.#stub.close();
  }

  /** Immediate stop: calls in flight and watches are cancelled, backoffs end, the channel closes. Idempotent. */
  async destroy(): Promise<void> {
    this.#closed = true;
    this.#tracker?.close();
    this.#lifecycle.abort();
    this.#pipe?.destroy();
    for (const call of [...this.#calls, ...this.#watches]) call.cancel();
    this.#stub.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new SessionError('SESS_ERR_INTERNAL', 'the SessionClient is closed');
  }

  /** A mutation whose reply refreshes the near-cache copy; a failure that proves the copy outdated drops it. */
  async #mutation(method: 'create' | 'put' | 'patch' | 'regenerate', request: object, options: CallOptions, safe: boolean, id: string | undefined): Promise<SessionMutationResult> {
    const sentAtMs = Date.now();
    let reply: SessionReply;
    try {
      reply = await this.#unary<SessionReply>(method, request, options, safe);
    } catch (error) {
      const code = (error as SessionError).code;
      if (id !== undefined && (code === 'SESS_ERR_NOT_FOUND' || code === 'SESS_ERR_VERSION_CONFLICT')) this.#tracker?.drop(id);
      throw error;
    }
    const result = toMutationResult(reply);
    if (reply.session) this.#tracker?.remember(reply.session, sentAtMs, !result.replayed, true);
    return result;
  }

  /**
   * A sliding read answered from the cache: the session's expiry still has to move, so a touch goes
   * out in the background once more than half of the last known TTL has passed since sessiond last
   * confirmed an extension (never for a copy whose extension time is unknown more than once at a time).
   */
  #slideIfDue(entry: NearCacheEntry, now: number): void {
    const slidAt = entry.slidAtLocalMs;
    if (slidAt !== undefined && now - slidAt < (entry.expiresAtLocalMs - slidAt) / 2) return;
    if (this.#sliding.has(entry.id)) return;
    this.#sliding.add(entry.id);
    this.touch(entry.id).catch((error: unknown) => debug('sliding touch failed: %s', (error as Error).message)).finally(() => this.#sliding.delete(entry.id));
  }

  #idempotencyKey(explicit: string | undefined): string {
    return explicit ?? (this.options.autoIdempotencyKeys ? randomUUID() : '');
  }

  #mutationOptions(options: MutationCallOptions): { expectedVersion?: number; idempotencyKey: string; ttlMs: number } {
    return {
      ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }),
      idempotencyKey: this.#idempotencyKey(options.idempotencyKey),
      ttlMs: options.ttlMs ?? 0,
    };
  }

  /**
   * One logical call (on the Pipeline stream, or unary): deadline, retries (client/retry.ts `shouldRetry`: not-applied failures
   * always, maybe-applied ones only when `safe` to repeat), SessionError on failure.
   */
  #unary<Res>(method: UnaryMethod, request: object, options: CallOptions, safe: boolean): Promise<Res> {
    this.#assertOpen();
    const deadlineMs = options.deadlineMs ?? this.options.deadlineMs;
    if (!Number.isSafeInteger(deadlineMs) || deadlineMs <= 0) {
      throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `deadlineMs: expected a positive integer (ms), got ${String(deadlineMs)}`);
    }
    const deadline = Date.now() + deadlineMs;
    const { namespace, address, retry } = this.options;
    const metadata = this.#metadata.clone();
    const unaryAttempt = (): Promise<Res> => new Promise<Res>((resolve, reject) => {
      const fn = this.#stub[method] as unknown as UnaryFn;
      try {
        const call: grpc.ClientUnaryCall = fn.call(this.#stub, request, metadata.clone(), { deadline }, (error, reply) => {
          this.#calls.delete(call);
          if (error) reject(fromGrpcError(error, address));
          else resolve(reply as Res);
        });
        this.#calls.add(call);
      } catch (error) {
        // grpc-js throws synchronously for a request it cannot serialize or a channel already shut down.
        reject(toSessionError(error, address));
      }
    });
    // On the Pipeline stream when there is one; unary when sessiond turns out not to have it.
    const pipe = PIPE_METHODS.has(method) ? this.#pipe : undefined;
    const attempt = (): Promise<Res> => {
      if (!pipe?.usable) return unaryAttempt();
      return (pipe.call(method as PipeMethod, request, metadata, deadline) as Promise<Res>)
        .catch((error: unknown) => (error instanceof PipelineUnsupported ? unaryAttempt() : Promise.reject(error)));
    };
    const onRetry = (n: number, error: unknown, delayMs: number): void => {
      const code = (error as SessionError).code;
      debug('%s: attempt %d failed with %s, retrying in %d ms', method, n, code, delayMs);
      if (retryChannel.hasSubscribers) retryChannel.publish({ method, attempt: n, code, delayMs, namespace, address } satisfies RetryMessage);
    };
    const isRetryable = (error: unknown): boolean => shouldRetry(error, safe);
    // One CLIENT span per logical call; its traceparent rides in `metadata` (client/trace-context.ts).
    const pending = traceCall(method, namespace, options, metadata, () => withRetry(attempt, { ...retry, deadline, signal: this.#lifecycle.signal, onRetry }, isRetryable));
    this.#inFlight.add(pending);
    const forget = (): void => void this.#inFlight.delete(pending);
    pending.then(forget, forget);
    return pending;
  }
}

function toMutationResult(reply: SessionReply): SessionMutationResult {
  if (!reply.session) throw new SessionError('SESS_ERR_INTERNAL', 'the server answered a mutation without a session');
  return { ...toSnapshot(reply.session), replayed: reply.replayed ?? false };
}
