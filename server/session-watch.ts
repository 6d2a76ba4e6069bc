// Watch streams: one store subscription per stream, a snapshot first, then changes in version order.
// Expiry publishes nothing in the store, so each stream re-reads the session when its known expiry
// passes and reports EXPIRED when it is gone. A subscription gap (store reconnect) is bridged by a
// re-read that reports the current version, so callers see the jump and can resynchronise.
import type * as grpc from '@grpc/grpc-js';
import type { WatchEvent } from '../proto/generated/stickless/session/v1/WatchEvent.ts';
import type { WatchRequest__Output } from '../proto/generated/stickless/session/v1/WatchRequest.ts';
import { toGrpcStatus } from './errors.ts';
import type { ServerMetrics } from './metrics.ts';
import type { SessionChange, SessionStore } from './session-store.ts';
import { backlogExceeded } from './stream-backlog.ts';

type WatchCall = grpc.ServerWritableStream<WatchRequest__Output, WatchEvent>;

/** Slack after a known expiry before re-reading, so Redis has surely expired the key. */
const EXPIRY_RECHECK_SLACK_MS = 25;

export class WatchRegistry {
  #store: SessionStore;
  #maxQueuedEvents: number;
  #metrics: ServerMetrics | undefined;
  #active = new Set<SessionWatch>();

  /** `maxQueuedEvents`: events one stream may queue for a client that does not read them (stream-backlog.ts). */
  constructor(store: SessionStore, maxQueuedEvents: number, metrics?: ServerMetrics) {
    this.#store = store;
    this.#maxQueuedEvents = maxQueuedEvents;
    this.#metrics = metrics;
  }

  start(namespace: string, id: string, call: WatchCall): void {
    const watch = new SessionWatch(this.#store, namespace, id, call, this.#maxQueuedEvents, () => {
      this.#active.delete(watch);
      this.#metrics?.addWatchStreams(-1);
    });
    this.#active.add(watch);
    this.#metrics?.addWatchStreams(1);
    watch.run().catch((error: unknown) => watch.fail(error));
  }

  /** Ends every stream with OK status; used when the server shuts down. */
  endAll(): void {
    for (const watch of [...this.#active]) watch.end();
  }
}

class SessionWatch {
  #store: SessionStore;
  #namespace: string;
  #id: string;
  #call: WatchCall;
  #onDone: () => void;
  #maxQueuedEvents: number;
  #lastVersion = 0;
  #expiresAtMs = 0;
  #pending: SessionChange[] | undefined = [];
  #unsubscribe: (() => Promise<void>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(store: SessionStore, namespace: string, id: string, call: WatchCall, maxQueuedEvents: number, onDone: () => void) {
    this.#maxQueuedEvents = maxQueuedEvents;
    this.#store = store;
    this.#namespace = namespace;
    this.#id = id;
    this.#call = call;
    this.#onDone = onDone;
    call.on('cancelled', () => this.#finish());
    call.on('close', () => this.#finish());
  }

  async run(): Promise<void> {
    // Subscribe before reading, so no change between the read and the subscription is lost.
    this.#unsubscribe = await this.#store.subscribe(this.#namespace, this.#id, (change) => this.#onChange(change), () => this.#resync());
    if (this.#done) return this.#release();
    const snapshot = await this.#store.get(this.#namespace, this.#id);
    if (this.#done) return;
    if (!snapshot) {
      this.#write({ kind: 'DELETED', version: 0, fields: [], expiresAtMs: 0 });
      return this.end();
    }
    this.#lastVersion = snapshot.version;
    this.#write({ kind: 'SNAPSHOT', version: snapshot.version, fields: [...snapshot.fields.keys()], expiresAtMs: snapshot.expiresAtMs });
    this.#armExpiry(snapshot.expiresAtMs);
    const pending = this.#pending ?? [];
    this.#pending = undefined;
    for (const change of pending) this.#onChange(change);
  }

  #onChange(change: SessionChange): void {
    if (this.#done) return;
    if (this.#pending) {
      this.#pending.push(change);
      return;
    }
    if (change.kind === 'deleted') {
      this.#write({ kind: 'DELETED', version: Math.max(change.version, this.#lastVersion), fields: [], expiresAtMs: 0 });
      return this.end();
    }
    if (change.version <= this.#lastVersion) return;
    this.#lastVersion = change.version;
    this.#write({ kind: 'UPDATED', version: change.version, fields: change.fields, expiresAtMs: change.expiresAtMs });
    this.#armExpiry(change.expiresAtMs);
  }

  /** Re-reads after a gap or at the known expiry, and reports what changed meanwhile. */
  #resync(): void {
    if (this.#done || this.#pending) return;
    this.#store.get(this.#namespace, this.#id).then((record) => {
      if (this.#done) return;
      if (!record) {
        const expired = Date.now() >= this.#expiresAtMs;
        this.#write({ kind: expired ? 'EXPIRED' : 'DELETED', version: this.#lastVersion, fields: [], expiresAtMs: expired ? this.#expiresAtMs : 0 });
        return this.end();
      }
      if (record.version > this.#lastVersion) {
        this.#lastVersion = record.version;
        this.#write({ kind: 'UPDATED', version: record.version, fields: [...record.fields.keys()], expiresAtMs: record.expiresAtMs });
      }
      this.#armExpiry(record.expiresAtMs);
    }, () => this.#armExpiry(Date.now() + 1000)); // store unreachable: look again shortly
  }

  #armExpiry(expiresAtMs: number): void {
    if (this.#done) return; // a write just ended the stream (stream-backlog.ts)
    this.#expiresAtMs = expiresAtMs;
    clearTimeout(this.#timer);
    const delay = Math.max(0, expiresAtMs - Date.now()) + EXPIRY_RECHECK_SLACK_MS;
    // Timers past 2^31 ms overflow to 1 ms; a day is far beyond any realistic watch between events.
    this.#timer = setTimeout(() => this.#resync(), Math.min(delay, 86_400_000));
  }

  #write(event: WatchEvent): void {
    if (this.#done) return;
    const exceeded = backlogExceeded(this.#call, this.#maxQueuedEvents, 'Watch', () => `maxQueuedEvents, ${this.#maxQueuedEvents}`);
    if (exceeded) return this.fail(exceeded);
    this.#call.write(event);
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
    this.#done = true;
    clearTimeout(this.#timer);
    this.#onDone();
    void this.#release();
  }

  async #release(): Promise<void> {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    await unsubscribe?.().catch(() => {});
  }
}
