// Carts in this process's memory: what an app without stickless does. Only the replica that created
// a cart knows it, so it needs a hard-pinning load balancer, and the cart dies with the replica.
import { randomBytes } from 'node:crypto';
import { UnknownSessionError, type Cart, type CartState, type CartStore } from './cart-store.ts';

interface LocalCart {
  items: Map<string, number>;
  /** Idempotency keys already applied (the last few), with the order a checkout made. */
  applied: Map<string, Cart>;
}

const KEPT_KEYS = 64;

export class LocalCartStore implements CartStore {
  readonly mode = 'local' as const;
  #carts = new Map<string, LocalCart>();

  async load(cookie: string | undefined): Promise<CartState> {
    if (cookie !== undefined && this.#carts.has(cookie)) return this.#state(cookie, false);
    const fresh = randomBytes(32).toString('base64url');
    this.#carts.set(fresh, { items: new Map(), applied: new Map() });
    return this.#state(fresh, cookie !== undefined);
  }

  async add(state: CartState, sku: string, quantity: number, key?: string): Promise<CartState> {
    this.#once(state.cookie, key, (cart) => void cart.items.set(sku, (cart.items.get(sku) ?? 0) + quantity));
    return this.#state(state.cookie, state.unknownSession);
  }

  async remove(state: CartState, sku: string, key?: string): Promise<CartState> {
    this.#once(state.cookie, key, (cart) => void cart.items.delete(sku));
    return this.#state(state.cookie, state.unknownSession);
  }

  async checkout(state: CartState, key?: string): Promise<{ state: CartState; ordered: Cart }> {
    const ordered = this.#once(state.cookie, key, (cart) => {
      const before = Object.fromEntries(cart.items);
      cart.items.clear();
      return before;
    });
    return { state: this.#state(state.cookie, state.unknownSession), ordered: ordered ?? {} };
  }

  stats(): Record<string, unknown> {
    return { carts: this.#carts.size };
  }

  async close(): Promise<void> {
    this.#carts.clear();
  }

  /** Runs `change` unless `key` was applied to this cart already; returns what it (first) returned. */
  #once(id: string, key: string | undefined, change: (cart: LocalCart) => Cart | void): Cart | undefined {
    const cart = this.#carts.get(id);
    if (!cart) throw new UnknownSessionError();
    if (key !== undefined && cart.applied.has(key)) return cart.applied.get(key);
    const result = change(cart) ?? {};
    if (key !== undefined) {
      cart.applied.set(key, result);
      if (cart.applied.size > KEPT_KEYS) cart.applied.delete(cart.applied.keys().next().value!);
    }
    return result;
  }

  /** `unknownSession`: the request's cookie named no cart here, so this one is new (the answer says cartLost). */
  #state(id: string, unknownSession: boolean): CartState {
    const cart = this.#carts.get(id);
    if (!cart) throw new UnknownSessionError();
    return { cookie: id, cart: Object.fromEntries(cart.items), version: 0, unknownSession };
  }
}
