// The signed pin cookie. Only encodes, verifies and serializes; what a pin means is affinity.ts.
//
// Value: `<id>.<issuedAt>.<mac>`
//   id        backend id, base64url (opaque to clients, no proxy-side state)
//   issuedAt  issue time, whole seconds since the epoch, base36
//   mac       first 16 bytes of HMAC-SHA256(key, `<cookie name>|<id>.<issuedAt>`), base64url
// e.g. `set-cookie: stickless=YXBwLTE.t5m1x0.q1Vb6Zp3oQm0hXbVxI1vGg; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax`
//
// Route-bound pins (a codec made with a `scope`, which the proxy always gives: the route name) have
// a fourth field and bind the route too, so two routes never share a pin:
//   `<id>.<issuedAt>.<sinceStart>.<mac>`, mac over `<route>|<cookie name>|<id>.<issuedAt>.<sinceStart>`
//   sinceStart  seconds from the pin's first issue to this issue, base36 (`0` for a new pin); the
//               absolute timeout counts from issuedAt - sinceStart, the idle timeout from issuedAt.
// Such a codec still accepts the unbound 3-field pins issued before route binding existed (until
// they expire) and re-issues them bound on their first hit.
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
/** Default allowed clock skew: pins issued this far in the future are still accepted, seconds. */
const DEFAULT_CLOCK_SKEW_SECONDS = 60;
/** Verified values are remembered so a returning client costs one Map lookup, not an HMAC. */
const VERIFIED_CACHE_SIZE = 10_000;

/** A verified pin. */
export interface Pin {
  readonly backendId: string;
  readonly issuedAtSeconds: number;
  /** Signed by a key other than the first: re-issue under the current key. */
  readonly staleKey: boolean;
  /** Route-bound pins only: when the pin was first issued (absolute timeout), seconds since the epoch. */
  readonly startedAtSeconds?: number;
  /** Route-bound codec only: an unbound pin from before route binding; re-issue it bound. */
  readonly unbound?: true;
}

export class AffinityCookie {
  readonly name: string;
  readonly maxAgeSeconds: number;
  readonly #keys: readonly KeyObject[];
  readonly #attributes: string;
  readonly #tail: string;
  readonly #prefix: string;
  readonly #scopedPrefix: string | undefined;
  readonly #idleSeconds: number;
  readonly #absoluteSeconds: number;
  readonly #skewSeconds: number;
  readonly #session: boolean;
  /** Seconds after an issue from which a hit re-issues the pin (sliding only when it matters). */
  readonly #refreshAfterSeconds: number;
  readonly #verified = new Map<string, Pin>();
  /**
   * The Set-Cookie of a new pin per backend, for the second it was made in: a new pin's value
   * depends only on the backend and the issue second, so cookie insertion costs one MAC per backend
   * per second instead of one per response (issue 10).
   */
  readonly #fresh = new Map<string, { second: number; header: string }>();

  /** `keys`: the first signs, all verify. `scope` (the route name) makes route-bound pins. */
  constructor(keys: readonly string[], cookie: Pick<CookieConfig, 'name' | 'path' | 'maxAgeSeconds' | 'secure' | 'httpOnly' | 'sameSite'> & Partial<CookieConfig>, scope?: string) {
    if (keys.length === 0) throw new TypeError('AffinityCookie needs at least one key');
    this.name = cookie.name;
    this.maxAgeSeconds = cookie.maxAgeSeconds;
    // KeyObjects made once: createHmac with a raw Buffer key re-imports it on every call, which cost
    // about 7 µs per MAC on Node 24 (BENCHMARKS.md, cookie insertion).
    this.#keys = keys.map((key) => createSecretKey(Buffer.from(key, 'utf8')));
    this.#prefix = `${cookie.name}|`;
    this.#scopedPrefix = scope === undefined ? undefined : `${scope}|${cookie.name}|`;
    this.#idleSeconds = cookie.idleTimeoutSeconds ?? Infinity;
    this.#absoluteSeconds = cookie.absoluteTimeoutSeconds ?? Infinity;
    this.#skewSeconds = cookie.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    this.#session = cookie.lifetime === 'session';
    // Re-issue past half the max-age, or past a quarter of the idle timeout: a client active at
    // least every 3/4 idleTimeout keeps its pin, and a pin costs one Set-Cookie per such period.
    this.#refreshAfterSeconds = Math.min(this.maxAgeSeconds / 2, this.#idleSeconds / 4);
    const sameSite = cookie.sameSite === 'strict' ? 'Strict' : cookie.sameSite === 'lax' ? 'Lax' : 'None';
    // SameSite=None and Partitioned without Secure are rejected by browsers; force Secure then.
    const secure = cookie.secure || cookie.sameSite === 'none' || cookie.partitioned === true;
    this.#attributes = `; Path=${cookie.path}${cookie.domain === undefined ? '' : `; Domain=${cookie.domain}`}`;
    this.#tail = `${secure ? '; Secure' : ''}${cookie.httpOnly ? '; HttpOnly' : ''}; SameSite=${sameSite}${cookie.partitioned === true ? '; Partitioned' : ''}`;
  }

