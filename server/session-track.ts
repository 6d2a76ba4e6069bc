// Track streams: the invalidation feed of a client's near cache. A stream holds ids; each hold is
// answered with TRACKING once the store subscription is active (the version read after it), then
// every change is pushed as UPDATED / DELETED, and EXPIRED when a held session's expiry passes.
// When the store's change feed breaks (Redis pub/sub connection lost), every stream gets RESYNC at
// that moment; holds made while it is down are answered once it is back. Protocol: docs/protocol.md,
// "Near cache and version tokens".
import type * as grpc from '@grpc/grpc-js';
import type { TrackEvent } from '../proto/generated/stickless/session/v1/TrackEvent.ts';
import type { TrackRequest__Output } from '../proto/generated/stickless/session/v1/TrackRequest.ts';
import { SessionError } from '../proto/errors.ts';
import { toGrpcStatus } from './errors.ts';
import { ExpiryQueue } from './expiry-queue.ts';
import type { ServerMetrics } from './metrics.ts';
import { requireId, requireNamespace } from './request-validation.ts';
import { hasChangeFeed, type SessionChange, type SessionStore } from './session-store.ts';
import { backlogExceeded } from './stream-backlog.ts';

type TrackCall = grpc.ServerDuplexStream<TrackRequest__Output, TrackEvent>;
type Kind = 'TRACKING' | 'UPDATED' | 'DELETED' | 'EXPIRED' | 'RESYNC';

export interface TrackOptions {
  /** Ids one stream may hold at once; a hold beyond it ends the stream (SESS_ERR_LIMIT_EXCEEDED). */
  maxTrackedIds: number;
  /** Events a stream may queue for a client that does not read them, beyond one per held id (stream-backlog.ts). */
  maxQueuedEvents: number;
  /** Throws UNAUTHENTICATED / PERMISSION_DENIED when the call may not use the namespace. */
  authorize(namespace: string, metadata: grpc.Metadata): void;
}

/** One held id. `answering`: a TRACKING is being prepared and changes wait in `buffered`. */
interface Held {
  stream: TrackStream;
  namespace: string;
  id: string;
  state: 'answering' | 'tracking' | 'released';
  /** Resolves once the store subscription is active. */
  subscribed: Promise<() => Promise<void>>;
  /** The version the client was last told about (TRACKING or UPDATED). */
  version: number;
  expiresAtMs: number;
  buffered: Array<[SessionChange, number]>;
  /** Another hold came while answering: answer once more. */
  again: boolean;
}

/** Every Track stream of one sessiond, and the state of the store's change feed they share. */
export class TrackRegistry {
  #store: SessionStore;
  #options: TrackOptions;
  #metrics: ServerMetrics | undefined;
  #streams = new Set<TrackStream>();
  #feedUp = true;
  /** +1 each time the feed is lost: an answer prepared across a loss is made again. */
  #feedEpoch = 0;
  /** Store clock minus local clock, in ms, from the latest head read. */
  #clockOffsetMs = 0;
  readonly expiry = new ExpiryQueue<Held>((held) => held.stream.checkExpiry(held));

