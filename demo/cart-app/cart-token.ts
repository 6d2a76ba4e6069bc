// The sealed cart of token mode: the cart itself, encrypted and authenticated, as a cookie value.
// AES-256-GCM (node:crypto) under a key derived with HKDF-SHA256 from one of the secrets in
// CART_COOKIE_KEYS. Rotation: the first secret seals, every secret opens, and the sealed value names
// its key (`<keyId>.<iv>.<ciphertext+tag>`, base64url), so a value sealed under a retired secret
// stops opening once that secret is removed from the list. A value that does not open (tampered,
// hand-made, another app's, a removed key) is treated as no cart: never an error.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

interface Key {
  id: string;
  bytes: Buffer;
}

export class CartSealer {
  readonly #keys: Key[];
  readonly #aad: Buffer;

  /** `secrets`: first one seals, all open. `purpose` binds values to one cookie (the AAD). */
  constructor(secrets: readonly string[], purpose: string) {
    if (secrets.length === 0) throw new Error('CartSealer: at least one secret');
    this.#keys = secrets.map((secret) => {
      const bytes = Buffer.from(hkdfSync('sha256', secret, 'stickless-demo', `cart-token ${purpose}`, 32));
      return { id: createHash('sha256').update(bytes).digest('base64url').slice(0, 8), bytes };
    });
    this.#aad = Buffer.from(purpose);
  }

  seal(payload: unknown): string {
    const key = this.#keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
    cipher.setAAD(this.#aad);
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${key.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** The payload, or undefined when the value does not open under any key. */
  open(value: string | undefined): unknown {
    const match = value === undefined ? null : /^([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/.exec(value);
    const key = match && this.#keys.find((k) => k.id === match[1]);
    if (!match || !key) return undefined;
    const body = Buffer.from(match[3]!, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, Buffer.from(match[2]!, 'base64url'));
      decipher.setAAD(this.#aad);
      decipher.setAuthTag(body.subarray(body.length - 16));
      const text = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }
}
