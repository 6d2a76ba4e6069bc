// The session id a Create or Regenerate replay must return, sealed so that Redis never holds it in
// clear (docs/protocol.md, "Idempotency"). The key is derived from the caller's idempotency key, which
// Redis holds only as a SHA-256: a dump of Redis opens a sealed id only by guessing that key, so a
// random key (the client's default) keeps the id as secret as the session itself.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { SessionError } from '../proto/errors.ts';

const SALT = 'stickless idempotent id v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM of `id` under HKDF-SHA256(idempotencyKey, info = namespace + scope), as base64url
 * nonce | ciphertext | tag. `scope` names where the record lives ('create', or the old handle for
 * Regenerate) and is authenticated, so a sealed id opens only where it was stored.
 */
export function sealSessionId(idempotencyKey: string, namespace: string, scope: string, id: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(idempotencyKey, namespace, scope), nonce);
  cipher.setAAD(Buffer.from(scope));
  const sealed = Buffer.concat([nonce, cipher.update(id, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return sealed.toString('base64url');
}

/** The id `sealSessionId` sealed; SESS_ERR_INTERNAL when the blob was not sealed with these inputs. */
export function openSessionId(idempotencyKey: string, namespace: string, scope: string, sealed: string): string {
  const bytes = Buffer.from(sealed, 'base64url');
  try {
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new Error('too short');
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(idempotencyKey, namespace, scope), bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(scope));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SessionError('SESS_ERR_INTERNAL', 'the idempotency record of this call cannot be opened', { cause: error });
  }
}

function deriveKey(idempotencyKey: string, namespace: string, scope: string): Buffer {
  return Buffer.from(hkdfSync('sha256', idempotencyKey, SALT, `${namespace}\n${scope}`, 32));
}
