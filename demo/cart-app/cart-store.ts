// Where a replica keeps carts: the seam between the shop and its session mode.
//   local   - an in-process Map: the classic sticky setup; the cart dies with the replica.
//   central - sessiond through the stickless client: any replica serves any cart.

/** sku -> quantity. */
export type Cart = Record<string, number>;

export interface CartView {
  /** The session id to keep in the cookie (new when the request had none or an unknown one). */
  sessionId: string;
  cart: Cart;
  /** True when the request named a session this store does not know (lost or expired). */
  unknownSession: boolean;
}

export interface CartStore {
  readonly mode: 'local' | 'central';
  /** The cart of `sessionId`, creating a session when it is undefined or unknown. */
  load(sessionId: string | undefined): Promise<CartView>;
  /** Adds `quantity` of `sku`; concurrent adds from several replicas all count. */
  add(sessionId: string, sku: string, quantity: number): Promise<Cart>;
  remove(sessionId: string, sku: string): Promise<Cart>;
  /** Empties the cart and returns what was in it. */
  checkout(sessionId: string): Promise<Cart>;
  close(): Promise<void>;
}

/** Thrown when a mutation names a session the store does not know. */
export class UnknownSessionError extends Error {
  constructor() {
    super('unknown session');
    this.name = 'UnknownSessionError';
  }
}
