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
  /** The store did not answer within the command timeout, or is disconnected. */
  'SESS_ERR_STORE_UNAVAILABLE',
  /** The server requires a namespace token and none was sent. */
  'SESS_ERR_UNAUTHENTICATED',
  /** The token does not grant access to the namespace. */
  'SESS_ERR_PERMISSION_DENIED',
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
/** Trailing-metadata key carrying the current version on SESS_ERR_VERSION_CONFLICT. */
export const CURRENT_VERSION_METADATA_KEY = 'stickless-current-version';

export interface SessionErrorOptions extends ErrorOptions {
  /** On SESS_ERR_VERSION_CONFLICT: the version the session has now (0 when it does not exist). */
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