  constructor(store: SessionStore, options: TrackOptions, metrics?: ServerMetrics) {
    this.#store = store;
    this.#options = options;
    this.#metrics = metrics;
    if (hasChangeFeed(store)) store.onChangeFeed((state) => (state === 'lost' ? this.#feedLost() : this.#feedRestored()));
  }

  get store(): SessionStore {
    return this.#store;
  }
  get options(): TrackOptions {
    return this.#options;
  }
  get metrics(): ServerMetrics | undefined {
    return this.#metrics;
  }
  get feedUp(): boolean {
    return this.#feedUp;
  }
  get feedEpoch(): number {
    return this.#feedEpoch;
  }

  /** The store's clock now, estimated from the latest head read. */
  storeNow(): number {
    return Date.now() + this.#clockOffsetMs;
  }

  sawStoreClock(storeNowMs: number): void {
    this.#clockOffsetMs = storeNowMs - Date.now();
  }

  start(call: TrackCall): void {
    const stream = new TrackStream(this, call, () => {
      this.#streams.delete(stream);
      this.#metrics?.addTrackStreams(-1);
    });
    this.#streams.add(stream);
    this.#metrics?.addTrackStreams(1);
  }

  /** Ends every stream with OK status; used when the server shuts down. */
  endAll(): void {
    for (const stream of [...this.#streams]) stream.end();
    this.expiry.stop();
  }

  #feedLost(): void {
    this.#feedUp = false;
    this.#feedEpoch++;
    for (const stream of this.#streams) stream.resync();
  }

  #feedRestored(): void {
    this.#feedUp = true;
    for (const stream of this.#streams) stream.answerPending();
  }
}

class TrackStream {
  #registry: TrackRegistry;
  #call: TrackCall;
  #onDone: () => void;
  /** Keyed by `${namespace}\n${id}` (neither contains a newline). */
  #held = new Map<string, Held>();
  /** Holds to answer once the change feed is back. */
  #pending = new Set<Held>();
  #done = false;

  constructor(registry: TrackRegistry, call: TrackCall, onDone: () => void) {
    this.#registry = registry;
    this.#call = call;
    this.#onDone = onDone;
    call.on('data', (request: TrackRequest__Output) => this.#onRequest(request));
    call.on('end', () => this.end());
    call.on('cancelled', () => this.#finish());
    call.on('close', () => this.#finish());
    call.on('error', () => this.#finish());
  }

  #onRequest(request: TrackRequest__Output): void {
    if (this.#done) return;
    try {
      const namespace = requireNamespace(request.namespace);
      this.#registry.options.authorize(namespace, this.#call.metadata);
      const release = request.release.map((id, i) => requireId(id, `release[${i}]`));
      const hold = request.hold.map((id, i) => requireId(id, `hold[${i}]`));
      for (const id of release) this.#release(namespace, id);
      const added = new Set(hold.filter((id) => !this.#held.has(`${namespace}\n${id}`))).size;
      const max = this.#registry.options.maxTrackedIds;
      if (this.#held.size + added > max) {
        throw new SessionError('SESS_ERR_LIMIT_EXCEEDED', `hold: the stream would hold ${this.#held.size + added} ids, more than maxTrackedIds (${max}); release ids or keep fewer copies (nearCache.maxEntries)`);
      }
      for (const id of hold) this.#hold(namespace, id);
    } catch (error) {
      this.fail(error);
    }
  }

  #hold(namespace: string, id: string): void {
    const key = `${namespace}\n${id}`;
    const existing = this.#held.get(key);
    if (existing) {
      if (existing.state === 'answering') existing.again = true;
      else this.#answer(existing);
      return;
    }
    const held: Held = { stream: this, namespace, id, state: 'answering', subscribed: undefined!, version: 0, expiresAtMs: 0, buffered: [], again: false };
    held.subscribed = this.#subscribe(held);
    this.#held.set(key, held);
    this.#registry.metrics?.addTrackedIds(1);
    this.#answer(held);
  }

  /** Sends TRACKING (or DELETED) for `held` once subscribed, then any change that came meanwhile. */
  #answer(held: Held): void {
    held.state = 'answering';
    if (!this.#registry.feedUp) {
      this.#pending.add(held);
      return;
    }
    const epoch = this.#registry.feedEpoch;
    const { store } = this.#registry;
    // A subscription that failed (the feed broke under it) is made again.
    held.subscribed = held.subscribed.catch(() => this.#subscribe(held));
    held.subscribed
      .then(() => store.head(held.namespace, held.id))
      .then(({ head, nowMs }) => {
        if (held.state === 'released' || this.#done) return;
        this.#registry.sawStoreClock(nowMs);
        if (epoch !== this.#registry.feedEpoch || !this.#registry.feedUp) return this.#answer(held);
        if (!head) {
          this.#send(held, 'DELETED', 0, 0, nowMs);
          return this.#drop(held);
        }
        held.state = 'tracking';
        held.version = head.version;
        this.#send(held, 'TRACKING', head.version, head.expiresAtMs, nowMs);
        this.#watchExpiry(held, head.expiresAtMs);
        const buffered = held.buffered;
        held.buffered = [];
        for (const [change, changedAtMs] of buffered) this.#onChange(held, change, changedAtMs);
        if (held.again && held.state === 'tracking') {
          held.again = false;
          this.#answer(held);
        }
      })
      .catch((error: unknown) => {
        // The feed broke under the subscription: answered once it is back. Anything else ends the
        // stream (UNAVAILABLE when the store is unreachable), which the client treats as a resync.
        if (held.state === 'released' || this.#done) return;
        if (epoch !== this.#registry.feedEpoch || !this.#registry.feedUp) return this.#answer(held);
        this.fail(error);
      });
  }

  #subscribe(held: Held): Promise<() => Promise<void>> {
    const subscribed = this.#registry.store.subscribe(held.namespace, held.id, (change, changedAtMs) => this.#onChange(held, change, changedAtMs));
    subscribed.catch(() => {}); // awaited in #answer
    return subscribed;
  }

  #onChange(held: Held, change: SessionChange, changedAtMs: number): void {
    if (held.state === 'released' || this.#done) return;
    if (held.state === 'answering') {
      held.buffered.push([change, changedAtMs]);
      return;
    }
    const at = changedAtMs || this.#registry.storeNow();
    if (change.kind === 'deleted') {
      // A deletion of an older incarnation (the id was created again above it) is not this copy's.
      if (change.version < held.version) return;
      this.#send(held, 'DELETED', change.version, 0, at);
      return this.#drop(held);
    }
    if (change.version <= held.version) return;
    held.version = change.version;
    this.#send(held, 'UPDATED', change.version, change.expiresAtMs, at);
    this.#watchExpiry(held, change.expiresAtMs);
  }

  #watchExpiry(held: Held, expiresAtMs: number): void {
    if (held.state === 'released') return; // the event just sent ended the stream (stream-backlog.ts)
    held.expiresAtMs = expiresAtMs;
    // Local time of the store-clock expiry; the check re-reads, so early is harmless.
    this.#registry.expiry.schedule(held, expiresAtMs - (this.#registry.storeNow() - Date.now()));
  }

  /** Called by the expiry queue once `held`'s known expiry has passed: EXPIRED when it is gone. */
  checkExpiry(held: Held): void {
    if (held.state !== 'tracking' || this.#done) return;
    this.#registry.store.head(held.namespace, held.id).then(({ head, nowMs }) => {
      if (held.state !== 'tracking' || this.#done) return;
      this.#registry.sawStoreClock(nowMs);
      if (!head) {
        this.#send(held, 'EXPIRED', held.version, held.expiresAtMs, nowMs);
        return this.#drop(held);
      }
      // Touched or slid meanwhile (that publishes nothing): look again at the new expiry.
      this.#watchExpiry(held, head.expiresAtMs);
    }, () => this.#watchExpiry(held, held.expiresAtMs + 1000)); // store unreachable: look again later
  }

  /** The change feed broke: every copy may be stale. Holds keep their subscriptions. */
  resync(): void {
    if (this.#done) return;
    this.#registry.metrics?.countTrackEvent('RESYNC');
    const nowMs = this.#registry.storeNow();
    this.#write({ kind: 'RESYNC', namespace: '', id: '', version: 0, expiresAtMs: 0, changedAtMs: nowMs, nowMs });
  }

  answerPending(): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const held of pending) if (held.state === 'answering') this.#answer(held);
  }

  #send(held: Held, kind: Kind, version: number, expiresAtMs: number, changedAtMs: number): void {
    if (this.#done) return;
    this.#registry.metrics?.countTrackEvent(kind);
    this.#write({ kind, namespace: held.namespace, id: held.id, version, expiresAtMs, changedAtMs, nowMs: this.#registry.storeNow() });
  }

  /** Writes one event, or ends the stream when the client has left too many unread. */
  #write(event: TrackEvent): void {
    // Every held id may owe one answer at once (a re-hold of all after RESYNC); changes come on top.
    const { maxQueuedEvents } = this.#registry.options;
    const exceeded = backlogExceeded(this.#call, this.#held.size + maxQueuedEvents, 'Track', () => `maxQueuedEvents (${maxQueuedEvents}) plus one per held id (${this.#held.size})`);
    if (exceeded) return this.fail(exceeded);
    this.#call.write(event);
  }

  #release(namespace: string, id: string): void {
    const held = this.#held.get(`${namespace}\n${id}`);
    if (held) this.#drop(held);
  }

  /** Stops tracking `held`: no event is sent for it any more. */
  #drop(held: Held): void {
    if (held.state === 'released') return;
    held.state = 'released';
    held.buffered = [];
    this.#held.delete(`${held.namespace}\n${held.id}`);
    this.#pending.delete(held);
    this.#registry.expiry.cancel(held);
    this.#registry.metrics?.addTrackedIds(-1);
    held.subscribed.then((unsubscribe) => unsubscribe(), () => {}).catch(() => {});
  }

  end(): void {
    if (this.#done) return;
    this.#call.end();
    this.#finish();
  }

  fail(error: unknown): void {
    if (this.#done) return;
    this.#call.emit('error', toGrpcStatus(error));
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    for (const held of [...this.#held.values()]) this.#drop(held);
    this.#done = true;
    this.#onDone();
  }
}
