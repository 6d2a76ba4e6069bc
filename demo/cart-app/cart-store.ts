// Where a replica keeps carts: the seam between the shop and its session mode.
//   local   - an in-process Map: the classic sticky setup; the cart dies with the replica.
//   central - sessiond through the stickless client (near cache on): any replica serves any cart.
//   token   - the cart itself in an encrypted, signed cookie: any replica, no store at all.

/** sku -> quantity. */
export type Cart = Record<string, number>;

export type CartMode = 'local' | 'central' | 'token';

/** A cart as one request sees it. */
export interface CartState {
  /**
   * The value of the cart cookie after this step: the session id (local, central) or the sealed cart
   * (token). The app sets the cookie whenever it differs from what the request sent.
   */
  cookie: string;
  cart: Cart;
  /**
   * Central: the session's version (what the version token carries). Token: the cart's change count
   * (the sealed cart's own version). Local: 0.
   */
  version: number;
  /** True when the request named a cart this store does not know (lost, expired, malformed or foreign). */
  unknownSession: boolean;
}

export interface CartStore {
  readonly mode: CartMode;
  /**
   * The cart the cookie names, or a fresh one when the cookie is absent, malformed, foreign or
   * unknown (never an error for any cookie value). `minVersion`: central mode's verified version token.
   */
  load(cookie: string | undefined, minVersion: number): Promise<CartState>;
  /**
   * Adds `quantity` of `sku`. Concurrent adds count in local and central mode (token mode: last cookie
   * wins). `idempotencyKey`: a repeat with the same key within the store's window changes nothing.
   */
  add(state: CartState, sku: string, quantity: number, idempotencyKey?: string): Promise<CartState>;
  remove(state: CartState, sku: string, idempotencyKey?: string): Promise<CartState>;
  /** Empties the cart and returns what was ordered (a repeat with the same key returns the same order). */
  checkout(state: CartState, idempotencyKey?: string): Promise<{ state: CartState; ordered: Cart }>;
  /** Mode-specific numbers for GET /api/stats (see demo/README.md). */
  stats(): Record<string, unknown>;
  /**
   * How the shop answers `error` when this store threw it because the store itself failed (central
   * mode: sessiond or Redis): 503 while it is unavailable, 500 otherwise, with the store's stable code.
   * Undefined for any other error. A store that never fails that way leaves it out, so the app needs
   * no store's error classes (a local replica never loads the gRPC client).
   */
  failure?(error: unknown): StoreFailure | undefined;
  close(): Promise<void>;
}

export interface StoreFailure {
  status: 500 | 503;
  code: string;
}

/** Thrown when a mutation names a session the store does not know (it expired or was lost meanwhile). */
export class UnknownSessionError extends Error {
  constructor() {
    super('unknown session');
    this.name = 'UnknownSessionError';
  }
}

/** A client's mistake, answered with `status` and a stable `code` (never a 5xx). */
export class CartRequestError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'CartRequestError';
    this.status = status;
    this.code = code;
  }
}
