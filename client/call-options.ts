// Per-call options of SessionClient methods. Every option is optional; `deadlineMs` everywhere
// overrides the client's `deadlineMs` for that one call (retries and backoffs included).
import type { SessionSnapshot } from './session-snapshot.ts';
import type { TraceCallOptions } from './trace-context.ts';

/**
 * Accepted by every unary method. `traceparent`/`tracestate` (W3C) make the call part of that trace
 * when the app has no OpenTelemetry SDK (with one, the active context is used); see trace-context.ts.
 */
export interface CallOptions extends TraceCallOptions {
  /** Deadline of this call in ms, retries included. Default: the client's `deadlineMs`. */
  deadlineMs?: number | undefined;
}

/** Shared by mutations that the server can deduplicate. */
export interface IdempotentCallOptions extends CallOptions {
  /**
   * 1..128 printable ASCII characters, unique per logical operation. A repeat with the same key
   * within the server's idempotency window changes nothing and answers with the session as it is now
   * (`replayed: true`; its version is at least the one the first call produced). Records go with
   * their session: after Delete, revoke, Regenerate or expiry a repeat is a new call. Default: a
   * random key per call when the client's `autoIdempotencyKeys` is on.
   */
  idempotencyKey?: string | undefined;
}

export interface CreateOptions extends IdempotentCallOptions {
  /** Time to live in ms; default: the server's default TTL. Capped at the server's max lifetime. */
  ttlMs?: number | undefined;
  /** Owner (user id, 1..256 bytes) to index the session under, for `listByOwner`/`revokeByOwner`. */
  owner?: string | undefined;
  /**
   * A caller-chosen id (43 base64url characters), for frameworks that generate their own ids.
   * `SESS_ERR_ALREADY_EXISTS` if it is live. Leave it out to get a server-generated id.
   */
  id?: string | undefined;
}

export interface GetOptions extends CallOptions {
  /** Read only these fields (default: all). Requested fields that do not exist are left out. */
  fields?: readonly string[] | undefined;
  /**
   * Also extend the expiry by the session's own TTL, as `touch` would. Does not change the version.
   * Answered from the near cache, the read sends a `touch` in the background only once more than half
   * of the TTL has passed since the last extension sessiond confirmed, so expiry still slides.
   */
  slide?: boolean | undefined;
  /**
   * The lowest version accepted (a version token: the highest version this user has seen or written).
   * The near cache answers only with a copy at least this new; otherwise sessiond is asked, and when
   * the store itself holds less (a Redis failover lost writes), the read rejects with
   * `SESS_ERR_VERSION_BEHIND` (`error.currentVersion`: the stored version) instead of returning older
   * data. A session that does not exist is still `undefined`. Default 0 (any version).
   */
  minVersion?: number | undefined;
}

/** Options of `put` and `patch`. */
export interface MutationCallOptions extends IdempotentCallOptions {
  /**
   * Apply only if the session's version is this one; otherwise reject with
   * `SESS_ERR_VERSION_CONFLICT` and the current version in `error.currentVersion`.
   */
  expectedVersion?: number | undefined;
  /** New time to live from now, in ms. Default: keep the session's own TTL. */
  ttlMs?: number | undefined;
}

export interface DeleteOptions extends CallOptions {
  /** Delete only if the version matches (`SESS_ERR_VERSION_CONFLICT` otherwise). */
  expectedVersion?: number | undefined;
}

export interface TouchOptions extends CallOptions {
  /** New time to live from now, in ms. Default: the session's own TTL. */
  ttlMs?: number | undefined;
}

export interface RegenerateOptions extends MutationCallOptions {
  /** Set a new owner in the same step (typical at login). Default: keep the current owner. */
  owner?: string | undefined;
}

export interface RevokeByOwnerOptions extends CallOptions {
  /** Revoke only these handles (from `listByOwner`). Default: every session of the owner. */
  handles?: readonly string[] | undefined;
}

export interface UpdateOptions extends CallOptions {
  /** TTL for the write, as in `put`. Default: keep the session's own TTL. */
  ttlMs?: number | undefined;
}

/**
 * The function `update()` runs on the current fields. Return the complete new fields (mutating and
 * returning `fields` is fine), or `undefined` to leave the session unchanged. It may run several
 * times when other writers race, so it must have no side effects beyond computing the result.
 */
export type UpdateFunction = (
  fields: Record<string, unknown>,
  snapshot: SessionSnapshot,
) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;
