// How sessiond connects to Redis: one place that turns options into an ioredis client with the
// settings that make failures fast and recoverable (no offline queue, no silent re-sends, endless
// reconnects with a capped backoff), for a standalone primary, a Sentinel-managed one or a Cluster.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionOptions as TlsOptions } from 'node:tls';

/** Where Redis is and how long to wait for it. */
export interface RedisConnectionOptions {
  /** `redis://[:password@]host:port[/db]` of a standalone primary. Ignored when `sentinels` is set. */
  url: string;
  /** Sentinel addresses (`host:port`); when non-empty, the primary is found through them. */
  sentinels: readonly string[];
  /** Name of the monitored primary (`sentinel monitor <name> ...`). */
  sentinelName: string;
  /** Seed nodes (`host:port`) of a Redis Cluster; when non-empty, the store runs on the cluster. */
  clusterNodes?: readonly string[] | undefined;
  /** Cluster nodes' announced `host:port` -> the `host:port` to reach them at (NAT, containers). */
  clusterNatMap?: Readonly<Record<string, string>> | undefined;
  /** ACL user; with Sentinel, of the Redis servers behind it. Standalone: instead of the URL's. */
  username?: string | undefined;
  /** Password; with Sentinel, of the Redis servers behind it. Standalone: instead of the URL's. */
  password?: string | undefined;
  /**
   * TLS towards Redis (CA, client certificate), or undefined for plaintext. Standalone: set it for
   * `rediss://` URLs. Sentinel: used for the sentinels and for the servers behind them.
   */
  tls?: TlsOptions | undefined;
  /**
   * A command that got no answer within this many ms fails: SESS_ERR_OUTCOME_UNKNOWN for a mutation,
   * SESS_ERR_STORE_UNAVAILABLE for a read (redis-failures.ts). Also the heartbeat's timeout.
   */
  commandTimeoutMs: number;
  /** TCP connect timeout in ms. */
  connectTimeoutMs: number;
}

/** Pause before ioredis sends again a command a Cluster answered TRYAGAIN (a slot being moved), in ms. */
const CLUSTER_RETRY_DELAY_MS = 100;

/** Longest pause between reconnect attempts, in ms. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** A connection to one Redis (standalone, Sentinel) or to a whole Cluster: the store works on both. */
export type RedisClient = Redis | Cluster;

export function isClusterConnection(options: RedisConnectionOptions): boolean {
  return (options.clusterNodes?.length ?? 0) > 0;
}

export function createRedisConnection(options: RedisConnectionOptions, overrides: Partial<RedisOptions> = {}): Redis {
  const common = nodeOptions(options, overrides);
  if (options.sentinels.length > 0) {
    return new Redis({
      ...common,
      sentinels: options.sentinels.map((address) => {
        const [host, port] = splitHostPort(address);
        return { host, port };
      }),
      name: options.sentinelName,
      ...(options.tls ? { enableTLSForSentinelMode: true, sentinelTLS: options.tls } : {}),
      sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    });
  }
  return new Redis(options.url, common);
}

/**
 * A Cluster connection with the same failure rules: no offline queue, nothing re-sent after a
 * connection closed with the command possibly applied (retryDelayOnFailover 0). Redirections (MOVED,
 * ASK, TRYAGAIN, CLUSTERDOWN) are followed: Redis answers them without running the command.
 */
export function createClusterConnection(options: RedisConnectionOptions): Cluster {
  const natMap = clusterNatMap(options);
  const clusterOptions: ClusterOptions = {
    redisOptions: nodeOptions(options, { lazyConnect: false }),
    enableOfflineQueue: false,
    lazyConnect: true,
    retryDelayOnFailover: 0,
    // CLUSTERDOWN comes back to the store, which sends the command again to its slot's master
    // (redis-script-runner.ts): ioredis' own retry picks a random node, perhaps a dead one, and a
    // command that fails there cannot tell "not sent" from "maybe applied".
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
    maxRedirections: 16,
    slotsRefreshTimeout: options.commandTimeoutMs,
    // No slotsRefreshInterval: its timer can re-arm itself after quit() (a refresh in flight calls it
    // back) and keep the process alive. Commands follow MOVED; ClusterSubscriber refreshes the slot
    // table on its own heartbeat, which stops with it.
    clusterRetryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    ...(Object.keys(natMap).length > 0 ? { natMap } : {}),
  };
  return new Cluster(options.clusterNodes!.map((address) => {
    const [host, port] = splitHostPort(address);
    return { host, port };
  }), clusterOptions);
}

/** The NAT map as ioredis takes it: announced `host:port` -> `{ host, port }` to reach it at. */
function clusterNatMap(options: RedisConnectionOptions): Record<string, { host: string; port: number }> {
  return Object.fromEntries(Object.entries(options.clusterNatMap ?? {}).map(([from, to]) => {
    const [host, port] = splitHostPort(to);
    return [from, { host, port }];
  }));
}

/**
 * Where sessiond reaches a Cluster node Redis announced as `host:port`: through the NAT map if it
 * names that address, else there; in the form ioredis' pool names its connections (`host:port`).
 */
export function clusterReachAt(options: RedisConnectionOptions): (announced: string) => string {
  const natMap = clusterNatMap(options);
  return (announced) => {
    const to = natMap[announced];
    return to === undefined ? announced : `${to.host}:${to.port}`;
  };
}

function nodeOptions(options: RedisConnectionOptions, overrides: Partial<RedisOptions>): RedisOptions {
  return {
    // Commands fail at once while disconnected instead of queueing: callers get UNAVAILABLE within
    // the deadline, and nothing is applied late behind their back.
    enableOfflineQueue: false,
    // A command in flight when the connection drops is failed, never re-sent: a mutation that may
    // have applied must not apply twice (idempotency keys make client retries safe instead).
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    lazyConnect: true,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...overrides,
  };
}

export function splitHostPort(address: string): [string, number] {
  const index = address.lastIndexOf(':');
  if (index <= 0) return [address, 26379];
  return [address.slice(0, index).replace(/^\[|\]$/g, ''), Number(address.slice(index + 1))];
}
