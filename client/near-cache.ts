// The near cache: copies of sessions this client read or wrote, kept with their version, bounded by
// entries and bytes (least recently used goes first) and expiring no later than the session does.
// It only stores and counts; what may be trusted is decided by SessionTracker (session-tracker.ts),
// and what a read may use by SessionClient (session-client.ts). Field values stay as the MessagePack
// bytes that came over the wire and are decoded on every hit, so a caller that mutates what it got
// never changes the cached copy.

/**
 * Estimated heap cost of one entry beyond its id and field bytes (the entry object, its Map slots,
 * the fields object and one Buffer view per field are counted per field below). Measured with
 * test/client/near-cache-memory.test.ts: 100k entries of 2 small fields stay under the accounted bytes.
 */
export const ENTRY_OVERHEAD_BYTES = 640;
/** Estimated heap cost of one field beyond its name and value bytes (a Buffer view, a property slot). */
export const FIELD_OVERHEAD_BYTES = 150;

/** What a cached copy holds besides its fields (session.proto Session). */
export interface CachedMeta {
  namespace: string;
  createdAtMs: number;
  updatedAtMs: number;
  /** Expiry on the store's clock, as sessiond reported it. */
  expiresAtMs: number;
  owner: string | undefined;
}

export interface NearCacheEntry {
  readonly id: string;
  readonly version: number;
  /** Field name -> stored MessagePack bytes. */
  readonly raw: Readonly<Record<string, Buffer>>;
  /** The fields a filtered read asked for (those absent from `raw` do not exist); undefined: all fields. */
  readonly known: ReadonlySet<string> | undefined;
  readonly meta: CachedMeta;
  /** Local epoch ms after which the copy is never served; never later than the session's expiry. */
  expiresAtLocalMs: number;
  /** True only while the tracker knows every change since `version` would have reached it. */
  trusted: boolean;
  /** Local epoch ms of the last expiry extension sessiond confirmed (write, sliding read, touch). */
  slidAtLocalMs: number | undefined;
  readonly bytes: number;
}

export type RemovalReason = 'evicted' | 'expired' | 'invalidated' | 'replaced' | 'cleared';

/** Counters of one near cache since the client was created. */
export interface NearCacheCounters {
  /** Reads answered from the cache, with no network call. */
  hits: number;
  /** Reads that went to sessiond (no copy, an untrusted or expired one, below `minVersion`, or a field filter it cannot answer). */
  misses: number;
  /** Copies dropped because sessiond said they changed (UPDATED above the copy, DELETED, EXPIRED, or TRACKING above it). */
  invalidations: number;
  /** Copies dropped to stay within `maxEntries` / `maxBytes`. */
  evictions: number;
  /** Copies dropped because they reached their expiry. */
  expirations: number;
}

export interface NearCacheLimits {
  maxEntries: number;
  maxBytes: number;
}

export class NearCache {
  readonly limits: Readonly<NearCacheLimits>;
  readonly counters: NearCacheCounters = { hits: 0, misses: 0, invalidations: 0, evictions: 0, expirations: 0 };
  #entries = new Map<string, NearCacheEntry>();
  #bytes = 0;
  #onRemoved: (id: string, reason: RemovalReason) => void;