  /**
   * Signed cookie value naming `backendId`, issued at `nowMs`. Route-bound codecs carry the first
   * issue time `startedAtSeconds` (default: now, a new pin).
   */
  encode(backendId: string, nowMs: number, startedAtSeconds?: number): string {
    const issued = Math.floor(nowMs / 1000);
    let body = `${Buffer.from(backendId, 'utf8').toString('base64url')}.${issued.toString(36)}`;
    if (this.#scopedPrefix === undefined) return `${body}.${this.#mac(this.#keys[0]!, this.#prefix, body).toString('base64url')}`;
    body += `.${Math.max(0, issued - Math.floor(startedAtSeconds ?? issued)).toString(36)}`;
    return `${body}.${this.#mac(this.#keys[0]!, this.#scopedPrefix, body).toString('base64url')}`;
  }

  /** Full Set-Cookie header value for a pin (a new one, or a re-issue keeping `startedAtSeconds`). */
  serialize(backendId: string, nowMs: number, startedAtSeconds?: number): string {
    if (startedAtSeconds !== undefined) return this.#serialize(backendId, nowMs, startedAtSeconds);
    const second = Math.floor(nowMs / 1000);
    const cached = this.#fresh.get(backendId);
    if (cached !== undefined && cached.second === second) return cached.header;
    const header = this.#serialize(backendId, nowMs, undefined);
    // Bounded by the backends ever pinned to; a pool that churns through ids starts over.
    if (this.#fresh.size >= VERIFIED_CACHE_SIZE) this.#fresh.clear();
    this.#fresh.set(backendId, { second, header });
    return header;
  }

  #serialize(backendId: string, nowMs: number, startedAtSeconds: number | undefined): string {
    const value = this.encode(backendId, nowMs, startedAtSeconds);
    if (this.#session) return `${this.name}=${value}${this.#attributes}${this.#tail}`;
    // Permanent: Max-Age, cut to what the absolute timeout leaves (Gateway API: Max-Age = absoluteTimeout).
    let maxAge = this.maxAgeSeconds;
    if (this.#absoluteSeconds !== Infinity) maxAge = Math.max(1, Math.min(maxAge, this.#absoluteSeconds - (Math.floor(nowMs / 1000) - (startedAtSeconds ?? Math.floor(nowMs / 1000)))));
    return `${this.name}=${value}${this.#attributes}; Max-Age=${maxAge}${this.#tail}`;
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
    if (ageSeconds > this.maxAgeSeconds || ageSeconds > this.#idleSeconds || ageSeconds < -this.#skewSeconds) return undefined;
    if (pin.startedAtSeconds !== undefined && nowMs / 1000 - pin.startedAtSeconds > this.#absoluteSeconds) return undefined;
    return pin;
  }

  /**
   * True when a hit on `pin` should re-issue the cookie: past half its max-age or a quarter of its
   * idle timeout, signed by an old key, or unbound. Otherwise the response carries no Set-Cookie.
   */
  needsRefresh(pin: Pin, nowMs: number): boolean {
    return pin.staleKey || pin.unbound === true || nowMs / 1000 - pin.issuedAtSeconds > this.#refreshAfterSeconds;
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
    const secondDot = value.indexOf('.', firstDot + 1);
    if (secondDot !== lastDot) return this.#scopedPrefix === undefined ? undefined : this.#verifyScoped(value, firstDot, secondDot, lastDot);
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
      if (timingSafeEqual(mac, this.#mac(this.#keys[i]!, this.#prefix, body))) {
        const backendId = id.toString('utf8');
        const pin: Pin = { backendId, issuedAtSeconds: parseInt(issued, 36), staleKey: i > 0 };
        return this.#scopedPrefix === undefined ? pin : { ...pin, startedAtSeconds: pin.issuedAtSeconds, unbound: true };
      }
    }
    return undefined;
  }

  /** `<id>.<issuedAt>.<sinceStart>.<mac>` under the route-bound prefix; canonical encodings only. */
  #verifyScoped(value: string, firstDot: number, secondDot: number, lastDot: number): Pin | undefined {
    if (value.indexOf('.', secondDot + 1) !== lastDot) return undefined;
    const macText = value.slice(lastDot + 1);
    const mac = Buffer.from(macText, 'base64url');
    if (mac.length !== MAC_BYTES || mac.toString('base64url') !== macText) return undefined;
    const idText = value.slice(0, firstDot);
    const id = Buffer.from(idText, 'base64url');
    if (id.length === 0 || id.toString('base64url') !== idText) return undefined;
    const issued = value.slice(firstDot + 1, secondDot);
    const since = value.slice(secondDot + 1, lastDot);
    if (!/^[1-9a-z][0-9a-z]{0,11}$/.test(issued) || !/^(0|[1-9a-z][0-9a-z]{0,11})$/.test(since)) return undefined;
    const body = value.slice(0, lastDot);
    for (let i = 0; i < this.#keys.length; i++) {
      if (timingSafeEqual(mac, this.#mac(this.#keys[i]!, this.#scopedPrefix!, body))) {
        const issuedAtSeconds = parseInt(issued, 36);
        return { backendId: id.toString('utf8'), issuedAtSeconds, staleKey: i > 0, startedAtSeconds: issuedAtSeconds - parseInt(since, 36) };
      }
    }
    return undefined;
  }

  #mac(key: KeyObject, prefix: string, body: string): Buffer {
    return createHmac('sha256', key).update(prefix).update(body).digest().subarray(0, MAC_BYTES);
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
