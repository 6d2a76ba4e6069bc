// One shopper of the compose test: talks to the proxy's published port like a browser (keeps the
// cookies it is given) and reads which replica answered. Every request has a deadline.
export interface CartAnswer {
  status: number;
  /** x-replica: `<container hostname>:3000`, the container's short id before the colon. */
  replica: string | undefined;
  body: { cart?: Record<string, number>; items?: number; cartLost?: boolean; error?: { code?: string } | string };
  retryAfter: string | null;
}

export class Shopper {
  readonly #baseUrl: string;
  readonly #cookies = new Map<string, string>();

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl;
  }

  /** GET /<route>/api/cart. A transport error is status 0. */
  cart(route: 'shop' | 'sticky'): Promise<CartAnswer> {
    return this.#request('GET', `/${route}/api/cart`);
  }

  /** POST /<route>/api/cart/items { sku, quantity: 1 }. */
  add(route: 'shop' | 'sticky', sku: string): Promise<CartAnswer> {
    return this.#request('POST', `/${route}/api/cart/items`, JSON.stringify({ sku, quantity: 1 }));
  }

  async #request(method: string, path: string, body?: string): Promise<CartAnswer> {
    const headers: Record<string, string> = { cookie: [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
    if (body) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.#baseUrl + path, { method, headers, body, signal: AbortSignal.timeout(15_000) });
    } catch {
      return { status: 0, replica: undefined, body: {}, retryAfter: null };
    }
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      this.#cookies.set(pair!.slice(0, at).trim(), pair!.slice(at + 1).trim());
    }
    const text = await response.text().catch(() => '');
    let parsed: CartAnswer['body'] = {};
    try {
      parsed = JSON.parse(text) as CartAnswer['body'];
    } catch {
      // not JSON (an HTML error page): keep {}
    }
    return { status: response.status, replica: response.headers.get('x-replica') ?? undefined, body: parsed, retryAfter: response.headers.get('retry-after') };
  }
}

/** The container's short id from an x-replica value (`3f2a9c1b7d4e:3000` → `3f2a9c1b7d4e`). */
export function containerOf(replica: string): string {
  return replica.split(':')[0]!;
}
