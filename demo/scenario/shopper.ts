// One simulated shopper: its own cookie jar, what the shop told it (every acknowledged add and
// order), and a record of every request: when, how long, which replica, what status, cookie bytes.
// Its traffic is a shop's: several page and cart views per add, sometimes two tabs adding at once
// (two requests in flight with one cookie jar), sometimes a checkout. Every add and checkout carries
// an Idempotency-Key, and a failed or unanswered one is retried with the same key.
import { randomUUID } from 'node:crypto';
import { CATALOG } from '../cart-app/catalog.ts';
import type { Cart } from '../cart-app/cart-store.ts';

export interface RequestRecord {
  /** ms since the run started. */
  atMs: number;
  latencyMs: number;
  /** HTTP status, or 0 for a network error / timeout. */
  status: number;
  /** Replica that answered (x-stickless-backend), or '' when none did. */
  replica: string;
  /** Bytes of the Cookie header this request sent. */
  cookieBytes: number;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/** How a shopper behaves; drawn once per shopper from the run's seeded random numbers. */
export interface ShopperHabits {
  /** Page and cart views before each add. */
  viewsPerAdd: number;
  /** Uses two tabs: every third add is two adds sent at once. */
  twoTabs: boolean;
  /** Checks out after every `checkoutEvery` adds (0: never). */
  checkoutEvery: number;
}

const RETRIES = 4;
const RETRY_PAUSE_MS = 250;

export class Shopper {
  readonly records: RequestRecord[] = [];
  /** Everything the shop acknowledged: sku -> quantity, over adds (orders included). */
  readonly acknowledged: Cart = {};
  /** What the shop said it ordered, summed over checkouts. */
  readonly ordered: Cart = {};
  /** Distinct replicas this shopper was served by. */
  readonly replicas = new Set<string>();
  /** Two-tab bursts whose two acknowledged adds left one item fewer than both in the next cart view. */
  concurrentTabLosses = 0;
  /** Reads that showed an older version than this shopper's own last acknowledged change. */
  readYourWritesViolations = 0;
  /** Reads that showed an older version than one this shopper had already seen. */
  monotonicViolations = 0;
  /** Answers that came with a new, empty cart because the shop no longer knew this shopper's cart. */
  cartsReplaced = 0;
  /** The last request that failed, in words (status and code, or why no answer came), for the run's log. */
  lastFailure = 'none';
  readonly habits: ShopperHabits;
  #cookies = new Map<string, string>();
  #baseUrl: string;
  #startedAt: number;
  #adds = 0;
  /** The cart the versions below belong to (its cookie), and what this shopper saw and wrote of it. */
  #cart = { id: '', seen: 0, written: 0 };
  #lastItems = 0;

  constructor(baseUrl: string, startedAt: number, habits: ShopperHabits) {
    this.#baseUrl = baseUrl;
    this.#startedAt = startedAt;
    this.habits = habits;
  }

  /** One round: views, then one add (or two at once from two tabs), sometimes a checkout. */
  async shop(random: () => number, pause: () => Promise<void>): Promise<void> {
    for (let i = 0; i < this.habits.viewsPerAdd; i++) {
      await (i % 2 === 0 ? this.#request('GET', 'products') : this.readCart());
      await pause();
    }
    this.#adds += 1;
    if (this.habits.twoTabs && this.#adds % 3 === 0) {
      const before = this.#lastItems;
      const replies = await Promise.all([this.#add(pick(random)), this.#add(pick(random))]);
      const cart = await this.readCart();
      if (replies.every((r) => r?.status === 200) && cart && countItems(cart) === before + 1) this.concurrentTabLosses += 1;
    } else {
      await this.#add(pick(random));
    }
    if (this.habits.checkoutEvery > 0 && this.#adds % this.habits.checkoutEvery === 0) {
      await pause();
      await this.checkout();
    }
  }

  /** The cart as the shop reports it now (undefined when the request failed). */
  async readCart(): Promise<Cart | undefined> {
    const reply = await this.#request('GET', 'cart');
    return reply?.status === 200 ? (reply.body.cart as Cart) : undefined;
  }

  async checkout(): Promise<void> {
    const reply = await this.#idempotent('checkout', undefined);
    if (reply?.status !== 200) return;
    for (const [sku, n] of Object.entries((reply.body.ordered ?? {}) as Cart)) this.ordered[sku] = (this.ordered[sku] ?? 0) + n;
  }

  /** One add, retried with the same key until the shop answers (or RETRIES attempts failed). */
  async #add(sku: string): Promise<Reply | undefined> {
    const reply = await this.#idempotent('cart/items', { sku });
    if (reply?.status === 200) this.acknowledged[sku] = (this.acknowledged[sku] ?? 0) + 1;
    return reply;
  }

  async #idempotent(path: string, body: unknown): Promise<Reply | undefined> {
    const key = randomUUID();
    let reply: Reply | undefined;
    for (let attempt = 1; attempt <= RETRIES; attempt++) {
      reply = await this.#request('POST', path, body ?? {}, key);
      if (reply && reply.status < 500) return reply;
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS * attempt));
    }
    return reply;
  }

