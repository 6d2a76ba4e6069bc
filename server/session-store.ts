// The server's one seam: everything the gRPC service needs from storage. Two implementations share
// this contract and one conformance suite (test/contract/session-store.ts): RedisSessionStore for
// production and MemorySessionStore for a single process. Both throw `SessionError` (proto/errors.ts)
// with the codes named below, and nothing else, for expected failures.

/** A session as the store holds it. Field values are opaque MessagePack bytes. */
export interface SessionRecord {
  /** The secret id (43 base64url characters). */
  id: string;
  namespace: string;
  /** Starts at 1; +1 on every change. Never repeats for one (namespace, id), even across delete. */
  version: number;
  /** Field name -> one MessagePack value. With a field filter, only requested fields that exist. */
  fields: Map<string, Uint8Array>;
  /** Unix ms, store clock. Regenerate keeps it. */
  createdAtMs: number;
  /** Unix ms of the last change. */
  updatedAtMs: number;
  /** Unix ms when the session expires, already capped at createdAtMs + maxLifetimeMs. */
  expiresAtMs: number;
  /** The session's own time to live in ms, used when a touch or slide asks for "the usual". */
  ttlMs: number;
  /** Owner id the session is indexed under, or '' for none. */
  owner: string;
}

/** What can be listed about a session without revealing its id. */
export interface SessionSummary {
  /** Non-secret handle: `sessionHandle(namespace, id)`. */
  handle: string;
  version: number;
  createdAtMs: number;
  updatedAtMs: number;
  expiresAtMs: number;
}

/** One field operation of a patch. The whole list applies atomically or not at all. */
export type FieldOp =
  | { kind: 'set'; field: string; value: Uint8Array }
  | { kind: 'delete'; field: string }
  /** Absent counts as 0; the field must hold a MessagePack integer (SESS_ERR_WRONG_TYPE otherwise). */
  | { kind: 'incrementInt'; field: string; by: number }
  /** Absent counts as 0.0; the field must hold a MessagePack number; the result is a float64. */
  | { kind: 'incrementFloat'; field: string; by: number }
  /** Appends one encoded MessagePack value to the array in the field; absent counts as []. */
  | { kind: 'append'; field: string; value: Uint8Array };

/** Options every mutation takes. */
export interface MutationOptions {
  /**
   * Apply only if the current version equals this; else SESS_ERR_VERSION_CONFLICT with
   * `currentVersion`. Undefined means last write wins.
   */
  expectedVersion?: number | undefined;
  /**
   * When set, a repeat with the same key on the same session within `idempotencyWindowMs` changes
   * nothing and returns the session as it is now (with `replayed: true`). The record of the first
   * call holds no fields and goes with the session (delete, revoke, regenerate away, expiry); a
   * repeat after that is a new call (docs/protocol.md, "Idempotency").
   */
  idempotencyKey?: string | undefined;
  /** New time to live in ms from now; undefined or 0 keeps the session's own ttl. */
  ttlMs?: number | undefined;
}

export interface CreateInput {
  namespace: string;
  /** The id to create, already generated (server) or validated (caller-chosen). */
  id: string;
  fields: Map<string, Uint8Array>;
  /** Time to live in ms (> 0), capped at maxLifetimeMs. */
  ttlMs: number;
  /** '' for none. */
  owner: string;
  /** Scoped to the namespace for create: a retried create returns the session it created, as it is now. */
  idempotencyKey?: string | undefined;
}

export interface MutationResult {
  record: SessionRecord;
  /** True when an idempotency key matched an earlier call: nothing changed, `record` is the session now. */
  replayed: boolean;
}

export interface GetOptions {
  /** Only these fields; undefined or empty means all. */
  fields?: readonly string[] | undefined;
  /** Extend the expiry by the session's own ttl (capped), without changing the version. */
  slide?: boolean | undefined;
  /**
   * The lowest version the caller accepts (0 or undefined: any). A store that reads from Redis
   * replicas uses a replica's copy only at or above it (and only when found), else reads the
   * primary. The store never refuses an older primary copy: the caller compares (VERSION_BEHIND).
   */
  minVersion?: number | undefined;
}

/** What Track needs to know about a session: the cheap read behind a TRACKING answer. */
export interface SessionHead {
  version: number;
  /** Unix ms, store clock. */
  expiresAtMs: number;
}

/** A head read, with the store's clock at the moment of the read (Unix ms). */
export interface HeadResult {
  /** Undefined when the session does not exist or has expired. */
  head: SessionHead | undefined;
  /** The store's clock when it answered, so sessiond can tell clients the store's time. */
  nowMs: number;
}

export interface TouchResult {
  version: number;
  expiresAtMs: number;
}

export interface RegenerateOptions extends MutationOptions {
  /** Set this owner in the same step; undefined or '' keeps the current owner. */
  owner?: string | undefined;
}

/**
 * A change published to watchers. Published in version order for one session. Subscribers also get
 * `changedAtMs`, the store-clock Unix ms when it was committed (0 when the publisher did not say:
 * a sessiond from before issue 8), as a second argument.
 */
