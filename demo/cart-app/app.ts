// The shop's HTTP surface: an HTML page and a JSON API (documented in demo/README.md). Every response
// names the replica that served it (header `x-replica` and field `replica`), so the dashboard and the
// scenario can see where each request went. Paths work under any prefix (`/shop/api/cart`,
// `/token/api/cart`, `/api/cart`), because the proxy routes by prefix and forwards the path unchanged.
// A client's bad input (a malformed, foreign or stale cookie, a bad body or key) is never a 5xx: a
// 5xx here means the session store failed, and the proxy may rightly count it against this replica.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CATALOG, findProduct } from './catalog.ts';
import { CartRequestError, UnknownSessionError, type Cart, type CartMode, type CartState, type CartStore } from './cart-store.ts';
import { readCookie, readIdempotencyKey, readJson, send, serializeCookie } from './http.ts';
import { renderShopPage } from './page.ts';
import type { VersionCookie } from './version-cookie.ts';

export interface CartAppOptions {
  store: CartStore;
  /** Shown in every response. */
  replicaId: string;
  /** Central mode: version tokens in the signed cookie `cart_central_v` (absent: no version tokens). */
  versionCookie?: VersionCookie | undefined;
}

export interface CartAppStats {
  replica: string;
  mode: CartMode;
  /** Requests served since start. */
  requests: number;
  inFlight: number;
  /** Carts this replica created (a local replica's carts die with it). */
  sessionsCreated: number;
  /** Requests whose cart cookie named no cart this store knows (lost, expired, malformed, foreign). */
  unknownCookies: number;
  startedAtMs: number;
}

/** A day: carts live that long without a change. */
const COOKIE_MAX_AGE_S = 86_400;

export function createCartApp(options: CartAppOptions): Server {
  const { store, replicaId, versionCookie } = options;
  const cookieName = `cart_${store.mode}`;
  const versionName = `cart_${store.mode}_v`;
  const stats: CartAppStats = { replica: replicaId, mode: store.mode, requests: 0, inFlight: 0, sessionsCreated: 0, unknownCookies: 0, startedAtMs: Date.now() };

  async function handleApi(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (req.method === 'GET' && route === 'products') return send(res, 200, { replica: replicaId, products: CATALOG });
    if (req.method === 'GET' && route === 'stats') return send(res, 200, { ...stats, ...store.stats() });
    const sent = readCookie(req, cookieName);
    const minVersion = versionCookie?.verify(readCookie(req, versionName), sent) ?? 0;
    const key = req.method === 'GET' ? undefined : readIdempotencyKey(req);
    let state = await store.load(sent, minVersion);
    let ordered: Cart | undefined;
    if (req.method === 'GET' && route === 'cart') {
      // nothing to change
    } else if (req.method === 'POST' && route === 'cart/items') {
      const body = await readJson(req);
      const sku = typeof body.sku === 'string' ? body.sku : '';
      const quantity = body.quantity === undefined ? 1 : Number(body.quantity);
      if (!findProduct(sku)) throw new CartRequestError(400, 'UNKNOWN_SKU', `sku: unknown product "${sku}" (GET api/products lists them)`);
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 99) throw new CartRequestError(400, 'INVALID_QUANTITY', 'quantity: expected an integer 1..99');
      state = await store.add(state, sku, quantity, key);
    } else if (req.method === 'DELETE' && route.startsWith('cart/items/')) {
      state = await store.remove(state, decodeURIComponent(route.slice('cart/items/'.length)), key);
    } else if (req.method === 'POST' && route === 'checkout') {
      ({ state, ordered } = await store.checkout(state, key));
    } else {
      throw new CartRequestError(404, 'NO_ROUTE', `no route ${req.method} /api/${route}`);
    }
    setCookies(res, sent, minVersion, state);
    const body = { replica: replicaId, mode: store.mode, cart: state.cart, items: countItems(state.cart), totalCents: totalCents(state.cart) };
    const extra = { cartLost: state.unknownSession, version: state.version, minVersion, cookieBytes: Buffer.byteLength(`${cookieName}=${state.cookie}`) };
    send(res, 200, ordered ? { ...body, ordered, orderedCents: totalCents(ordered), ...extra } : { ...body, ...extra });
  }

  function setCookies(res: ServerResponse, sent: string | undefined, minVersion: number, state: CartState): void {
    const cookies: string[] = [];
    if (state.cookie !== sent) {
      if (state.unknownSession || sent === undefined) stats.sessionsCreated += 1;
      cookies.push(serializeCookie(cookieName, state.cookie, store.mode === 'token' ? COOKIE_MAX_AGE_S : undefined));
    }
    if (state.unknownSession) stats.unknownCookies += 1;
    if (versionCookie && (state.version > minVersion || state.cookie !== sent)) {
      cookies.push(serializeCookie(versionName, versionCookie.sign(state.cookie, state.version)));
    }
    if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  }

  const server = createServer((req, res) => {
    stats.requests += 1;
    stats.inFlight += 1;
    res.on('close', () => {
      stats.inFlight -= 1;
    });
    res.setHeader('x-replica', replicaId);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') return send(res, 200, { replica: replicaId, mode: store.mode, status: 'ok' });
    const apiAt = path.indexOf('/api/');
    if (apiAt === -1) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(renderShopPage(store.mode, replicaId));
      return;
    }
    handleApi(req, res, path.slice(apiAt + '/api/'.length)).catch((error: unknown) => {
      res.removeHeader('set-cookie');
      if (error instanceof CartRequestError) return send(res, error.status, { replica: replicaId, code: error.code, error: error.message });
      if (error instanceof UnknownSessionError) return send(res, 409, { replica: replicaId, code: 'CART_GONE', error: 'the cart is gone; reload to start a new one', cartLost: true });
      const failure = store.failure?.(error);
      const message = (error as Error).message;
      if (failure?.status === 503) return send(res, 503, { replica: replicaId, code: failure.code, error: `session store unavailable: ${message}` });
      send(res, 500, { replica: replicaId, code: failure?.code ?? 'INTERNAL', error: message });
    });
  });
  server.keepAliveTimeout = 30_000;
  return server;
}

export function countItems(cart: Cart): number {
  return Object.values(cart).reduce((sum, n) => sum + n, 0);
}

export function totalCents(cart: Cart): number {
  return Object.entries(cart).reduce((sum, [sku, n]) => sum + (findProduct(sku)?.priceCents ?? 0) * n, 0);
}
