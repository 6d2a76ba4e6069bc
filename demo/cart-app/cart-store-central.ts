// Carts in sessiond through the stickless client, with its near cache on: any replica serves any
// cart, a replica that served a cart a moment ago reads it with no network call, and concurrent adds
// from two tabs (or two replicas) never lose each other, because each add is one atomic increment.
// Layout in the session: one integer field per product, `qty:<sku>`, and `order:last` (the last
// checkout, so a repeated checkout answers the same order).
import { SessionClient, SessionError, type NearCacheStats, type PatchOp, type SessionMutationResult } from '../../client/index.ts';
import { UnknownSessionError, type Cart, type CartState, type CartStore, type StoreFailure } from './cart-store.ts';

const QTY = 'qty:';
const LAST_ORDER = 'order:last';
/** A demo cart lives for a day of inactivity. */
const CART_TTL_MS = 24 * 3_600_000;
/** sessiond's rule for a session id (server/session-id.ts): 32 bytes as base64url, 43 characters. */
const SESSION_ID = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
/** Codes that mean sessiond or Redis cannot answer now: the shop answers 503 (try again later) instead of 500. */
const UNAVAILABLE = new Set(['SESS_ERR_SERVICE_UNAVAILABLE', 'SESS_ERR_STORE_UNAVAILABLE', 'SESS_ERR_DEADLINE_EXCEEDED', 'SESS_ERR_OUTCOME_UNKNOWN', 'SESS_ERR_NOT_ENOUGH_REPLICAS', 'SESS_ERR_REPLICA_ACK_TIMEOUT']);

export class CentralCartStore implements CartStore {
  readonly mode = 'central' as const;
  #client: SessionClient;
  #replays = 0;
  #versionBehind = 0;

  /** `nearCache: false` (NEAR_CACHE=off) makes every read a call to sessiond, for comparison. */
  constructor(address: string, namespace = 'shop', nearCache = true) {
    this.#client = new SessionClient({ address, namespace, deadlineMs: 10_000, nearCache });
  }

  async load(cookie: string | undefined, minVersion: number): Promise<CartState> {
    if (cookie !== undefined && SESSION_ID.test(cookie)) {
      try {
        const snapshot = await this.#client.get(cookie, { slide: true, minVersion });
        if (snapshot) return { cookie, cart: toCart(snapshot.fields), version: snapshot.version, unknownSession: false };
      } catch (error) {
        if (!(error instanceof SessionError)) throw error;
        // The store lost writes this user saw (a Redis failover): say so with a fresh cart, never the older one.
        if (error.code === 'SESS_ERR_VERSION_BEHIND') this.#versionBehind += 1;
        else if (error.code !== 'SESS_ERR_INVALID_ID' && error.code !== 'SESS_ERR_INVALID_ARGUMENT') throw error;
      }
    }
    const created = await this.#client.create({}, { ttlMs: CART_TTL_MS });
    return { cookie: created.id, cart: {}, version: created.version, unknownSession: cookie !== undefined };
  }

  async add(state: CartState, sku: string, quantity: number, idempotencyKey?: string): Promise<CartState> {
    return this.#state(state, await this.#patch(state.cookie, [{ increment: QTY + sku, by: quantity }], idempotencyKey));
  }

  async remove(state: CartState, sku: string, idempotencyKey?: string): Promise<CartState> {
    return this.#state(state, await this.#patch(state.cookie, [{ delete: QTY + sku }], idempotencyKey));
  }

  async checkout(state: CartState, idempotencyKey?: string): Promise<{ state: CartState; ordered: Cart }> {
    // One conditional patch (empties the cart, keeps the order) retried on a concurrent change.
    let current = state;
    for (let attempt = 1; ; attempt++) {
      const ordered = current.cart;
      const ops: PatchOp[] = [...Object.keys(ordered).map((sku) => ({ delete: QTY + sku })), { set: LAST_ORDER, value: ordered }];
      try {
        const result = await this.#patch(current.cookie, ops, idempotencyKey, current.version);
        const kept = result.fields[LAST_ORDER];
        return { state: this.#state(current, result), ordered: result.replayed && kept && typeof kept === 'object' ? (kept as Cart) : ordered };
      } catch (error) {
        if (!(error instanceof SessionError && error.code === 'SESS_ERR_VERSION_CONFLICT') || attempt >= 8) throw error;
        current = await this.load(current.cookie, (error.currentVersion ?? 0));
      }
    }
  }

  stats(): Record<string, unknown> {
    const cache: NearCacheStats = this.#client.nearCacheStats();
    const reads = cache.hits + cache.misses;
    return {
      nearCache: {
        enabled: cache.enabled, hits: cache.hits, misses: cache.misses, hitRatio: reads === 0 ? null : cache.hits / reads,
        entries: cache.entries, invalidations: cache.invalidations, resyncs: cache.resyncs, tracking: cache.tracking,
      },
      idempotentReplays: this.#replays,
      versionBehind: this.#versionBehind,
    };
  }

  failure(error: unknown): StoreFailure | undefined {
    if (!(error instanceof SessionError)) return undefined;
    return { status: UNAVAILABLE.has(error.code) ? 503 : 500, code: error.code };
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  async #patch(id: string, ops: PatchOp[], idempotencyKey: string | undefined, expectedVersion?: number): Promise<SessionMutationResult> {
    try {
      const result = await this.#client.patch(id, ops, { idempotencyKey, expectedVersion });
      if (result.replayed) this.#replays += 1;
      return result;
    } catch (error) {
      if (error instanceof SessionError && error.code === 'SESS_ERR_NOT_FOUND') throw new UnknownSessionError();
      throw error;
    }
  }

  #state(before: CartState, result: SessionMutationResult): CartState {
    return { cookie: before.cookie, cart: toCart(result.fields), version: result.version, unknownSession: before.unknownSession };
  }
}

function toCart(fields: Record<string, unknown>): Cart {
  const cart: Cart = {};
  for (const [name, value] of Object.entries(fields)) {
    if (name.startsWith(QTY) && typeof value === 'number' && value > 0) cart[name.slice(QTY.length)] = value;
  }
  return cart;
}
