// Public surface of sessiond for embedding and tests. Everything else in server/ is internal.
export { createSessionServer, createStore, storeLimits, type SessionServer, type SessionServerDependencies } from './session-server.ts';
export {
  parseServerConfig, redactServerConfig, DEFAULT_SERVER_OPTIONS, SERVER_ENV_VARS, SERVER_OPTIONS, ServerConfigError, type ConfigProblem, type ServerConfig,
} from './config.ts';
export { loadServerConfig, readServerEnv, readServerConfigFile, serverHelpText } from './config-sources.ts';
export type { SessionStore, StoreHealth, StoreLimits, SessionRecord, FieldOp } from './session-store.ts';
export { RedisSessionStore, type RedisSessionStoreOptions } from './session-store-redis.ts';
export { MemorySessionStore } from './session-store-memory.ts';
export { SessionError, SESSION_ERROR_CODES, type SessionErrorCode } from '../proto/errors.ts';
