// The grpc.Server lifecycle of sessiond: build the store, bind, add the session and health services,
// and stop in two ways: close() drains (ends watches, lets in-flight calls finish within the grace
// period, then closes the store) and destroy() stops at once. Both are idempotent. With TLS files
// configured it serves TLS (or mTLS), and reloadTls() swaps certificates without unbinding.
import * as grpc from '@grpc/grpc-js';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { sessionServiceDefinition } from '../proto/index.ts';
import { ServerConfigError, type ServerConfig } from './config.ts';
import { createHealthReporter, type HealthReporter } from './health.ts';
import { createLogger } from './logger.ts';
import { createServerMetrics, startMetricsServer, type ServerMetrics } from './metrics.ts';
import { createSessionService, type SessionService } from './session-service.ts';
import { MemorySessionStore } from './session-store-memory.ts';
import { RedisSessionStore } from './session-store-redis.ts';
import type { SessionStore, StoreLimits } from './session-store.ts';
import { readRedisTls, ReloadableTlsServerCredentials } from './tls-credentials.ts';

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
  /** `off` (plaintext), `tls`, or `mtls` (client certificates required). */
  readonly tls: 'off' | 'tls' | 'mtls';
  /**
   * Reads tlsCertFile, tlsKeyFile and tlsCaFile again; new connections use them, open ones carry on.
   * Throws ServerConfigError naming the file's option, and then nothing changes.
   */
  reloadTls(): void;
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

export function createStore(config: Readonly<ServerConfig>, metrics?: ServerMetrics): SessionStore {
  if (config.store === 'memory') return new MemorySessionStore(storeLimits(config));
  return new RedisSessionStore({
    connection: {
      url: config.redisUrl,
      sentinels: config.redisSentinels,
      sentinelName: config.redisSentinelName,
      clusterNodes: config.redisClusterNodes,
      clusterNatMap: config.redisClusterNatMap,
      username: config.redisUsername,
      password: config.redisPassword,
      tls: readRedisTls(config),
      commandTimeoutMs: config.commandTimeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
    },
    keyPrefix: config.keyPrefix,
    limits: storeLimits(config),
    replicaAcks: config.replicaAcks,
    replicaAckTimeoutMs: config.replicaAckTimeoutMs,
    replicaReads: config.readFromReplicas ? { urls: config.redisReplicaUrls, onRead: (outcome) => metrics?.countReplicaRead(outcome) } : undefined,
  });
}

export async function createSessionServer(config: Readonly<ServerConfig>, dependencies: SessionServerDependencies = {}): Promise<SessionServer> {
  const logger = dependencies.logger ?? createLogger(config.logLevel);
  // Before anything is started: unreadable or mismatched TLS files stop here, naming the option.
  const tls = config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
    ? new ReloadableTlsServerCredentials({ tlsCertFile: config.tlsCertFile, tlsKeyFile: config.tlsKeyFile, tlsCaFile: config.tlsCaFile })
    : undefined;
  const metrics = createServerMetrics();
  const store = dependencies.store ?? createStore(config, metrics);
  const service = createSessionService(store, { ...config, namespaceTokens: config.namespaceTokens }, logger, metrics);
  const health = createHealthReporter(store, logger, metrics);
  const server = new grpc.Server({
    // Leave room above the session limits so oversize requests reach our checks, which name the limit.
    'grpc.max_receive_message_length': config.maxSessionBytes * 2 + 1024 * 1024,
    'grpc.max_send_message_length': config.maxSessionBytes * 2 + 1024 * 1024,
  });
  server.addService(sessionServiceDefinition, service.handlers);
  health.implementation.addToServer(server);
  // Server reflection (config `reflection`, on by default), loaded only when on.
  if (config.reflection) (await import('../proto/reflection.ts')).addReflectionService(server);
  let metricsServer: Server | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(config.listen, tls ?? grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error) reject(bindError('listen', config.listen, error));
        else resolve(bound);
      });
    });
    if (config.metricsListen !== '') {
      metricsServer = await startMetricsServer(metrics.registry, config.metricsListen).catch((error: unknown) => {
        throw bindError('metricsListen', config.metricsListen, error as Error);
      });
    }
    const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
    return new GrpcSessionServer({ server, store, service, health, logger, metricsServer, tls, graceMs: config.shutdownGraceMs, address: `${host}:${port}`, port });
  } catch (error) {
    server.forceShutdown();
    metricsServer?.close();
    await store.close();
    throw error;
  }
}

/** A listen failure as a problem of the option that named the address, in plain words. */
function bindError(option: keyof ServerConfig, address: string, error: Error): ServerConfigError {
  const text = error.message;
  const reason = /EADDRINUSE/.test(text) ? 'address already in use'
    : /EACCES/.test(text) ? 'permission denied (a port below 1024 needs privileges)'
      : /EADDRNOTAVAIL/.test(text) ? 'address not available on this machine'
        : /Name resolution failed|ENOTFOUND|EAI_AGAIN/.test(text) ? 'host name does not resolve'
          : /\[([^\]]+)\]/.exec(text)?.[1] ?? text.split('\n')[0]!;
  return new ServerConfigError([{ option, message: `cannot listen on ${address}: ${reason}` }]);
}

interface ServerParts {
  server: grpc.Server;
  store: SessionStore;
  service: SessionService;
  health: HealthReporter;
  logger: Logger;
  metricsServer: Server | undefined;
  tls: ReloadableTlsServerCredentials | undefined;
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

  get tls(): 'off' | 'tls' | 'mtls' {
    return this.#parts.tls?.mode ?? 'off';
  }

  reloadTls(): void {
    this.#parts.tls?.reload();
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
