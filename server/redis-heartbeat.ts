// Whether Redis answers, not only whether its TCP connection is up. A frozen Redis (SIGSTOP, a stuck
// host, a stalled network) keeps the connection and fires no event, so readiness also needs a
// heartbeat: every `intervalMs` a PING (INFO replication when replica acknowledgements are required,
// which also counts the replicas) that must be answered within the command timeout.
import type { Cluster } from 'ioredis';
import type { RedisClient } from './redis-connection.ts';
import { describeRedisError, isNotSent } from './redis-failures.ts';
import { onlineReplicas } from './redis-replies.ts';

export type RedisReachability = 'connecting' | 'answering' | 'unreachable';

/** What sessiond knows about its Redis right now. Replaced (never mutated) on every change. */
export interface RedisStatus {
  /** `connecting` until the first answer or failure, then `answering` or `unreachable`. */
  readonly state: RedisReachability;
  /** Where Redis is (`host:port`, or the Sentinel primary's name); never a password. */
  readonly address: string;
  /** Why it is unreachable, in words ("connection refused", "no answer within 500 ms"); '' otherwise. */
  readonly reason: string;
  /** Replicas the primary reports online; undefined until known, or when replicaAcks is 0. */
  readonly replicas: number | undefined;
  /** replicaAcks: writes are refused while `replicas` is known and below it. */
  readonly replicasRequired: number;
}

/** A store that can say how its Redis is doing (health and metrics read it). */
export interface RedisStatusSource {
  readonly redisStatus: RedisStatus;
  /** Calls `listener` on every change of state or replica count; returns an unsubscribe function. */
  onRedisStatus(listener: (status: RedisStatus, previous: RedisStatus) => void): () => void;
}

export function hasRedisStatus(value: object): value is RedisStatusSource {
  return typeof (value as Partial<RedisStatusSource>).onRedisStatus === 'function';
}

/** True when writes must be refused because fewer replicas are online than replicaAcks asks. */
export function missingReplicas(status: RedisStatus): number {
  return status.replicas === undefined ? 0 : Math.max(0, status.replicasRequired - status.replicas);
}

export interface RedisHeartbeatOptions {
  address: string;
  /** Pause between two heartbeats, in ms. */
  intervalMs: number;
  /** The connection's command timeout (a heartbeat not answered in it fails), in ms. */
  commandTimeoutMs: number;
  replicasRequired: number;
  /** What a heartbeat sends when no replica count is needed; default a PING (a Cluster: each master). */
  probe?: () => Promise<unknown>;
}

