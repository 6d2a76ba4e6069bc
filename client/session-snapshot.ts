// The JS shapes a SessionClient hands out, and their conversion from the wire types.
import type { Session__Output, SessionSummary__Output } from '../proto/index.ts';
import type { SessionError } from '../proto/errors.ts';
import { decodeFields } from './codec.ts';
import type { NearCacheEntry } from './near-cache.ts';

/** A session as read or written, with its field values decoded from MessagePack. */
export interface SessionSnapshot {
  /** The secret session id (43 base64url characters). Whoever holds it holds the session. */
  id: string;
  namespace: string;
  /** Starts at 1 and grows by 1 on every change; pass it as `expectedVersion` for compare-and-set. */
  version: number;
  /**
   * Field name -> decoded value. Binary values come back as `Buffer`, MessagePack maps as plain
   * objects, timestamps as `Date`. From a `get` with a field filter: only the requested fields that
   * exist. A field whose value this client cannot decode is absent here and listed in `fieldErrors`.
   */
  fields: Record<string, unknown>;
  /**
   * Field name -> the stored MessagePack bytes, exactly as received, for every field (decodable or
   * not): the way to reach a value `fields` cannot show.
   */
  rawFields: Record<string, Buffer>;
  /**
   * Field name -> why its value could not be decoded: a `SessionError` with code
   * `SESS_ERR_UNDECODABLE_FIELD` naming the field and the problem (an extension type, nesting too deep,
   * bytes that are not MessagePack). Empty in the usual case. sessiond refuses such values, so they
   * were stored before it did, or written into Redis directly. Overwrite or delete the field with
   * `patch()` to repair the session; `update()` refuses to run on a session with such a field.
   */
  fieldErrors: Record<string, SessionError>;
  /** Epoch ms (server clock) of creation; `regenerate` keeps it. */
  createdAtMs: number;
  /** Epoch ms of the last change. */
  updatedAtMs: number;
  /** Epoch ms at which the session expires unless touched or changed. */
  expiresAtMs: number;
  /** The owner (user id) the session is indexed under, or undefined. */
  owner: string | undefined;
}

/** The result of a mutation: the session after it. */
export interface SessionMutationResult extends SessionSnapshot {
  /**
   * True when the server answered from its idempotency record: an earlier call with the same
   * idempotency key already applied this mutation, and this one changed nothing.
   */
  replayed: boolean;
}

/** What `listByOwner` shows of a session: metadata and a handle, never the secret id. */
export interface SessionSummary {
  /** Stable, non-secret handle (a hash of the id); `revokeByOwner` accepts it. */
  handle: string;
  version: number;
  createdAtMs: number;
  updatedAtMs: number;
  expiresAtMs: number;
}

/** What `touch` returns for a live session. */
export interface TouchResult {
  /** The unchanged version. */
  version: number;
  /** The new expiry, epoch ms. */
  expiresAtMs: number;
}

export function toSnapshot(session: Session__Output): SessionSnapshot {
  const { fields, fieldErrors } = decodeFields(session.fields);
  return {
    id: session.id,
    namespace: session.namespace,
    version: session.version,
    fields,
    rawFields: session.fields,
    fieldErrors,
    createdAtMs: session.createdAtMs,
    updatedAtMs: session.updatedAtMs,
    expiresAtMs: session.expiresAtMs,
    owner: session.owner === '' ? undefined : session.owner,
  };
}

export function toSummary(summary: SessionSummary__Output): SessionSummary {
  const { handle, version, createdAtMs, updatedAtMs, expiresAtMs } = summary;
  return { handle, version, createdAtMs, updatedAtMs, expiresAtMs };
}

/**
 * A snapshot from a near-cache copy, as sessiond would have answered the same read: only the asked
 * fields that exist when `fields` is given. Values are decoded and bytes copied afresh each time.
 */
export function fromCachedEntry(entry: NearCacheEntry, fields: readonly string[] | undefined): SessionSnapshot {
  const raw: Record<string, Buffer> = {};
  const names = fields && fields.length > 0 ? fields : Object.keys(entry.raw);
  for (const name of names) {
    const bytes = entry.raw[name];
    if (bytes !== undefined) raw[name] = Buffer.from(bytes);
  }
  const decoded = decodeFields(raw);
  const { namespace, createdAtMs, updatedAtMs, expiresAtMs, owner } = entry.meta;
  return { id: entry.id, namespace, version: entry.version, fields: decoded.fields, rawFields: raw, fieldErrors: decoded.fieldErrors, createdAtMs, updatedAtMs, expiresAtMs, owner };
}
