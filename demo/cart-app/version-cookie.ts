// Central mode's version token: the highest session version this browser read or wrote, in a signed
// cookie beside the cart cookie, so its next request on any replica reads at least that version
// (read-your-writes and monotonic reads per user, whatever the near caches hold; see
// docs/protocol.md "Near cache and version tokens"). The value is `<version>.<HMAC-SHA256>` over the
// session id and the version, the format of client/version-token.ts: bound to one cart, worthless for
// any other, and a value that does not verify is ignored (as if absent), never an error.
import { createHmac, timingSafeEqual } from 'node:crypto';

export class VersionCookie {
  readonly #secrets: readonly string[];

  /** `secrets`: the first signs, every one verifies (rotation). */
  constructor(secrets: readonly string[]) {
    this.#secrets = secrets;
  }

  sign(sessionId: string, version: number): string {
    return `${version}.${mac(this.#secrets[0]!, sessionId, version)}`;
  }

  /** The version `value` vouches for `sessionId`; 0 when absent, malformed or not verifying. */
  verify(value: string | undefined, sessionId: string | undefined): number {
    const match = value === undefined || sessionId === undefined ? null : /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{22})$/.exec(value);
    if (!match) return 0;
    const version = Number(match[1]);
    if (!Number.isSafeInteger(version)) return 0;
    const given = Buffer.from(match[2]!);
    return this.#secrets.some((secret) => timingSafeEqual(Buffer.from(mac(secret, sessionId!, version)), given)) ? version : 0;
  }
}

function mac(secret: string, sessionId: string, version: number): string {
  return createHmac('sha256', secret).update(`${sessionId}\n${version}`).digest('base64url').slice(0, 22);
}
