// The grpc.Server lifecycle of sessiond: build the store, bind, add the session and health services,
// and stop in two ways: close() drains (ends watches, lets in-flight calls finish within the grace
// period, then closes the store) and destroy() stops at once. Both are idempotent.
import * as grpc from '@grpc/grpc-js';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { sessionServiceDefinition } from '../proto/index.ts';
import type { ServerConfig } from './config.ts';
import { createHealthReporter, type HealthReporter } from './health.ts';
import { createLogger } from './logger.ts';
import { createServerMetrics, startMetricsServer } from './metrics.ts';
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
  /** Port of the /metrics listener, when `metricsListen` is set. */
  readonly metricsPort: number | undefined;
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
  const metrics = createServerMetrics();
  const service = createSessionService(store, { ...config, namespaceTokens: config.namespaceTokens }, logger, metrics);
  const health = createHealthReporter(store, logger, metrics);
  const server = new grpc.Server({
    // Leave room above the session limits so oversize requests reach our checks, which name the limit.
    'grpc.max_receive_message_length': config.maxSessionBytes * 2 + 1024 * 1024,
    'grpc.max_send_message_length': config.maxSessionBytes * 2 + 1024 * 1024,
  });
  server.addService(sessionServiceDefinition, service.handlers);
  health.implementation.addToServer(server);
  let metricsServer: Server | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(config.listen, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
    });
    if (config.metricsListen !== '') metricsServer = await startMetricsServer(metrics.registry, config.metricsListen);
    const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
    return new GrpcSessionServer({ server, store, service, health, logger, metricsServer, graceMs: config.shutdownGraceMs, address: `${host}:${port}`, port });
  } catch (error) {
    server.forceShutdown();
    metricsServer?.close();
    await store.close();
    throw error;
  }
}

interface ServerParts {
  server: grpc.Server;
  store: SessionStore;
  service: SessionService;
  health: HealthReporter;
  logger: Logger;
  metricsServer: Server | undefined;
  graceMs: number;
  address: string;
  port: number;
}

class GrpcSessionServer implements SessionServer {
  readonly address: string;
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly store: SessionStore;
  #parts: ServerParts;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(parts: ServerParts) {
    this.#parts = parts;
    this.store = parts.store;
    this.address = parts.address;
    this.port = parts.port;
    const metricsAddress = parts.metricsServer?.address();
    this.metricsPort = typeof metricsAddress === 'object' && metricsAddress ? metricsAddress.port : undefined;
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
    const { server, health, service, logger, graceMs } = this.#parts;
    logger.info('shutting down: draining in-flight calls');
    health.shutdown();
    service.endWatches();
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!drained) {
      logger.warn({ graceMs }, 'grace period over: cancelling remaining calls');
      server.forceShutdown();
    }
    await this.#release();
    logger.info('stopped');
  }

  async #destroy(): Promise<void> {
    this.#parts.health.shutdown();
    this.#parts.service.endWatches();
    this.#parts.server.forceShutdown();
    await this.#release();
  }

  async #release(): Promise<void> {
    const metricsServer = this.#parts.metricsServer;
    if (metricsServer) {
      metricsServer.closeAllConnections();
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    }
    await this.store.close();
  }
}
