// Token mode: the cart itself in an encrypted, signed cookie (cart-token.ts), no store at all. Any
// replica serves any cart and Redis can be down. Its trade-offs are real and shown, not hidden:
// - the cookie grows with the cart: the sealed cart keeps one line per add (sku, quantity, time), as
//   the shop's order history would, so about 35 bytes per add; a cart whose cookie would pass
//   `maxCookieBytes` (4096 by default, what browsers keep of one cookie) is refused with 413
//   CART_COOKIE_TOO_LARGE and no Set-Cookie, never sent as a cookie the browser would drop or cut;
// - two tabs adding at once each get a cookie holding their own add only: the last cookie wins;
// - a replayed old cookie brings the old cart back: nothing can revoke a value the browser holds.
// Exactly-once adds: a lost answer leaves the browser its old cookie, so a retry applies once to the
// old cart; and the sealed cart remembers the last few Idempotency-Keys (hashed) for repeats sent
// with the new cookie.
import { createHash, randomBytes } from 'node:crypto';
import { CartSealer } from './cart-token.ts';
import { CartRequestError, type Cart, type CartState, type CartStore } from './cart-store.ts';

/** The payload inside the cookie. */
interface SealedCart {
  /** Cart id (random), only to tell carts apart in logs and tests. */
  id: string;
  /** Change count: the cart's own version. */
  v: number;
  /** One line per add: [sku, quantity, seconds since the epoch]. */
  lines: Array<[string, number, number]>;
  /** Hashes of the last Idempotency-Keys applied. */
  keys: string[];
  /** Expiry, ms since the epoch (a day after the last change). */
  exp: number;
}

export interface TokenCartStoreOptions {
  /** Secrets (CART_COOKIE_KEYS): the first seals, all open. */
  secrets: readonly string[];
  /** Cookie name, part of what the seal authenticates. */
  cookieName: string;
  /** Largest `name=value` of the cookie, bytes. Default 4096. */
  maxCookieBytes?: number;
}

const CART_TTL_MS = 24 * 3_600_000;
const KEPT_KEYS = 8;

export class TokenCartStore implements CartStore {
  readonly mode = 'token' as const;
  readonly maxCookieBytes: number;
  #sealer: CartSealer;
  #cookieName: string;
  #counts = { opened: 0, rejected: 0, issued: 0, tooLarge: 0, largestCookieBytes: 0 };

  constructor(options: TokenCartStoreOptions) {
    this.#sealer = new CartSealer(options.secrets, options.cookieName);
    this.#cookieName = options.cookieName;
    this.maxCookieBytes = options.maxCookieBytes ?? 4096;
  }

  async load(cookie: string | undefined): Promise<CartState> {
    const sealed = toSealedCart(this.#sealer.open(cookie));
    if (cookie !== undefined && sealed) {
      this.#counts.opened += 1;
      return { cookie, cart: sum(sealed.lines), version: sealed.v, unknownSession: false };
    }
    if (cookie !== undefined) this.#counts.rejected += 1;
    const fresh: SealedCart = { id: randomBytes(9).toString('base64url'), v: 0, lines: [], keys: [], exp: Date.now() + CART_TTL_MS };
    return { ...this.#seal(fresh), unknownSession: cookie !== undefined };
  }

  async add(state: CartState, sku: string, quantity: number, key?: string): Promise<CartState> {
    return this.#change(state, key, (cart) => void cart.lines.push([sku, quantity, Math.floor(Date.now() / 1000)]));
  }

  async remove(state: CartState, sku: string, key?: string): Promise<CartState> {
    return this.#change(state, key, (cart) => void (cart.lines = cart.lines.filter(([s]) => s !== sku)));
  }

  async checkout(state: CartState, key?: string): Promise<{ state: CartState; ordered: Cart }> {
    const ordered = state.cart;
    const repeat = key !== undefined && toSealedCart(this.#sealer.open(state.cookie))?.keys.includes(hashKey(key));
    return { state: await this.#change(state, key, (cart) => void (cart.lines = [])), ordered: repeat ? {} : ordered };
  }

  stats(): Record<string, unknown> {
    return { tokenCookie: { ...this.#counts, maxCookieBytes: this.maxCookieBytes } };
  }

  async close(): Promise<void> {}

  #change(state: CartState, key: string | undefined, change: (cart: SealedCart) => void): Promise<CartState> {
    const cart = toSealedCart(this.#sealer.open(state.cookie));
    if (!cart) throw new Error('token cart: the state does not open (a bug: load() sealed it)');
    if (key !== undefined && cart.keys.includes(hashKey(key))) return Promise.resolve({ ...state, unknownSession: state.unknownSession });
    change(cart);
    cart.v += 1;
    cart.exp = Date.now() + CART_TTL_MS;
    if (key !== undefined) cart.keys = [...cart.keys, hashKey(key)].slice(-KEPT_KEYS);
    return Promise.resolve({ ...this.#seal(cart), unknownSession: state.unknownSession });
  }

  #seal(cart: SealedCart): Omit<CartState, 'unknownSession'> {
    const cookie = this.#sealer.seal(cart);
    const bytes = Buffer.byteLength(`${this.#cookieName}=${cookie}`);
    if (bytes > this.maxCookieBytes) {
      this.#counts.tooLarge += 1;
      throw new CartRequestError(413, 'CART_COOKIE_TOO_LARGE',
        `the cart would need a ${bytes}-byte cookie, over the ${this.maxCookieBytes}-byte limit of one cookie (token mode keeps the cart in the cookie): check out or remove items`);
    }
    this.#counts.issued += 1;
    this.#counts.largestCookieBytes = Math.max(this.#counts.largestCookieBytes, bytes);
    return { cookie, cart: sum(cart.lines), version: cart.v };
  }
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 12);
}

function sum(lines: SealedCart['lines']): Cart {
  const cart: Cart = {};
  for (const [sku, quantity] of lines) cart[sku] = (cart[sku] ?? 0) + quantity;
  return cart;
}

/** The payload when it has the right shape and has not expired. */
function toSealedCart(value: unknown): SealedCart | undefined {
  const cart = value as SealedCart | undefined;
  if (!cart || typeof cart !== 'object' || typeof cart.v !== 'number' || !Array.isArray(cart.lines) || !Array.isArray(cart.keys)) return undefined;
  return typeof cart.exp === 'number' && cart.exp > Date.now() ? cart : undefined;
}
