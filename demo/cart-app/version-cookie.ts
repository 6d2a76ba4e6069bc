// Central mode's version token: the highest session version this browser read or wrote, in a signed
// cookie beside the cart cookie, so its next request on any replica reads at least that version
// (read-your-writes and monotonic reads per user, whatever the near caches hold; see
// docs/protocol.md "Near cache and version tokens"). The value is `<version>.<HMAC-SHA256>` over the
// session id and the version, the format of client/version-token.ts: bound to one cart, worthless for
// any other, and a value that does not verify is ignored (as if absent), never an error.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Values that verified or were signed here, remembered so a browser sending one (again) costs a Map lookup. */
const VERIFIED_CACHE_SIZE = 10_000;

export class VersionCookie {
  /** KeyObjects made once: createHmac with a string key imports it again on every call. */
  readonly #keys: readonly KeyObject[];
  readonly #verified = new Map<string, number>();

  /** `secrets`: the first signs, every one verifies (rotation). */
  constructor(secrets: readonly string[]) {
    this.#keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  }

  sign(sessionId: string, version: number): string {
    const value = `${version}.${mac(this.#keys[0]!, sessionId, version)}`;
    // The browser sends it back next, most often to this replica: it verifies without a second HMAC.
    this.#remember(`${sessionId}\n${value}`, version);
    return value;
  }

  /** The version `value` vouches for `sessionId`; 0 when absent, malformed or not verifying. */
  verify(value: string | undefined, sessionId: string | undefined): number {
    if (value === undefined || sessionId === undefined) return 0;
    const cacheKey = `${sessionId}\n${value}`;
    const known = this.#verified.get(cacheKey);
    if (known !== undefined) return known;
    const match = /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{22})$/.exec(value);
    if (!match) return 0;
    const version = Number(match[1]);
    if (!Number.isSafeInteger(version)) return 0;
    const given = Buffer.from(match[2]!);
    if (!this.#keys.some((key) => timingSafeEqual(Buffer.from(mac(key, sessionId, version)), given))) return 0;
    this.#remember(cacheKey, version);
    return version;
  }

  #remember(cacheKey: string, version: number): void {
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.clear();
    this.#verified.set(cacheKey, version);
  }
}

function mac(key: KeyObject, sessionId: string, version: number): string {
  return createHmac('sha256', key).update(`${sessionId}\n${version}`).digest('base64url').slice(0, 22);
}