  /** `onRemoved` hears of every id that leaves the cache, except when a newer copy replaces it. */
  constructor(limits: NearCacheLimits, onRemoved: (id: string, reason: RemovalReason) => void = () => {}) {
    this.limits = Object.freeze({ ...limits });
    this.#onRemoved = onRemoved;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The entry of `id` without touching recency or counters. */
  peek(id: string): NearCacheEntry | undefined {
    return this.#entries.get(id);
  }

  /**
   * The entry a read may be answered from: present, trusted, not expired, at least `minVersion`,
   * and holding every field asked for. Counts a hit or a miss and marks the entry recently used.
   */
  lookup(id: string, fields: readonly string[] | undefined, minVersion: number, nowMs: number): NearCacheEntry | undefined {
    const entry = this.#entries.get(id);
    if (entry && nowMs >= entry.expiresAtLocalMs) {
      this.remove(id, 'expired');
      this.counters.misses++;
      return undefined;
    }
    if (!entry || !entry.trusted || entry.version < minVersion || !answers(entry, fields)) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry;
  }

  /** Stores a copy (replacing any other of the same id), then evicts down to the limits. False when it alone exceeds `maxBytes`. */
  put(entry: Omit<NearCacheEntry, 'bytes'>): boolean {
    const bytes = sizeOf(entry.id, entry.raw);
    const old = this.#entries.get(entry.id);
    if (old) {
      this.#entries.delete(entry.id);
      this.#bytes -= old.bytes;
    }
    if (bytes > this.limits.maxBytes) {
      if (old) this.#onRemoved(entry.id, 'evicted');
      return false;
    }
    this.#entries.set(entry.id, { ...entry, bytes });
    this.#bytes += bytes;
    for (const [id] of this.#entries) {
      if (this.#entries.size <= this.limits.maxEntries && this.#bytes <= this.limits.maxBytes) break;
      this.remove(id, 'evicted');
    }
    return true;
  }

  /** Drops `id`; counts it under `reason`. */
  remove(id: string, reason: RemovalReason): boolean {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
    if (reason === 'evicted') this.counters.evictions++;
    else if (reason === 'expired') this.counters.expirations++;
    else if (reason === 'invalidated') this.counters.invalidations++;
    this.#onRemoved(id, reason);
    return true;
  }

  /** Every copy becomes untrusted at once (the tracker lost track); returns their ids. */
  untrustAll(): string[] {
    for (const entry of this.#entries.values()) entry.trusted = false;
    return [...this.#entries.keys()];
  }

  ids(): IterableIterator<string> {
    return this.#entries.keys();
  }

  trustedCount(): number {
    let trusted = 0;
    for (const entry of this.#entries.values()) if (entry.trusted) trusted++;
    return trusted;
  }

  /** Drops the copies whose expiry has passed; returns how many. */
  sweep(nowMs: number): number {
    let dropped = 0;
    for (const [id, entry] of this.#entries) {
      if (nowMs >= entry.expiresAtLocalMs && this.remove(id, 'expired')) dropped++;
    }
    return dropped;
  }

  clear(): void {
    for (const id of [...this.#entries.keys()]) this.remove(id, 'cleared');
  }
}

function answers(entry: NearCacheEntry, fields: readonly string[] | undefined): boolean {
  if (entry.known === undefined) return true;
  if (fields === undefined || fields.length === 0) return false;
  for (const name of fields) if (!entry.known.has(name)) return false;
  return true;
}

/**
 * Field bytes in one allocation of their own. What grpc-js hands out are views into its receive
 * buffers, which may be far larger than the session: a cached view would keep all of it alive.
 */
export function compactFields(raw: Readonly<Record<string, Uint8Array>>): Record<string, Buffer> {
  let total = 0;
  for (const name in raw) total += raw[name]!.length;
  const block = Buffer.allocUnsafeSlow(total);
  const fields: Record<string, Buffer> = {};
  let offset = 0;
  for (const name in raw) {
    const bytes = raw[name]!;
    block.set(bytes, offset);
    fields[name] = block.subarray(offset, offset + bytes.length);
    offset += bytes.length;
  }
  return fields;
}

/** The bytes an entry is accounted for: its id, field names and values, and the fixed overheads. */
export function sizeOf(id: string, raw: Readonly<Record<string, Buffer>>): number {
  let bytes = ENTRY_OVERHEAD_BYTES + id.length;
  for (const name in raw) bytes += FIELD_OVERHEAD_BYTES + name.length + raw[name]!.length;
  return bytes;
}

/**
 * The offset between the store's clock and this process's, bounded from above. A local expiry
 * computed as `storeExpiry - upperBound` is never later than the session's own: each sample pairs a
 * store time with a local time taken before the store read its clock (when the request was sent).
 * Receive times bound it from below; their midpoint estimates when a change was committed, locally.
 */
export class StoreClock {
  #upper = Number.POSITIVE_INFINITY;
  #lower = Number.NEGATIVE_INFINITY;

  /** `storeMs` was read by the store after `sentLocalMs` and before `receivedLocalMs` (local clock). */
  observe(storeMs: number, sentLocalMs: number, receivedLocalMs?: number): void {
    if (!(storeMs > 0)) return;
    this.#upper = Math.min(this.#upper, storeMs - sentLocalMs);
    if (receivedLocalMs !== undefined) this.#lower = Math.max(this.#lower, storeMs - receivedLocalMs);
  }

  /** Local epoch ms no later than the store's `storeMs`; undefined before any sample. */
  toLocalNoLater(storeMs: number): number | undefined {
    return Number.isFinite(this.#upper) ? storeMs - this.#upper : undefined;
  }

  /** Best estimate of the local time of the store's `storeMs` (the midpoint of the bounds). */
  toLocal(storeMs: number): number {
    if (!Number.isFinite(this.#upper)) return storeMs;
    const offset = Number.isFinite(this.#lower) && this.#lower <= this.#upper ? (this.#upper + this.#lower) / 2 : this.#upper;
    return storeMs - offset;
  }
}