  async #request(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<Reply | undefined> {
    const started = performance.now();
    const cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const record: RequestRecord = { atMs: Date.now() - this.#startedAt, latencyMs: 0, status: 0, replica: '', cookieBytes: Buffer.byteLength(cookie) };
    const before = { ...this.#cart };
    try {
      const response = await fetch(this.#baseUrl + 'api/' + path, {
        method,
        headers: {
          ...(cookie === '' ? {} : { cookie }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      for (const setCookie of response.headers.getSetCookie()) {
        const [pair] = setCookie.split(';');
        const at = pair!.indexOf('=');
        this.#cookies.set(pair!.slice(0, at).trim(), pair!.slice(at + 1).trim());
      }
      const parsed = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      record.status = response.status;
      if (response.status >= 500) this.lastFailure = `${method} ${path} at ${record.atMs} ms: ${response.status} ${failureCode(parsed)}`;
      if (response.status === 200 && parsed.cartLost === true) this.cartsReplaced += 1;
      record.replica = response.headers.get('x-stickless-backend') ?? '';
      if (response.status < 500 && record.replica) this.replicas.add(record.replica);
      if (response.status === 200 && parsed.cart !== undefined) this.#check(parsed, method !== 'GET', before);
      return { status: response.status, body: parsed };
    } catch (error) {
      this.lastFailure = `${method} ${path} at ${record.atMs} ms: no answer (${noAnswer(error)})`;
      return undefined;
    } finally {
      record.latencyMs = performance.now() - started;
      this.records.push(record);
    }
  }

  /**
   * The guarantees, from the version the app returns with every cart (central: the session's
   * version; token: the sealed cart's change count; local: 0, nothing to check). Compared with what
   * this shopper had seen and written before the request started, for the same cart: a new cart
   * (the old one lost) starts over.
   */
  #check(body: Record<string, unknown>, wrote: boolean, before: { id: string; seen: number; written: number }): void {
    this.#lastItems = countItems(body.cart as Cart);
    const version = typeof body.version === 'number' ? body.version : 0;
    const id = this.#cookies.get('cart_central') ?? this.#cookies.get('cart_token') ?? '';
    if (version === 0) return;
    if (id !== this.#cart.id) {
      // Token mode's cookie is the cart itself: it changes with every add, the version carries on.
      const sameCart = id.length > 0 && this.#cookies.has('cart_token') && body.cartLost !== true;
      this.#cart = sameCart ? { ...this.#cart, id } : { id, seen: 0, written: 0 };
      if (!sameCart) before = { id, seen: 0, written: 0 };
    }
    if (body.cartLost !== true) {
      if (version < before.written) this.readYourWritesViolations += 1;
      else if (version < before.seen) this.monotonicViolations += 1;
    }
    this.#cart.seen = Math.max(this.#cart.seen, version);
    if (wrote) this.#cart.written = Math.max(this.#cart.written, version);
  }
}

/** The stable code of an error body: the app's `code`, or the proxy's `error.code`. */
function failureCode(body: Record<string, unknown>): string {
  const nested = body.error as { code?: unknown } | undefined;
  return String(body.code ?? (typeof nested === 'object' ? nested?.code : undefined) ?? 'no code');
}

/** Why a fetch got no answer: its 5 s timeout, or the connection's error code. */
function noAnswer(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'none within 5 s';
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  return String(cause?.code ?? cause?.message ?? (error as Error).message);
}

function pick(random: () => number): string {
  return CATALOG[Math.floor(random() * CATALOG.length)]!.sku;
}

export function countItems(cart: Cart | undefined): number {
  return Object.values(cart ?? {}).reduce((sum, n) => sum + n, 0);
}

/** sku -> a + b. */
export function addCarts(a: Cart, b: Cart | undefined): Cart {
  const sum: Cart = { ...a };
  for (const [sku, n] of Object.entries(b ?? {})) sum[sku] = (sum[sku] ?? 0) + n;
  return sum;
}
