// The one place a gRPC status becomes a SessionError on the client side: the server's stable code from
// the trailers when there is one, otherwise a code chosen from the status alone (failures that never
// reached sessiond: deadline, connection refused, a proxy in between). Messages are ours: grpc-js'
// wording ("No connection established. Last error: ...") stays in `cause`, never in the message.
import * as grpc from '@grpc/grpc-js';
import {
  CURRENT_VERSION_METADATA_KEY, ERROR_CODE_METADATA_KEY, SessionError, isSessionErrorCode, type SessionErrorCode,
} from '../proto/errors.ts';

const CODE_BY_STATUS: Partial<Record<grpc.status, SessionErrorCode>> = {
  [grpc.status.NOT_FOUND]: 'SESS_ERR_NOT_FOUND',
  [grpc.status.INVALID_ARGUMENT]: 'SESS_ERR_INVALID_ARGUMENT',
  [grpc.status.ABORTED]: 'SESS_ERR_VERSION_CONFLICT',
  [grpc.status.ALREADY_EXISTS]: 'SESS_ERR_ALREADY_EXISTS',
  [grpc.status.RESOURCE_EXHAUSTED]: 'SESS_ERR_LIMIT_EXCEEDED',
  [grpc.status.FAILED_PRECONDITION]: 'SESS_ERR_WRONG_TYPE',
  // Without sessiond's trailer, UNAVAILABLE comes from the channel: sessiond itself is unreachable.
  [grpc.status.UNAVAILABLE]: 'SESS_ERR_SERVICE_UNAVAILABLE',
  [grpc.status.UNAUTHENTICATED]: 'SESS_ERR_UNAUTHENTICATED',
  [grpc.status.PERMISSION_DENIED]: 'SESS_ERR_PERMISSION_DENIED',
  [grpc.status.DEADLINE_EXCEEDED]: 'SESS_ERR_DEADLINE_EXCEEDED',
};

// grpc-js ends a call that was already on the wire with these when the connection goes away: the
// request may have reached sessiond, so its outcome is unknown.
const DROPPED_IN_FLIGHT = /Connection dropped|Write error|Write failed|ECONNRESET|read ETIMEDOUT/;

const CONNECT_REASONS: ReadonlyArray<[RegExp, string]> = [
  [/ECONNREFUSED/, 'connection refused'],
  [/ENOTFOUND|EAI_AGAIN|Name resolution failed|DNS resolution failed/i, 'host name not found'],
  [/ETIMEDOUT|timed out/i, 'connection timed out'],
  [/EHOSTUNREACH/, 'host unreachable'],
  [/ENETUNREACH/, 'network unreachable'],
  [/Channel closed/, "this client's channel is closed"],
  [/Stream refused/, 'sessiond refused the call (it may be shutting down)'],
  [/SSL|TLS|certificate|handshake/i, 'TLS handshake failed'],
];

/**
 * Rebuilds the server's `SessionError` from a failed call: same `code`, same message, and
 * `currentVersion` on `SESS_ERR_VERSION_CONFLICT`. A failure that carries no stable code (it never
 * reached sessiond, or never came back from it) gets one chosen from the status, and a message in
 * our words naming `address`. The `ServiceError` is kept as `cause`.
 */
export function fromGrpcError(error: grpc.ServiceError, address = 'the configured address'): SessionError {
  const trailer = error.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString();
  if (!isSessionErrorCode(trailer)) return fromChannelFailure(error, address);
  const version = Number(error.metadata?.get(CURRENT_VERSION_METADATA_KEY)[0]?.toString());
  return new SessionError(trailer, error.details, {
    cause: error,
    ...(Number.isSafeInteger(version) ? { currentVersion: version } : {}),
  });
}

function fromChannelFailure(error: grpc.ServiceError, address: string): SessionError {
  const details = error.details ?? '';
  const cause = { cause: error };
  if (error.code === grpc.status.UNAVAILABLE && DROPPED_IN_FLIGHT.test(details)) {
    return new SessionError(
      'SESS_ERR_OUTCOME_UNKNOWN',
      `the connection to sessiond at ${address} dropped before the answer came: a mutation may or may not have been applied; retry it with the same idempotency key to find out`,
      cause,
    );
  }
  if (error.code === grpc.status.UNAVAILABLE) {
    const reason = CONNECT_REASONS.find(([pattern]) => pattern.test(details))?.[1] ?? 'no connection could be established';
    return new SessionError('SESS_ERR_SERVICE_UNAVAILABLE', `sessiond at ${address} is unreachable (${reason}); nothing was sent`, cause);
  }
  if (error.code === grpc.status.DEADLINE_EXCEEDED) {
    return new SessionError('SESS_ERR_DEADLINE_EXCEEDED', `no answer from sessiond at ${address} before the call's deadline (deadlineMs): a mutation may or may not have been applied`, cause);
  }
  const status = grpc.status[error.code] ?? String(error.code);
  return new SessionError(
    CODE_BY_STATUS[error.code] ?? 'SESS_ERR_INTERNAL',
    `the call to sessiond at ${address} failed with gRPC status ${status} and no stickless error code (not sessiond's answer: the channel's, or a proxy's); see the cause`,
    cause,
  );
}

/** `fromGrpcError` for anything a call may reject with; a SessionError passes through unchanged. */
export function toSessionError(error: unknown, address?: string): SessionError {
  if (error instanceof SessionError) return error;
  if (isServiceError(error)) return fromGrpcError(error, address);
  return new SessionError('SESS_ERR_INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === 'number' && 'details' in error;
}
