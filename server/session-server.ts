// The grpc.Server lifecycle of sessiond: build the store, bind, add the session and health services,
// and stop in two ways: close() drains (ends watches, lets in-flight calls finish within the grace
// period, then closes the store) and destroy() stops at once. Both are idempotent.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { sessionServiceDefinition } from '../proto/index.ts';
import type { ServerConfig } from './config.ts';
import { createHealthReporter, type HealthReporter } from './health.ts';
import { createLogger } from './logger.ts';
import { createSessionService, type SessionService } from './session-service.ts';
import { MemorySessionStore } from './session-store-memory.ts';
import { RedisSessionStore } from './session-store-redis.ts';
import type { SessionStore, StoreLimits } from './session-store.ts';

export interface SessionServerDependencies {
  /** Use this store instead of building one from the config (tests, embedding). Closed on stop. */
  store?: SessionStore;
  logger?: Logger;
}

export interface SessionServer {
  /** `host:port` actually bound (the real port when the config asked for 0). */
  readonly address: string;
  readonly port: number;
  readonly store: SessionStore;
  /** Graceful stop: no new calls, watches ended, in-flight calls finish (up to shutdownGraceMs). */
  close(): Promise<void>;
  /** Immediate stop: in-flight calls are cancelled. */
  destroy(): Promise<void>;
}

export function storeLimits(config: Readonly<ServerConfig>): StoreLimits {
  return {
    maxSessionBytes: config.maxSessionBytes,
    maxFields: config.maxFields,
    maxFieldBytes: config.maxFieldBytes,
    maxLifetimeMs: config.maxLifetimeMs,
    idempotencyWindowMs: config.idempotencyWindowMs,
  };
}

export function createStore(config: Readonly<ServerConfig>): SessionStore {
  if (config.store === 'memory') return new MemorySessionStore(storeLimits(config));
  return new RedisSessionStore({
    connection: {
      url: config.redisUrl,
      sentinels: config.redisSentinels,
      sentinelName: config.redisSentinelName,
      password: config.redisPassword,
      commandTimeoutMs: config.commandTimeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
    },
    keyPrefix: config.keyPrefix,
    limits: storeLimits(config),
    replicaAcks: config.replicaAcks,
    replicaAckTimeoutMs: config.replicaAckTimeoutMs,
  });
}

export async function createSessionServer(config: Readonly<ServerConfig>, dependencies: SessionServerDependencies = {}): Promise<SessionServer> {
  const logger = dependencies.logger ?? createLogger(config.logLevel);
  const store = dependencies.store ?? createStore(config);
  const service = createSessionService(store, { ...config, namespaceTokens: config.namespaceTokens }, logger);
  const health = createHealthReporter(store, logger);
  const server = new grpc.Server({
    // Leave room above the session limits so oversize requests reach our checks, which name the limit.
    'grpc.max_receive_message_length': config.maxSessionBytes * 2 + 1024 * 1024,
    'grpc.max_send_message_length': config.maxSessionBytes * 2 + 1024 * 1024,
  });
  server.addService(sessionServiceDefinition, service.handlers);
  health.implementation.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(config.listen, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  }).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
  return new GrpcSessionServer(server, store, service, health, logger, config.shutdownGraceMs, `${host}:${port}`, port);
}

class GrpcSessionServer implements SessionServer {
  readonly address: string;
  readonly port: number;
  readonly store: SessionStore;
  #server: grpc.Server;
  #service: SessionService;
  #health: HealthReporter;
  #logger: Logger;
  #graceMs: number;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(server: grpc.Server, store: SessionStore, service: SessionService, health: HealthReporter, logger: Logger, graceMs: number, address: string, port: number) {
    this.#server = server;
    this.store = store;
    this.#service = service;
    this.#health = health;
    this.#logger = logger;
    this.#graceMs = graceMs;
    this.address = address;
    this.port = port;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#destroy();
    return this.#destroying;
  }

  async #close(): Promise<void> {
    this.#logger.info('shutting down: draining in-flight calls');
    this.#health.shutdown();
    this.#service.endWatches();
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.#graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!drained) {
      this.#logger.warn({ graceMs: this.#graceMs }, 'grace period over: cancelling remaining calls');
      this.#server.forceShutdown();
    }
    await this.store.close();
    this.#logger.info('stopped');
  }

  async #destroy(): Promise<void> {
    this.#health.shutdown();
    this.#service.endWatches();
    this.#server.forceShutdown();
    await this.store.close();
  }
}
