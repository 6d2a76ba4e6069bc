// The one place a gRPC status becomes a SessionError on the client side: the server's stable code from
// the trailers when there is one, otherwise a code chosen from the status alone (failures that never
// reached sessiond: deadline, connection refused, a proxy in between).
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
  [grpc.status.UNAVAILABLE]: 'SESS_ERR_STORE_UNAVAILABLE',
  [grpc.status.UNAUTHENTICATED]: 'SESS_ERR_UNAUTHENTICATED',
  [grpc.status.PERMISSION_DENIED]: 'SESS_ERR_PERMISSION_DENIED',
  [grpc.status.DEADLINE_EXCEEDED]: 'SESS_ERR_DEADLINE_EXCEEDED',
};

/**
 * Rebuilds the server's `SessionError` from a failed call: same `code`, same message, and
 * `currentVersion` on `SESS_ERR_VERSION_CONFLICT`. The `ServiceError` is kept as `cause`.
 */
export function fromGrpcError(error: grpc.ServiceError): SessionError {
  const trailer = error.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString();
  const code: SessionErrorCode = isSessionErrorCode(trailer) ? trailer : (CODE_BY_STATUS[error.code] ?? 'SESS_ERR_INTERNAL');
  const version = Number(error.metadata?.get(CURRENT_VERSION_METADATA_KEY)[0]?.toString());
  const message = isSessionErrorCode(trailer) ? error.details : `${grpc.status[error.code] ?? error.code}: ${error.details}`;
  return new SessionError(code, message, {
    cause: error,
    ...(Number.isSafeInteger(version) ? { currentVersion: version } : {}),
  });
}

/** `fromGrpcError` for anything a call may reject with; a SessionError passes through unchanged. */
export function toSessionError(error: unknown): SessionError {
  if (error instanceof SessionError) return error;
  if (isServiceError(error)) return fromGrpcError(error);
  return new SessionError('SESS_ERR_INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === 'number' && 'details' in error;
}