export class RedisHeartbeat implements RedisStatusSource {
  #redis: RedisClient;
  #options: RedisHeartbeatOptions;
  #status: RedisStatus;
  #listeners = new Set<(status: RedisStatus, previous: RedisStatus) => void>();
  #connected = false;
  #connectionReason = 'not connected yet';
  #beating = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(redis: RedisClient, options: RedisHeartbeatOptions) {
    this.#redis = redis;
    this.#options = options;
    this.#status = { state: 'connecting', address: options.address, reason: '', replicas: undefined, replicasRequired: options.replicasRequired };
    redis.on('ready', () => {
      this.#connected = true;
      this.#connectionReason = '';
      this.beatNow();
    });
    redis.on('error', (error: unknown) => {
      this.#connectionReason = describeRedisError(error, options.commandTimeoutMs);
      if (!this.#connected) this.#set({ state: 'unreachable', reason: this.#connectionReason });
    });
    for (const event of ['close', 'end', 'reconnecting']) {
      redis.on(event, () => {
        if (this.#connectionReason === '') this.#connectionReason = 'connection closed';
        this.#connected = false;
        // A replica count read from one primary says nothing of the next one (Sentinel failover).
        this.#set({ state: 'unreachable', reason: this.#connectionReason, replicas: undefined });
      });
    }
    this.#schedule();
  }

  get redisStatus(): RedisStatus {
    return this.#status;
  }

  /** Why the connection is down, in words (for messages of commands that could not be sent). */
  get connectionReason(): string {
    return this.#connectionReason;
  }

  onRedisStatus(listener: (status: RedisStatus, previous: RedisStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Checks now (after a command timed out, or a write went unconfirmed), unless a check is running. */
  beatNow(): void {
    if (this.#beating || this.#stopped || !this.#connected) return;
    this.#beating = true;
    this.#beat().finally(() => {
      this.#beating = false;
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.beatNow();
      this.#schedule();
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    try {
      if (this.#options.replicasRequired > 0) {
        const info = await this.#redis.info('replication');
        this.#set({ state: 'answering', reason: '', replicas: onlineReplicas(info) });
      } else {
        await (this.#options.probe ? this.#options.probe() : this.#redis.ping());
        this.#set({ state: 'answering', reason: '' });
      }
    } catch (error) {
      // Not sent: the connection went down meanwhile, and its events say so.
      if (isNotSent(error) || !this.#connected) return;
      // An ACL user without INFO still talks to a live Redis: answering, replica count unknown (WAIT decides).
      if (error instanceof Error && error.name === 'ReplyError' && error.message.startsWith('NOPERM')) {
        this.#set({ state: 'answering', reason: '', replicas: undefined });
        return;
      }
      this.#set({ state: 'unreachable', reason: describeRedisError(error, this.#options.commandTimeoutMs) });
    }
  }

  #set(change: Partial<Pick<RedisStatus, 'state' | 'reason' | 'replicas'>>): void {
    if (this.#stopped) return;
    const previous = this.#status;
    const next = { ...previous, ...change };
    this.#status = next;
    if (next.state === previous.state && next.replicas === previous.replicas) return;
    for (const listener of this.#listeners) listener(next, previous);
  }
}

/** A master that owns slots and has no connection in ioredis' pool: at start, it has not answered. */
export class MasterNotConnectedError extends Error {
  override name = 'MasterNotConnectedError';
}

/**
 * The heartbeat of a Cluster. At start it answers only once every master has answered: a command for
 * a shard whose connection is still coming up would be refused unsent, so serving before that turns
 * the first calls of a fresh sessiond into SESS_ERR_STORE_UNAVAILABLE. Every master means every one
 * that owns slots, not only those ioredis holds a connection to: it drops a node whose connection
 * ended (a refused connect, a NAT map entry to a dead address) and finds it again only on a later
 * slot refresh. A master that stays silent holds that back for at most `startGraceMs` after another
 * master first answered; from then on (and once every master has answered) one answering master is
 * enough, as the other shards keep serving while one is lost. `reachAt` maps an announced `host:port`
 * to where sessiond reaches it (the NAT map), as ioredis' pool names its connections.
 */
export function clusterProbe(cluster: Cluster, startGraceMs: number, reachAt: (announced: string) => string = (address) => address): () => Promise<unknown> {
  let started = false;
  let firstAnswerAt: number | undefined;
  return async () => {
    const masters = cluster.nodes('master');
    const pings = masters.map((node) => node.ping());
    if (started) return Promise.any(pings);
    if (pings.length === 0) throw new Error('no Cluster master known yet');
    const connected = new Set(masters.map((node) => `${node.options.host}:${node.options.port}`));
    const unconnected = slotOwners(cluster).map(reachAt).find((address) => !connected.has(address));
    const results = await Promise.allSettled(pings);
    const failure = results.find((result) => result.status === 'rejected');
    if (failure === undefined && unconnected === undefined) {
      started = true;
      return;
    }
    if (results.some((result) => result.status === 'fulfilled')) {
      firstAnswerAt ??= Date.now();
      if (Date.now() - firstAnswerAt >= startGraceMs) {
        started = true;
        return;
      }
    }
    throw failure?.reason ?? new MasterNotConnectedError(`no connection to the Cluster master at ${unconnected} yet`);
  };
}

/** The `host:port` of each master that owns slots in ioredis' slot table, as Redis announced it. */
function slotOwners(cluster: Cluster): string[] {
  const owners = new Set<string>();
  for (const nodes of cluster.slots) if (nodes?.[0] !== undefined) owners.add(nodes[0]);
  return [...owners];
}
