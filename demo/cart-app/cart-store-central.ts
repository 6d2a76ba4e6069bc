// Carts in sessiond through the stickless client: any replica serves any cart, and concurrent adds
// from two tabs (or two replicas) never lose each other, because each add is one atomic increment.
// Layout in the session: one integer field per product, `qty:<sku>`.
import { SessionClient, SessionError, type SessionSnapshot } from '../../client/index.ts';
import { UnknownSessionError, type Cart, type CartStore, type CartView } from './cart-store.ts';

const QTY = 'qty:';
/** A demo cart lives for a day of inactivity. */
const CART_TTL_MS = 24 * 3_600_000;

export class CentralCartStore implements CartStore {
  readonly mode = 'central' as const;
  #client: SessionClient;

  constructor(address: string, namespace = 'shop') {
    this.#client = new SessionClient({ address, namespace, deadlineMs: 3000 });
  }

  async load(sessionId: string | undefined): Promise<CartView> {
    if (sessionId !== undefined && /^[A-Za-z0-9_-]{43}$/.test(sessionId)) {
      const snapshot = await this.#client.get(sessionId, { slide: true });
      if (snapshot) return { sessionId, cart: toCart(snapshot.fields), unknownSession: false };
    }
    const created = await this.#client.create({}, { ttlMs: CART_TTL_MS });
    return { sessionId: created.id, cart: {}, unknownSession: sessionId !== undefined };
  }

  async add(sessionId: string, sku: string, quantity: number): Promise<Cart> {
    return this.#mutate(() => this.#client.patch(sessionId, [{ increment: QTY + sku, by: quantity }]));
  }

  async remove(sessionId: string, sku: string): Promise<Cart> {
    return this.#mutate(() => this.#client.patch(sessionId, [{ delete: QTY + sku }]));
  }

  async checkout(sessionId: string): Promise<Cart> {
    let ordered: Cart = {};
    await this.#mutate(() =>
      this.#client.update(sessionId, (fields) => {
        ordered = toCart(fields);
        return Object.fromEntries(Object.entries(fields).filter(([name]) => !name.startsWith(QTY)));
      }),
    );
    return ordered;
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  async #mutate(run: () => Promise<SessionSnapshot>): Promise<Cart> {
    try {
      return toCart((await run()).fields);
    } catch (error) {
      if (error instanceof SessionError && error.code === 'SESS_ERR_NOT_FOUND') throw new UnknownSessionError();
      throw error;
    }
  }
}

function toCart(fields: Record<string, unknown>): Cart {
  const cart: Cart = {};
  for (const [name, value] of Object.entries(fields)) {
    if (name.startsWith(QTY) && typeof value === 'number' && value > 0) cart[name.slice(QTY.length)] = value;
  }
  return cart;
}
