// Pins learned from the response, stateless: when a backend sets its own session value (a response
// header such as `Mcp-Session-Id`, or a cookie such as `JSESSIONID`), the proxy hands the client
// that value wrapped with a signed pin naming the backend, and unwraps it on the way in, so the
// backend only ever sees its own value and every proxy instance with the same keys agrees.
//
// What the client sees instead of `<raw>`:  `<id>.<issuedAt>.<mac>~<raw>`
//   id        backend id, base64url
//   issuedAt  seconds since the epoch, base36 (when the backend set the value)
//   mac       first 16 bytes of HMAC-SHA256(key, `<route>|learn|<name>|<id>.<issuedAt>|<raw>`), base64url
// The MAC binds the route, the header or cookie name and the raw value itself: a pin cannot be
// moved onto another value, another name or another route. A learned pin lives as long as the
// app keeps using its value; the cookie timeouts do not apply to it.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readCookieValue } from './affinity-cookie.ts';
import type { LearnConfig } from './config-schema.ts';

const MAC_BYTES = 16;
const VERIFIED_CACHE_SIZE = 10_000;

/** The value a request carries for the route's learned key. */
export type LearnedValue =
  /** Verified: the backend that issued `raw`. */
  | { readonly kind: 'pinned'; readonly backendId: string; readonly raw: string; readonly wrapped: string }
  /** Present but not issued through this proxy (forged, altered, unknown key, or never wrapped). */
  | { readonly kind: 'unknown'; readonly wrapped: string };

export class LearnedPin {
  /** Lower-case header name, or the cookie name. */
  readonly name: string;
  readonly from: 'header' | 'cookie';
  readonly #keys: readonly KeyObject[];
  readonly #prefix: string;
  readonly #verified = new Map<string, { backendId: string; raw: string }>();

  /** `keys`: the first signs, all verify; `route`: the route name bound into every pin. */
  constructor(keys: readonly string[], route: string, learn: LearnConfig) {
    this.from = 'responseHeader' in learn ? 'header' : 'cookie';
    this.name = 'responseHeader' in learn ? learn.responseHeader : learn.responseCookie;
    this.#keys = keys.map((key) => createSecretKey(Buffer.from(key, 'utf8')));
    this.#prefix = `${route}|learn|${this.name}|`;
  }

  /** The client-facing value for `raw` set by `backendId`. */
  wrap(backendId: string, raw: string, nowMs: number): string {
    const body = `${Buffer.from(backendId, 'utf8').toString('base64url')}.${Math.floor(nowMs / 1000).toString(36)}`;
    return `${body}.${this.#mac(this.#keys[0]!, body, raw).toString('base64url')}~${raw}`;
  }

  /** The learned value in a request, undefined when it carries none. */
  read(headers: { readonly [name: string]: string | string[] | undefined }): LearnedValue | undefined {
    let wrapped: string | undefined;
    if (this.from === 'header') {
      const value = headers[this.name];
      wrapped = Array.isArray(value) ? value[0] : value;
    } else {
      const cookie = headers['cookie'];
      wrapped = cookie === undefined ? undefined : readCookieValue(Array.isArray(cookie) ? cookie.join('; ') : cookie, this.name)?.value;
    }
    if (wrapped === undefined || wrapped === '') return undefined;
    const found = this.#verified.get(wrapped) ?? this.#unwrap(wrapped);
    if (found === undefined) return { kind: 'unknown', wrapped };
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.clear();
    this.#verified.set(wrapped, found);
    return { kind: 'pinned', backendId: found.backendId, raw: found.raw, wrapped };
  }

  /** Puts the backend's own value back into the upstream request headers. */
  unwrapRequest(headers: Record<string, string | string[]>, value: Extract<LearnedValue, { kind: 'pinned' }>): void {
    if (this.from === 'header') {
      headers[this.name] = value.raw;
      return;
    }
    const cookie = headers['cookie'];
    if (typeof cookie === 'string') headers['cookie'] = cookie.replace(value.wrapped, () => value.raw);
    else if (Array.isArray(cookie)) headers['cookie'] = cookie.map((c) => c.replace(value.wrapped, () => value.raw));
  }

  /**
   * Wraps every value the backend named in `x-stickless-backend` set for the learned key in the
   * client response headers. Returns true when something was wrapped.
   */
  wrapResponse(headers: Record<string, string | string[]>, nowMs: number): boolean {
    const backendId = headers['x-stickless-backend'];
    if (typeof backendId !== 'string' || backendId === '') return false;
    if (this.from === 'header') {
      const value = headers[this.name];
      const raw = Array.isArray(value) ? value[0] : value;
      if (raw === undefined || raw === '') return false;
      headers[this.name] = this.wrap(backendId, raw, nowMs);
      return true;
    }
    const setCookie = headers['set-cookie'];
    if (setCookie === undefined) return false;
    let wrapped = false;
    const lines = (Array.isArray(setCookie) ? setCookie : [setCookie]).map((line) => {
      const eq = line.indexOf('=');
      if (eq === -1 || line.slice(0, eq).trim() !== this.name) return line;
      const end = line.indexOf(';', eq);
      const raw = line.slice(eq + 1, end === -1 ? line.length : end).trim();
      // An empty value is the app deleting its cookie: nothing to pin.
      if (raw === '' || raw === '""') return line;
      wrapped = true;
      return `${this.name}=${this.wrap(backendId, raw, nowMs)}${end === -1 ? '' : line.slice(end)}`;
    });
    if (wrapped) headers['set-cookie'] = lines;
    return wrapped;
  }

  #unwrap(wrapped: string): { backendId: string; raw: string } | undefined {
    const tilde = wrapped.indexOf('~');
    if (tilde === -1) return undefined;
    const pin = wrapped.slice(0, tilde);
    const raw = wrapped.slice(tilde + 1);
    const firstDot = pin.indexOf('.');
    const lastDot = pin.lastIndexOf('.');
    if (firstDot <= 0 || pin.indexOf('.', firstDot + 1) !== lastDot) return undefined;
    const idText = pin.slice(0, firstDot);
    const id = Buffer.from(idText, 'base64url');
    const macText = pin.slice(lastDot + 1);
    const mac = Buffer.from(macText, 'base64url');
    // Canonical encodings only, as for pin cookies: a value re-encodes to exactly itself.
    if (id.length === 0 || id.toString('base64url') !== idText || mac.length !== MAC_BYTES || mac.toString('base64url') !== macText) return undefined;
    if (!/^[1-9a-z][0-9a-z]{0,11}$/.test(pin.slice(firstDot + 1, lastDot))) return undefined;
    const body = pin.slice(0, lastDot);
    for (const key of this.#keys) {
      if (timingSafeEqual(mac, this.#mac(key, body, raw))) return { backendId: id.toString('utf8'), raw };
    }
    return undefined;
  }

  #mac(key: KeyObject, body: string, raw: string): Buffer {
    return createHmac('sha256', key).update(this.#prefix).update(body).update('|').update(raw).digest().subarray(0, MAC_BYTES);
  }
}

