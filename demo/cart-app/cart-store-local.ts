// Carts in this process's memory: what an app without stickless does. Only the replica that created
// a cart knows it, so it needs a hard-pinning load balancer, and the cart dies with the replica.
import { randomBytes } from 'node:crypto';
import { UnknownSessionError, type Cart, type CartStore, type CartView } from './cart-store.ts';

export class LocalCartStore implements CartStore {
  readonly mode = 'local' as const;
  #carts = new Map<string, Map<string, number>>();

  async load(sessionId: string | undefined): Promise<CartView> {
    const known = sessionId !== undefined && this.#carts.has(sessionId);
    if (sessionId !== undefined && known) return { sessionId, cart: this.#view(sessionId), unknownSession: false };
    const fresh = randomBytes(32).toString('base64url');
    this.#carts.set(fresh, new Map());
    return { sessionId: fresh, cart: {}, unknownSession: sessionId !== undefined };
  }

  async add(sessionId: string, sku: string, quantity: number): Promise<Cart> {
    const cart = this.#cart(sessionId);
    cart.set(sku, (cart.get(sku) ?? 0) + quantity);
    return this.#view(sessionId);
  }

  async remove(sessionId: string, sku: string): Promise<Cart> {
    this.#cart(sessionId).delete(sku);
    return this.#view(sessionId);
  }

  async checkout(sessionId: string): Promise<Cart> {
    const before = this.#view(sessionId);
    this.#cart(sessionId).clear();
    return before;
  }

  async close(): Promise<void> {
    this.#carts.clear();
  }

  #cart(sessionId: string): Map<string, number> {
    const cart = this.#carts.get(sessionId);
    if (!cart) throw new UnknownSessionError();
    return cart;
  }

  #view(sessionId: string): Cart {
    return Object.fromEntries(this.#cart(sessionId));
  }
}
