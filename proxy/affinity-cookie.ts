// The signed pin cookie. Only encodes, verifies and serializes; what a pin means is affinity.ts.
//
// Value: `<id>.<issuedAt>.<mac>`
//   id        backend id, base64url (opaque to clients, no proxy-side state)
//   issuedAt  issue time, whole seconds since the epoch, base36
//   mac       first 16 bytes of HMAC-SHA256(key, `<cookie name>|<id>.<issuedAt>`), base64url
// e.g. `set-cookie: stickless=YXBwLTE.t5m1x0.q1Vb6Zp3oQm0hXbVxI1vGg; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax`
//
// The first key signs, every key verifies, so keys rotate by prepending a new one and dropping the
// oldest after one max-age. Binding the cookie name into the MAC makes a value copied from another
// cookie (another route, another deployment) foreign. Instances with the same keys agree on pins.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { CookieConfig } from './config-schema.ts';

const MAC_BYTES = 16;
/**
 * Values of the pin cookie examined per request; later ones are ignored. A browser sends one pin
 * per cookie path, so a few cover every honest client, and a header stuffed with hundreds of
 * forged pins costs at most this many MACs.
 */
export const MAX_PIN_COOKIES = 4;
/** Pins issued this far in the future (clock skew between instances) are still accepted, seconds. */
const MAX_CLOCK_SKEW_SECONDS = 60;
/** Verified values are remembered so a returning client costs one Map lookup, not an HMAC. */
const VERIFIED_CACHE_SIZE = 10_000;

/** A verified pin. */
export interface Pin {
  readonly backendId: string;
  readonly issuedAtSeconds: number;
  /** Signed by a key other than the first: re-issue under the current key. */
  readonly staleKey: boolean;
}

export class AffinityCookie {
  readonly name: string;
  readonly maxAgeSeconds: number;
  readonly #keys: readonly KeyObject[];
  readonly #attributes: string;
  readonly #prefix: string;
  readonly #verified = new Map<string, Pin>();

  /** `keys`: the first signs, all verify. */
  constructor(keys: readonly string[], cookie: CookieConfig) {
    if (keys.length === 0) throw new TypeError('AffinityCookie needs at least one key');
    this.name = cookie.name;
    this.maxAgeSeconds = cookie.maxAgeSeconds;
    // KeyObjects made once: createHmac with a raw Buffer key re-imports it on every call, which cost
    // about 7 µs per MAC on Node 24 (BENCHMARKS.md, cookie insertion).
    this.#keys = keys.map((key) => createSecretKey(Buffer.from(key, 'utf8')));
    this.#prefix = `${cookie.name}|`;
    const sameSite = cookie.sameSite === 'strict' ? 'Strict' : cookie.sameSite === 'lax' ? 'Lax' : 'None';
    // SameSite=None without Secure is rejected by browsers; force Secure then.
    const secure = cookie.secure || cookie.sameSite === 'none';
    this.#attributes = `; Path=${cookie.path}; Max-Age=${cookie.maxAgeSeconds}${secure ? '; Secure' : ''}${cookie.httpOnly ? '; HttpOnly' : ''}; SameSite=${sameSite}`;
  }

  /** Signed cookie value naming `backendId`, issued at `nowMs`. */
  encode(backendId: string, nowMs: number): string {
    const body = `${Buffer.from(backendId, 'utf8').toString('base64url')}.${Math.floor(nowMs / 1000).toString(36)}`;
    return `${body}.${this.#mac(this.#keys[0]!, body).toString('base64url')}`;
  }

  /** Full Set-Cookie header value for a new pin. */
  serialize(backendId: string, nowMs: number): string {
    return `${this.name}=${this.encode(backendId, nowMs)}${this.#attributes}`;
  }

  /**
   * The pin in `value`, or undefined when it is malformed, tampered with, signed by an unknown key,
   * issued for another cookie name, expired (older than maxAgeSeconds) or issued in the future.
   */
  verify(value: string, nowMs: number): Pin | undefined {
    let pin = this.#verified.get(value);
    if (pin === undefined) {
      pin = this.#verifyMac(value);
      if (pin === undefined) return undefined;
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.clear();
      this.#verified.set(value, pin);
    }
    const ageSeconds = nowMs / 1000 - pin.issuedAtSeconds;
    if (ageSeconds > this.maxAgeSeconds || ageSeconds < -MAX_CLOCK_SKEW_SECONDS) return undefined;
    return pin;
  }

  /** True when a hit on `pin` should re-issue the cookie: past half its life, or signed by an old key. */
  needsRefresh(pin: Pin, nowMs: number): boolean {
    return pin.staleKey || nowMs / 1000 - pin.issuedAtSeconds > this.maxAgeSeconds / 2;
  }

  /** The first MAX_PIN_COOKIES values of this cookie in a Cookie header; the first one verified wins. */
  verifyHeader(cookieHeader: string | undefined, nowMs: number): Pin | undefined {
    if (cookieHeader === undefined) return undefined;
    let from = 0;
    for (let examined = 0; examined < MAX_PIN_COOKIES; examined++) {
      const value = readCookieValue(cookieHeader, this.name, from);
      if (value === undefined) return undefined;
      const pin = this.verify(value.value, nowMs);
      if (pin !== undefined) return pin;
      from = value.end;
    }
    return undefined;
  }

  #verifyMac(value: string): Pin | undefined {
    const lastDot = value.lastIndexOf('.');
    const firstDot = value.indexOf('.');
    if (firstDot <= 0 || lastDot === firstDot) return undefined;
    const body = value.slice(0, lastDot);
    // Canonical encodings only: Buffer.from() skips junk characters, padding and non-zero trailing
    // bits, so a value is accepted only if it re-encodes to exactly itself.
    const macText = value.slice(lastDot + 1);
    const mac = Buffer.from(macText, 'base64url');
    if (mac.length !== MAC_BYTES || mac.toString('base64url') !== macText) return undefined;
    const idText = value.slice(0, firstDot);
    const id = Buffer.from(idText, 'base64url');
    if (id.toString('base64url') !== idText) return undefined;
    const issued = value.slice(firstDot + 1, lastDot);
    if (!/^[1-9a-z][0-9a-z]{0,11}$/.test(issued)) return undefined;
    for (let i = 0; i < this.#keys.length; i++) {
      if (timingSafeEqual(mac, this.#mac(this.#keys[i]!, body))) {
        const backendId = id.toString('utf8');
        return { backendId, issuedAtSeconds: parseInt(issued, 36), staleKey: i > 0 };
      }
    }
    return undefined;
  }

  #mac(key: KeyObject, body: string): Buffer {
    return createHmac('sha256', key).update(this.#prefix).update(body).digest().subarray(0, MAC_BYTES);
  }
}

/**
 * The next value of cookie `name` in a Cookie header at or after `from`, without parsing the
 * other cookies (the hot path reads one name). Undefined when there is none.
 */
export function readCookieValue(header: string, name: string, from = 0): { value: string; end: number } | undefined {
  let index = header.indexOf(name, from);
  while (index !== -1) {
    const before = index === 0 ? ' ' : header.charCodeAt(index - 1) === 59 /* ; */ ? ' ' : header[index - 1];
    const afterIndex = index + name.length;
    if ((before === ' ' || before === '\t') && header.charCodeAt(afterIndex) === 61 /* = */) {
      let end = header.indexOf(';', afterIndex + 1);
      if (end === -1) end = header.length;
      let value = header.slice(afterIndex + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return { value, end };
    }
    index = header.indexOf(name, afterIndex);
  }
  return undefined;
}
