// One simulated shopper: its own cookie jar, a cart it believes it has (every add the shop
// acknowledged), and a record of every request: when, how long, which replica, what status.
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
}

export class Shopper {
  readonly records: RequestRecord[] = [];
  /** What the shop acknowledged: sku -> quantity. */
  readonly expected: Cart = {};
  /** Distinct replicas this shopper was served by. */
  readonly replicas = new Set<string>();
  #cookies = new Map<string, string>();
  #baseUrl: string;
  #startedAt: number;

  constructor(baseUrl: string, startedAt: number) {
    this.#baseUrl = baseUrl;
    this.#startedAt = startedAt;
  }

  /** Adds one random product; counts it as expected only when the shop said 200 with it inside. */
  async addRandomItem(random: () => number): Promise<void> {
    const product = CATALOG[Math.floor(random() * CATALOG.length)]!;
    const reply = await this.#request('POST', 'cart/items', { sku: product.sku });
    if (reply?.status === 200) this.expected[product.sku] = (this.expected[product.sku] ?? 0) + 1;
  }

  /** The cart as the shop reports it now (undefined when the request failed). */
  async readCart(): Promise<Cart | undefined> {
    const reply = await this.#request('GET', 'cart');
    return reply?.status === 200 ? (reply.body.cart as Cart) : undefined;
  }

  async #request(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
    const started = performance.now();
    const record: RequestRecord = { atMs: Date.now() - this.#startedAt, latencyMs: 0, status: 0, replica: '' };
    try {
      const response = await fetch(this.#baseUrl + 'api/' + path, {
        method,
        headers: {
          cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      for (const cookie of response.headers.getSetCookie()) {
        const [pair] = cookie.split(';');
        const at = pair!.indexOf('=');
        this.#cookies.set(pair!.slice(0, at).trim(), pair!.slice(at + 1).trim());
      }
      const parsed = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      record.status = response.status;
      record.replica = response.headers.get('x-stickless-backend') ?? '';
      if (response.status < 500 && record.replica) this.replicas.add(record.replica);
      return { status: response.status, body: parsed };
    } catch {
      return undefined;
    } finally {
      record.latencyMs = performance.now() - started;
      this.records.push(record);
    }
  }
}

export function countItems(cart: Cart | undefined): number {
  return Object.values(cart ?? {}).reduce((sum, n) => sum + n, 0);
}

export function sameCart(a: Cart | undefined, b: Cart): boolean {
  if (!a) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if ((a[key] ?? 0) !== (b[key] ?? 0)) return false;
  return true;
}
