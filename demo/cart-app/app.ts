// The shop's HTTP surface: an HTML page and a JSON API. Every response names the replica that
// served it (header `x-replica` and field `replica`), so the dashboard and the scenario can see where
// each request went. Paths work under any prefix (`/shop/api/cart`, `/sticky/api/cart`, `/api/cart`),
// because the proxy routes by prefix and forwards the path unchanged.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CATALOG, findProduct } from './catalog.ts';
import { UnknownSessionError, type Cart, type CartStore } from './cart-store.ts';
import { renderShopPage } from './page.ts';

export interface CartAppOptions {
  store: CartStore;
  /** Shown in every response. */
  replicaId: string;
}

export interface CartAppStats {
  replica: string;
  mode: 'local' | 'central';
  /** Requests served since start. */
  requests: number;
  inFlight: number;
  /** Carts this replica created (a local replica's carts die with it). */
  sessionsCreated: number;
  startedAtMs: number;
}

const MAX_BODY_BYTES = 4096;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function createCartApp(options: CartAppOptions): Server {
  const { store, replicaId } = options;
  const cookieName = `cart_${store.mode}`;
  const stats: CartAppStats = { replica: replicaId, mode: store.mode, requests: 0, inFlight: 0, sessionsCreated: 0, startedAtMs: Date.now() };

  async function handleApi(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (req.method === 'GET' && route === 'products') return send(res, 200, { replica: replicaId, products: CATALOG });
    if (req.method === 'GET' && route === 'stats') return send(res, 200, stats);
    const view = await store.load(readCookie(req, cookieName));
    if (view.unknownSession || readCookie(req, cookieName) !== view.sessionId) {
      stats.sessionsCreated += 1;
      res.setHeader('set-cookie', `${cookieName}=${view.sessionId}; Path=/; HttpOnly; SameSite=Lax`);
    }
    let cart: Cart = view.cart;
    if (req.method === 'GET' && route === 'cart') {
      // nothing to change
    } else if (req.method === 'POST' && route === 'cart/items') {
      const body = await readJson(req);
      const sku = typeof body.sku === 'string' ? body.sku : '';
      const quantity = body.quantity === undefined ? 1 : Number(body.quantity);
      if (!findProduct(sku)) throw new HttpError(400, `sku: unknown product "${sku}"`);
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 99) throw new HttpError(400, 'quantity: expected an integer 1..99');
      cart = await store.add(view.sessionId, sku, quantity);
    } else if (req.method === 'DELETE' && route.startsWith('cart/items/')) {
      cart = await store.remove(view.sessionId, decodeURIComponent(route.slice('cart/items/'.length)));
    } else if (req.method === 'POST' && route === 'checkout') {
      const ordered = await store.checkout(view.sessionId);
      return send(res, 200, { replica: replicaId, mode: store.mode, ordered, totalCents: totalCents(ordered), cart: {}, cartLost: view.unknownSession });
    } else {
      throw new HttpError(404, `no route ${req.method} /api/${route}`);
    }
    send(res, 200, { replica: replicaId, mode: store.mode, cart, items: countItems(cart), totalCents: totalCents(cart), cartLost: view.unknownSession });
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
      if (error instanceof HttpError) return send(res, error.status, { replica: replicaId, error: error.message });
      if (error instanceof UnknownSessionError) return send(res, 409, { replica: replicaId, error: 'the cart is gone; reload to start a new one', cartLost: true });
      send(res, 503, { replica: replicaId, error: `session store unavailable: ${(error as Error).message}` });
    });
  });
  server.keepAliveTimeout = 30_000;
  return server;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'body: expected a JSON object');
}

export function countItems(cart: Cart): number {
  return Object.values(cart).reduce((sum, n) => sum + n, 0);
}

export function totalCents(cart: Cart): number {
  return Object.entries(cart).reduce((sum, [sku, n]) => sum + (findProduct(sku)?.priceCents ?? 0) * n, 0);
}
