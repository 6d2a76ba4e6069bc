// The error model shared by server and client. A failure travels as a gRPC status plus a stable
// code in trailing metadata; `SessionError` is what both sides hold in their hands.

/**
 * Stable error codes. Callers match on these, never on messages. Every code is documented in
 * docs/errors.md, and test/errors-documented.test.ts keeps the two in step.
 */
export const SESSION_ERROR_CODES = [
  /** The session does not exist, expired, or is in another namespace (only for mutations). */
  'SESS_ERR_NOT_FOUND',
  /** A session id that is not 43 base64url characters. */
  'SESS_ERR_INVALID_ID',
  /** A request field is malformed; the message names it. */
  'SESS_ERR_INVALID_ARGUMENT',
  /** expected_version did not match; `currentVersion` holds the version found. */
  'SESS_ERR_VERSION_CONFLICT',
  /** Create with a caller-chosen id that is already live. */
  'SESS_ERR_ALREADY_EXISTS',
  /** A size limit would be exceeded; the message names the limit, the size and the maximum. */
  'SESS_ERR_LIMIT_EXCEEDED',
  /** increment on a value that is not a number, or append on one that is not an array. */
  'SESS_ERR_WRONG_TYPE',
  /**
   * Get with min_version above the stored version: the store lost writes the caller saw (a Redis
   * failover without replicaAcks). `currentVersion` holds the stored version; the older copy is not returned.
   */
  'SESS_ERR_VERSION_BEHIND',
  /** The store could not be reached (or refused the command before running it): nothing was applied. */
  'SESS_ERR_STORE_UNAVAILABLE',
  /**
   * A mutation was sent to the store and no answer came (timeout, connection lost): it may or may not
   * have been applied. A retry with the same idempotency key tells which (replayed, or applied once).
   */
  'SESS_ERR_OUTCOME_UNKNOWN',
  /** Fewer replicas are online than `replicaAcks` requires: the write was refused, nothing was applied. */
  'SESS_ERR_NOT_ENOUGH_REPLICAS',
  /** The write was applied on the Redis primary but not confirmed by `replicaAcks` replicas in time. */
  'SESS_ERR_REPLICA_ACK_TIMEOUT',
  /**
   * sessiond itself could not be reached (no connection): the client's code, nothing was sent. Also
   * sessiond's answer on a closing Pipeline stream to a call it will not run: nothing was applied.
   */
  'SESS_ERR_SERVICE_UNAVAILABLE',
  /** The server requires a namespace token and none was sent. */
  'SESS_ERR_UNAUTHENTICATED',
  /** The token does not grant access to the namespace. */
  'SESS_ERR_PERMISSION_DENIED',
  /**
   * Client only: a stored field value this client cannot decode (an extension type, nesting too deep
   * for its decoder, bytes that are not MessagePack), written before sessiond refused such values or
   * past it. Reported per field (`SessionSnapshot.fieldErrors`); the raw bytes stay in `rawFields`.
   */
  'SESS_ERR_UNDECODABLE_FIELD',
  /** A client-side deadline passed before the server answered. */
  'SESS_ERR_DEADLINE_EXCEEDED',
  /** sessiond was started with invalid configuration; the message lists every problem. */
  'SESS_ERR_CONFIG_INVALID',
  /** Anything else: a bug, reported with its message. */
  'SESS_ERR_INTERNAL',
] as const;

export type SessionErrorCode = (typeof SESSION_ERROR_CODES)[number];

/** Trailing-metadata key carrying the stable `SESS_ERR_*` code. */
export const ERROR_CODE_METADATA_KEY = 'stickless-error-code';
/** Trailing-metadata key carrying the current version on SESS_ERR_VERSION_CONFLICT and SESS_ERR_VERSION_BEHIND. */
export const CURRENT_VERSION_METADATA_KEY = 'stickless-current-version';

export interface SessionErrorOptions extends ErrorOptions {
  /** On SESS_ERR_VERSION_CONFLICT and SESS_ERR_VERSION_BEHIND: the version the session has now (0 when it does not exist). */
  currentVersion?: number;
}

/** The one error class of the session service, on both sides of the wire. Match on `code`. */
export class SessionError extends Error {
  readonly code: SessionErrorCode;
  readonly currentVersion: number | undefined;

  constructor(code: SessionErrorCode, message: string, options?: SessionErrorOptions) {
    super(message, options);
    this.name = 'SessionError';
    this.code = code;
    this.currentVersion = options?.currentVersion;
  }
}

export function isSessionErrorCode(value: unknown): value is SessionErrorCode {
  return typeof value === 'string' && (SESSION_ERROR_CODES as readonly string[]).includes(value);
}
