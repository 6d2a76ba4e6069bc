// Session ids and the non-secret handles derived from them.
import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits as unpadded base64url: 43 characters. */
export const SESSION_ID_LENGTH = 43;
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function generateSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** True for a string of the exact form `generateSessionId` produces. */
export function isValidSessionId(id: unknown): id is string {
  // 43 base64url chars carry 258 bits; the last char of a 32-byte value has its 2 low bits clear.
  return typeof id === 'string' && SESSION_ID_PATTERN.test(id) && 'AEIMQUYcgkosw048'.includes(id[42] as string);
}

/**
 * The non-secret handle of a session: base64url SHA-256 of namespace and id. Redis keys carry it
 * instead of the id, so a dump of Redis hands out no live session, and ListByOwner shows it.
 */
export function sessionHandle(namespace: string, id: string): string {
  return createHash('sha256').update(namespace).update('\n').update(id).digest('base64url');
}

/** Hash of an owner id, so owner index keys do not spell out user ids either. */
export function ownerHandle(namespace: string, owner: string): string {
  return createHash('sha256').update(namespace).update('\n').update(owner).digest('base64url');
}

/** base64url SHA-256 of `value`: the key part of an idempotency key, a claim, a record. */
export function hashText(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
