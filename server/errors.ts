// The one place a gRPC status is chosen. Handlers throw SessionError (or anything else, which is a
// bug); this module turns it into a status with the stable code in trailing metadata.
import * as grpc from '@grpc/grpc-js';
import { CURRENT_VERSION_METADATA_KEY, ERROR_CODE_METADATA_KEY, SessionError, type SessionErrorCode } from '../proto/errors.ts';

const STATUS_BY_CODE: Readonly<Record<SessionErrorCode, grpc.status>> = {
  SESS_ERR_NOT_FOUND: grpc.status.NOT_FOUND,
  SESS_ERR_INVALID_ID: grpc.status.INVALID_ARGUMENT,
  SESS_ERR_INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  SESS_ERR_VERSION_CONFLICT: grpc.status.ABORTED,
  SESS_ERR_ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  SESS_ERR_LIMIT_EXCEEDED: grpc.status.RESOURCE_EXHAUSTED,
  SESS_ERR_WRONG_TYPE: grpc.status.FAILED_PRECONDITION,
  SESS_ERR_VERSION_BEHIND: grpc.status.FAILED_PRECONDITION,
  SESS_ERR_STORE_UNAVAILABLE: grpc.status.UNAVAILABLE,
  SESS_ERR_NOT_ENOUGH_REPLICAS: grpc.status.UNAVAILABLE,
  // DEADLINE_EXCEEDED, not UNAVAILABLE: gRPC defines it as "may have completed" for state changes, and
  // generic retry layers (gRPC retry policies, Envoy retry-on) repeat UNAVAILABLE on their own, which
  // would apply a keyless mutation twice. See docs/protocol.md, "Errors and what they say about state".
  SESS_ERR_OUTCOME_UNKNOWN: grpc.status.DEADLINE_EXCEEDED,
  SESS_ERR_REPLICA_ACK_TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
  SESS_ERR_SERVICE_UNAVAILABLE: grpc.status.UNAVAILABLE,
  SESS_ERR_UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  SESS_ERR_PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  SESS_ERR_UNDECODABLE_FIELD: grpc.status.INTERNAL, // client only: never sent by sessiond
  SESS_ERR_DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  SESS_ERR_CONFIG_INVALID: grpc.status.INTERNAL,
  SESS_ERR_INTERNAL: grpc.status.INTERNAL,
};

export interface GrpcStatusError {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

/** Any thrown value as the SessionError a caller gets; non-SessionErrors become SESS_ERR_INTERNAL. */
export function asSessionError(error: unknown): SessionError {
  return error instanceof SessionError
    ? error
    // Never a dependency's wording: the thrown value is in sessiond's log (session-service.ts logs it).
    : new SessionError('SESS_ERR_INTERNAL', 'internal error in sessiond; its log has the details');
}

/** The gRPC status code a stable code travels with. */
export function grpcStatusOf(code: SessionErrorCode): grpc.status {
  return STATUS_BY_CODE[code];
}

/** Maps any thrown value to a gRPC status; non-SessionErrors become SESS_ERR_INTERNAL. */
export function toGrpcStatus(error: unknown): GrpcStatusError {
  const sessionError = asSessionError(error);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, sessionError.code);
  if (sessionError.currentVersion !== undefined) metadata.set(CURRENT_VERSION_METADATA_KEY, String(sessionError.currentVersion));
  return { code: STATUS_BY_CODE[sessionError.code], details: sessionError.message, metadata };
}
