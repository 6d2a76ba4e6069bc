// Public surface of the stickless client. Everything else in client/ is internal and may change.
export { SessionClient } from './session-client.ts';
export {
  DEFAULT_CLIENT_OPTIONS, DEFAULT_NEAR_CACHE_OPTIONS, resolveClientOptions, type ClientTlsOptions, type NearCacheOptions, type RetryOptions,
  type SessionClientInit, type SessionClientOptions,
} from './options.ts';
export type {
  CallOptions, CreateOptions, DeleteOptions, GetOptions, IdempotentCallOptions, MutationCallOptions, RegenerateOptions,
  RevokeByOwnerOptions, TouchOptions, UpdateFunction, UpdateOptions,
} from './call-options.ts';
export type { PatchOp } from './patch-op.ts';
export type { SessionMutationResult, SessionSnapshot, SessionSummary, TouchResult } from './session-snapshot.ts';
export type { WatchEvent, WatchOptions } from './session-watch.ts';
export {
  CLIENT_CHANNELS, type ConflictMessage, type InvalidationMessage, type NearCacheStats, type ResyncMessage, type RetryMessage,
} from './diagnostics.ts';
export { fromGrpcError } from './errors.ts';
export { SessionError, SESSION_ERROR_CODES, isSessionErrorCode, type SessionErrorCode } from '../proto/errors.ts';
export {
  createExpressSessionStore,
  expressSessionId,
  DEFAULT_EXPRESS_STORE_OPTIONS,
  type ExpressSessionStoreOptions,
  type ExpressSessionData,
  type SessionApi,
} from './express-store.ts';
export { versionTokens, DEFAULT_VERSION_TOKEN_OPTIONS, type VersionTokenOptions } from './version-token.ts';
export { sessionMiddleware, resolveSessionOptions, RequestSession, type SessionMiddlewareOptions, type SessionMiddlewareApi } from './middleware.ts';
export { DEFAULT_SESSION_COOKIE_OPTIONS, type SessionCookieOptions } from './session-cookie.ts';
export { sticklessSession, sessionOf, createFastifySessionStore, type SticklessSessionPluginOptions, type FastifySessionStoreOptions, type FastifySessionStore } from './fastify-plugin.ts';
export { traceCallOptions, type TraceCallOptions } from './trace-context.ts';