export interface SessionChange {
  kind: 'updated' | 'deleted';
  /** Version after the change; for 'deleted', the last version. */
  version: number;
  /** Names of the changed fields ('updated'); [] for 'deleted'. */
  fields: string[];
  /** Expiry after the change; 0 for 'deleted'. */
  expiresAtMs: number;
}

/** Size and time limits every store enforces identically. */
export interface StoreLimits {
  /** Sum over fields of name bytes + value bytes. */
  maxSessionBytes: number;
  /** Number of fields in one session. */
  maxFields: number;
  /** Bytes of one field value (after the operation, so appends count). */
  maxFieldBytes: number;
  /** Absolute lifetime cap: no session lives past createdAtMs + maxLifetimeMs. */
  maxLifetimeMs: number;
  /** How long an idempotency record lives (records end with their session); a repeat answers with the session as it is now. */
  idempotencyWindowMs: number;
}

/**
 * The storage contract. Every mutation is atomic: it checks the expected version, applies, bumps
 * the version, sets the expiry and updates the owner index as one step, so concurrent callers never
 * lose each other's updates. Missing and expired sessions look the same.
 *
 * Errors (as SessionError codes): SESS_ERR_NOT_FOUND for mutations of a missing session,
 * SESS_ERR_VERSION_CONFLICT, SESS_ERR_ALREADY_EXISTS, SESS_ERR_LIMIT_EXCEEDED (message names the
 * limit, e.g. "maxSessionBytes"), SESS_ERR_WRONG_TYPE, SESS_ERR_STORE_UNAVAILABLE, and
 * SESS_ERR_INVALID_ARGUMENT for an increment that cannot be exact within +/-(2^53 - 1) (the result,
 * or an int64/uint64 already stored) and for arguments the service should have refused (TTL, `by`).
 * Both stores give the same code AND message for each case (field-ops.ts words them all).
 */
export interface SessionStore {
  /** Creates a session; SESS_ERR_ALREADY_EXISTS when the id is live. */
  create(input: CreateInput): Promise<MutationResult>;
  /** Reads a session; undefined when missing or expired (absence is a value, not an error). */
  get(namespace: string, id: string, options?: GetOptions): Promise<SessionRecord | undefined>;
  /** Version and expiry only, always from the primary, with the store's clock (Track's re-check). */
  head(namespace: string, id: string): Promise<HeadResult>;
  /** Replaces all fields of an existing session. */
  put(namespace: string, id: string, fields: Map<string, Uint8Array>, options?: MutationOptions): Promise<MutationResult>;
  /** Applies the operations in order, atomically. */
  patch(namespace: string, id: string, ops: readonly FieldOp[], options?: MutationOptions): Promise<MutationResult>;
  /** Deletes; false when there was nothing to delete. Leaves a version tombstone (see `version`). */
  delete(namespace: string, id: string, options?: { expectedVersion?: number | undefined }): Promise<boolean>;
  /** Extends the expiry (ttlMs 0: the session's own ttl), capped; undefined when missing. */
  touch(namespace: string, id: string, ttlMs: number): Promise<TouchResult | undefined>;
  /** Moves the session to `newId` atomically; the old id is gone (watchers see 'deleted'). */
  regenerate(namespace: string, id: string, newId: string, options?: RegenerateOptions): Promise<MutationResult>;
  /** Live sessions of an owner, oldest first. Expired index entries are dropped on the way. */
  listByOwner(namespace: string, owner: string): Promise<SessionSummary[]>;
  /** Deletes the owner's sessions (only `handles` when non-empty); returns how many. */
  revokeByOwner(namespace: string, owner: string, handles: readonly string[]): Promise<number>;
  /**
   * Calls `onChange` for every change of one session, in version order, until the returned function
   * is called. Resolves once the subscription is active, so a read made after it misses nothing.
   * `onGap` is called once the subscription is active again after an interruption in which changes
   * may have been missed.
   */
  subscribe(
    namespace: string,
    id: string,
    onChange: (change: SessionChange, changedAtMs: number) => void,
    onGap?: () => void,
  ): Promise<() => Promise<void>>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Optional capability: a store that can be unreachable reports it, so health can say NOT_SERVING.
 * The memory store is always ready and does not implement it.
 */
export interface StoreHealth {
  /** True while the store accepts commands. */
  readonly ready: boolean;
  /** Calls `listener` on every change of `ready`; returns an unsubscribe function. */
  onReadyChange(listener: (ready: boolean) => void): () => void;
}

/**
 * Optional capability: a store whose change feed can break (Redis pub/sub) says when. 'lost' comes
 * the moment the feed breaks (changes from then on may be missed by every subscription), 'restored'
 * once every subscription is active again. The memory store's feed cannot break.
 */
export interface ChangeFeed {
  onChangeFeed(listener: (state: 'lost' | 'restored') => void): () => void;
}

export function hasChangeFeed(store: SessionStore): store is SessionStore & ChangeFeed {
  return typeof (store as Partial<ChangeFeed>).onChangeFeed === 'function';
}

export function hasStoreHealth(store: SessionStore): store is SessionStore & StoreHealth {
  return typeof (store as Partial<StoreHealth>).onReadyChange === 'function';
}
