// SessionStore on Redis (standalone, Sentinel or Cluster) through ioredis. Every mutation is one Lua
// script (redis-scripts.ts); plain reads are one HGETALL/HMGET. Keys carry session handles, never ids.
// On a Cluster every script stays in one hash slot; what spans slots (regenerate, idempotent create,
// the owner index) runs as ordered steps in redis-cluster-steps.ts.
import { fromHgetall, fromHmget, isError, isReplay, num, parseChange, parseRecord, text } from './redis-replies.ts';
import { clusterReachAt, createClusterConnection, createRedisConnection, isClusterConnection, type RedisClient, type RedisConnectionOptions } from './redis-connection.ts';
import { ClusterSteps, type ClusterStep } from './redis-cluster-steps.ts';
import { ClusterSubscriber } from './redis-cluster-subscriber.ts';
import { describeRedisAddress } from './redis-failures.ts';
import { clusterProbe, RedisHeartbeat, type RedisStatus, type RedisStatusSource } from './redis-heartbeat.ts';
import { checkStoreArguments } from './field-ops.ts';
import { openSessionId, sealSessionId } from './idempotent-id.ts';
import { RedisScriptRunner, type ScriptName } from './redis-script-runner.ts';
import { RedisReplicaReader } from './redis-replica-reader.ts';
import { RedisSubscriber, type ChangeSubscriber } from './redis-subscriber.ts';
import { hashText, ownerHandle, sessionHandle } from './session-id.ts';
import type {
  ChangeFeed, CreateInput, FieldOp, GetOptions, HeadResult, MutationOptions, MutationResult, RegenerateOptions, SessionChange,
  SessionRecord, SessionStore, SessionSummary, StoreHealth, StoreLimits, TouchResult,
} from './session-store.ts';

export interface RedisSessionStoreOptions {
  connection: RedisConnectionOptions;
  /** Prepended to every key and channel, e.g. `stickless:`. */
  keyPrefix: string;
  limits: StoreLimits;
  /**
   * Replicas that must confirm each write (Redis WAIT) before it is acknowledged; 0 for none. A write
   * not confirmed in time fails with SESS_ERR_REPLICA_ACK_TIMEOUT: it is applied on the primary but
   * might not survive a failover, so the caller retries it (with its idempotency key). While the
   * heartbeat sees fewer online replicas than this, writes fail at once with
   * SESS_ERR_NOT_ENOUGH_REPLICAS, before anything is applied.
   */
  replicaAcks?: number;
  /** How long WAIT may take, in ms. Must stay below the connection's command timeout. */
  replicaAckTimeoutMs?: number;
  /** Pause between two heartbeats (PING, or INFO replication with replicaAcks), in ms. Default 1000. */
  heartbeatIntervalMs?: number;
  /**
   * On a Cluster, how long a fresh store waits for a silent master before it reports ready with the
   * masters that answer (it waits for every master until then), in ms. Default 10,000.
   */
  clusterStartGraceMs?: number;
  /**
   * Serve Get (without slide) from a replica when its copy exists and is at least the request's
   * minVersion; otherwise, or when the replica fails, from the primary. `urls` are the replicas of a
   * standalone primary; with Sentinel, Sentinel names one. Undefined: every read goes to the primary.
   */
  replicaReads?: { urls: readonly string[]; onRead?: (outcome: ReplicaReadOutcome) => void } | undefined;
  /**
   * Called after each step of an operation that spans hash slots on a Cluster (a fault-injection
   * test kills the process there); the default does nothing.
   */
  onClusterStep?: (step: ClusterStep) => Promise<void> | void;
}

/** Where a Get with replicaReads was answered: by a replica, or by the primary and why. */
export type ReplicaReadOutcome = 'replica' | 'behind' | 'missing' | 'failed' | 'none';

/** How long a fresh Cluster store waits for a silent master before serving the other shards (clusterStartGraceMs). */
const CLUSTER_START_GRACE_MS = 10_000;
const OP_CODES = { set: 's', delete: 'd', incrementInt: 'i', incrementFloat: 'f', append: 'a' } as const;

/** The commit time in a change message (`"t":"<ms>"`, redis-scripts.ts), read without a second JSON parse. */
const COMMIT_TIME = /"t":"(\d+)"/;

export class RedisSessionStore implements SessionStore, StoreHealth, RedisStatusSource, ChangeFeed {
  #redis: RedisClient;
  #cluster: ClusterSteps | undefined;
  #heartbeat: RedisHeartbeat;
  #runner: RedisScriptRunner;
  #subscriber: ChangeSubscriber;
  #prefix: string;
  #limits: StoreLimits;
  #readyListeners = new Set<(ready: boolean) => void>();
  #ready = false;
  #closed = false;
  #replicaReader: RedisReplicaReader | undefined;
  #onReplicaRead: (outcome: ReplicaReadOutcome) => void;

  constructor(options: RedisSessionStoreOptions) {
    this.#prefix = options.keyPrefix;
    this.#limits = options.limits;
    const cluster = isClusterConnection(options.connection) ? createClusterConnection(options.connection) : undefined;
    this.#redis = cluster ?? createRedisConnection(options.connection);
    const replicaAcks = options.replicaAcks ?? 0;
    // Ready means answering: connected and the last heartbeat answered in time (a frozen Redis keeps
    // its connection and fires no event). The heartbeat also reads the error events, for their reason.
    // On a Cluster the heartbeat asks every master (ready once all have answered at start, then while
    // any answers: the others' shards serve), and WAIT's own count decides replica acknowledgements.
    this.#heartbeat = new RedisHeartbeat(this.#redis, {
      address: describeRedisAddress(options.connection),
      intervalMs: options.heartbeatIntervalMs ?? 1000,
      commandTimeoutMs: options.connection.commandTimeoutMs,
      replicasRequired: cluster ? 0 : replicaAcks,
      ...(cluster ? { probe: clusterProbe(cluster, options.clusterStartGraceMs ?? CLUSTER_START_GRACE_MS, clusterReachAt(options.connection)) } : {}),
    });
    this.#heartbeat.onRedisStatus((status) => this.#setReady(status.state === 'answering'));
    this.#runner = new RedisScriptRunner(this.#redis, cluster !== undefined, {
      heartbeat: this.#heartbeat,
      commandTimeoutMs: options.connection.commandTimeoutMs,
      replicaAcks,
      replicaAckTimeoutMs: options.replicaAckTimeoutMs ?? 500,
      closed: () => this.#closed,
    });
    this.#redis.connect().catch(() => {});
    if (cluster) {
      this.#subscriber = new ClusterSubscriber(cluster, options.heartbeatIntervalMs ?? 1000);
      this.#cluster = new ClusterSteps({
        redis: cluster,
        prefix: this.#prefix,
        limits: this.#limits,
        run: (name, args) => this.#runner.run(name as ScriptName, args),
        guard: (run) => this.#runner.guard(run),
        key: (handle) => this.#key(handle),
        channel: (handle) => this.#channel(handle),
        ownerIndexKey: (namespace, owner) => this.#ownerIndexKey(namespace, owner),
        onStep: options.onClusterStep ?? (() => {}),
      });
      const steps = this.#cluster;
      this.#runner.rollForward = (key) => steps.rollForward(key);
    } else {
      const subscriberConnection = createRedisConnection(options.connection);
      subscriberConnection.on('error', () => {});
      subscriberConnection.connect().catch(() => {});
      this.#subscriber = new RedisSubscriber(subscriberConnection, options.heartbeatIntervalMs ?? 1000);
    }
    const replicaReads = options.replicaReads;
    this.#replicaReader = replicaReads && new RedisReplicaReader(options.connection, replicaReads.urls, options.heartbeatIntervalMs ?? 1000);
    this.#onReplicaRead = replicaReads?.onRead ?? (() => {});
  }

  get ready(): boolean {
    return this.#ready;
  }

  get redisStatus(): RedisStatus {
    return this.#heartbeat.redisStatus;
  }

  onRedisStatus(listener: (status: RedisStatus, previous: RedisStatus) => void): () => void {
    return this.#heartbeat.onRedisStatus(listener);
  }

  /** Resolves true once connected, false if that takes longer than `timeoutMs`. */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.#ready) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        unsubscribe();
        resolve(false);
      }, timeoutMs);
      const unsubscribe = this.onReadyChange((ready) => {
        if (!ready) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(true);
      });
    });
  }

  onReadyChange(listener: (ready: boolean) => void): () => void {
    this.#readyListeners.add(listener);
    return () => this.#readyListeners.delete(listener);
  }

  #setReady(ready: boolean): void {
    if (this.#ready === ready) return;
    this.#ready = ready;
    for (const listener of this.#readyListeners) listener(ready);
  }

  async create(input: CreateInput): Promise<MutationResult> {
    checkStoreArguments({ createTtlMs: input.ttlMs });
    // ARGV of the create script (redis-scripts.ts); on a Cluster the owner index is another slot's.
    const args = (id: string, mode: '0' | '1' | '2', sealed: string): Array<string | Buffer | number> => {
      const handle = sessionHandle(input.namespace, id);
      return [
        input.ttlMs, this.#limits.maxLifetimeMs, input.owner, this.#cluster ? '' : this.#ownerIndexKey(input.namespace, input.owner), handle, mode,
        this.#limits.idempotencyWindowMs, ...this.#limitArgs(), sealed, this.#channel(handle), ...flattenFields(input.fields),
      ];
    };
    if (this.#cluster && input.idempotencyKey) {
      return this.#cluster.createIdempotent(input, (id, record, mode, sealed) => {
        const key = this.#key(sessionHandle(input.namespace, id));
        return [key, `${key}:t`, record, ...args(id, mode, sealed)];
      });
    }
    const handle = sessionHandle(input.namespace, input.id);
    const key = this.#key(handle);
    if (this.#cluster && input.owner !== '') await this.#cluster.indexOwner(input.namespace, input.owner, handle);
    const idemKey = input.idempotencyKey
      ? `${this.#prefix}c:${hashText(`${input.namespace}\n${input.idempotencyKey}`)}`
      : this.#cluster ? `${key}:i:-` : `${this.#prefix}c:-`;
    const sealed = input.idempotencyKey ? sealSessionId(input.idempotencyKey, input.namespace, 'create', input.id) : '';
    const reply = await this.#runner.call('stkCreate', [key, `${key}:t`, idemKey, ...args(input.id, input.idempotencyKey ? '1' : '0', sealed)]);
    if (isReplay(reply)) {
      const id = openSessionId(input.idempotencyKey!, input.namespace, 'create', text(reply[1]));
      return { record: parseRecord(reply.slice(2), id, input.namespace), replayed: true };
    }
    return { record: parseRecord(reply, input.id, input.namespace), replayed: false };
  }

  async get(namespace: string, id: string, options: GetOptions = {}): Promise<SessionRecord | undefined> {
    const handle = sessionHandle(namespace, id);
    const names = options.fields ?? [];
    if (options.slide) {
      const reply = await this.#runner.call('stkGetSlide', [this.#key(handle), this.#limits.maxLifetimeMs, handle, ...names]);
      return isError(reply) ? undefined : parseRecord(reply, id, namespace);
    }
    const replica = this.#replicaReader?.pick();
    if (this.#replicaReader && !replica) this.#onReplicaRead('none');
    if (replica) {
      // Replication is asynchronous: a replica's copy is used only when it is there and recent enough.
      try {
        const record = await this.#read(replica, handle, names, id, namespace);
        const outcome = !record ? 'missing' : record.version < (options.minVersion ?? 0) ? 'behind' : 'replica';
        this.#onReplicaRead(outcome);
        if (outcome === 'replica') return record;
      } catch {
        this.#onReplicaRead('failed');
        this.#replicaReader!.failed(replica);
      }
    }
    const record = await this.#runner.guard(() => this.#read(this.#redis, handle, names, id, namespace));
    if (record || !this.#cluster || !(await this.#cluster.rollForward(this.#key(handle)))) return record;
    return this.#runner.guard(() => this.#read(this.#redis, handle, names, id, namespace));
  }

  /** One plain read (HGETALL, or HMGET of the meta and the named fields) on `redis`. */
  async #read(redis: RedisClient, handle: string, names: readonly string[], id: string, namespace: string): Promise<SessionRecord | undefined> {
    const reply = names.length === 0
      ? await redis.hgetallBuffer(this.#key(handle))
      : await redis.hmgetBuffer(this.#key(handle), '_v', '_c', '_u', '_e', '_t', '_o', ...names.map((n) => `f:${n}`));
    return Array.isArray(reply) ? fromHmget(reply, names, id, namespace) : fromHgetall(reply, id, namespace);
  }

  async put(namespace: string, id: string, fields: Map<string, Uint8Array>, options: MutationOptions = {}): Promise<MutationResult> {
    checkStoreArguments({ ttlMs: options.ttlMs });
    return this.#mutate('stkPut', namespace, id, options, flattenFields(fields));
  }

  async patch(namespace: string, id: string, ops: readonly FieldOp[], options: MutationOptions = {}): Promise<MutationResult> {
    checkStoreArguments({ ttlMs: options.ttlMs, ops });
    const args: Array<string | Buffer> = [];
    for (const op of ops) {
      const arg = op.kind === 'set' || op.kind === 'append' ? Buffer.from(op.value) : op.kind === 'delete' ? '' : String(op.by);
      args.push(OP_CODES[op.kind], op.field, arg);
    }
    return this.#mutate('stkPatch', namespace, id, options, args);
  }

  async delete(namespace: string, id: string, options: { expectedVersion?: number | undefined } = {}): Promise<boolean> {
    const handle = sessionHandle(namespace, id);
    const args = [this.#key(handle), `${this.#key(handle)}:t`, options.expectedVersion ?? '', this.#limits.maxLifetimeMs, handle, this.#channel(handle)];
    let reply = await this.#runner.call('stkDelete', args);
    if (reply[1] !== 1 && this.#cluster && (await this.#cluster.rollForward(this.#key(handle)))) reply = await this.#runner.call('stkDelete', args);
    const owner = text(reply[2]);
    if (reply[1] === 1 && this.#cluster && owner !== '') await this.#cluster.unindexOwner(namespace, owner, handle);
    return reply[1] === 1;
  }

  async touch(namespace: string, id: string, ttlMs: number): Promise<TouchResult | undefined> {
    checkStoreArguments({ ttlMs });
    const handle = sessionHandle(namespace, id);
    const reply = await this.#runner.call('stkTouch', [this.#key(handle), ttlMs, this.#limits.maxLifetimeMs, handle]);
    return isError(reply) ? undefined : { version: num(reply[1]), expiresAtMs: num(reply[2]) };
  }

  async regenerate(namespace: string, id: string, newId: string, options: RegenerateOptions = {}): Promise<MutationResult> {
    checkStoreArguments({ ttlMs: options.ttlMs });
    if (this.#cluster) return this.#cluster.regenerate(namespace, id, newId, options);
    const oldHandle = sessionHandle(namespace, id);
    const newHandle = sessionHandle(namespace, newId);
    const old = this.#key(oldHandle);
    const reply = await this.#runner.call('stkRegenerate', [
      old, this.#regenerateRecordKey(oldHandle, options.idempotencyKey), `${old}:t`, this.#key(newHandle), `${this.#key(newHandle)}:t`,
      ...this.#mutationArgs(options, newHandle),
      oldHandle, this.#channel(oldHandle), options.owner ?? '', this.#ownerIndexKey(namespace, options.owner ?? ''),
      options.idempotencyKey ? sealSessionId(options.idempotencyKey, namespace, oldHandle, newId) : '',
    ]);
    if (isReplay(reply)) {
      const id = openSessionId(options.idempotencyKey!, namespace, oldHandle, text(reply[1]));
      return { record: parseRecord(reply.slice(2), id, namespace), replayed: true };
    }
    return { record: parseRecord(reply, newId, namespace), replayed: false };
  }

  async listByOwner(namespace: string, owner: string): Promise<SessionSummary[]> {
    if (this.#cluster) return this.#cluster.listByOwner(namespace, owner);
    const reply = await this.#runner.call('stkListOwner', [this.#ownerIndexKey(namespace, owner), this.#prefix]);
    const out: SessionSummary[] = [];
    for (let i = 0; i + 4 < reply.length; i += 5) {
      out.push({
        handle: text(reply[i]), version: num(reply[i + 1]), createdAtMs: num(reply[i + 2]),
        updatedAtMs: num(reply[i + 3]), expiresAtMs: num(reply[i + 4]),
      });
    }
    return out.sort((a, b) => a.createdAtMs - b.createdAtMs || (a.handle < b.handle ? -1 : 1));
  }

  async revokeByOwner(namespace: string, owner: string, handles: readonly string[]): Promise<number> {
    if (this.#cluster) return this.#cluster.revokeByOwner(namespace, owner, handles);
    const reply = await this.#runner.guard(() =>
      this.#runner.script('stkRevokeOwner')(this.#ownerIndexKey(namespace, owner), this.#prefix, this.#limits.maxLifetimeMs, ...handles),
    true);
    await this.#runner.awaitReplicas('stkRevokeOwner', this.#ownerIndexKey(namespace, owner));
    return Number(reply);
  }

  async head(namespace: string, id: string): Promise<HeadResult> {
    const reply = (await this.#runner.guard(() => this.#runner.script('stkHead')(this.#key(sessionHandle(namespace, id))))) as number[];
    return { nowMs: reply[0]!, head: reply.length === 3 ? { version: reply[1]!, expiresAtMs: reply[2]! } : undefined };
  }

  async subscribe(
    namespace: string,
    id: string,
    onChange: (change: SessionChange, changedAtMs: number) => void,
    onGap: () => void = () => {},
  ): Promise<() => Promise<void>> {
    const channel = this.#channel(sessionHandle(namespace, id));
    const deliver = (message: string): void => onChange(parseChange(message), Number(COMMIT_TIME.exec(message)?.[1] ?? 0));
    return this.#runner.guard(() => this.#subscriber.subscribe(channel, deliver, onGap));
  }

  onChangeFeed(listener: (state: 'lost' | 'restored') => void): () => void {
    return this.#subscriber.onFeed(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#heartbeat.stop();
    this.#subscriber.close();
    this.#replicaReader?.close();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
    this.#setReady(false);
  }

  async #mutate(name: 'stkPut' | 'stkPatch', namespace: string, id: string, options: MutationOptions, tail: Array<string | Buffer>): Promise<MutationResult> {
    const handle = sessionHandle(namespace, id);
    const key = this.#key(handle);
    const reply = await this.#runner.call(name, [key, this.#idempotencyKey(key, options.idempotencyKey), ...this.#mutationArgs(options, handle), ...tail]);
    if (isReplay(reply)) return { record: parseRecord(reply.slice(1), id, namespace), replayed: true };
    return { record: parseRecord(reply, id, namespace), replayed: false };
  }

  /** ARGV 1-10 shared by put, patch and regenerate (see MUTATION_HEAD in redis-scripts.ts). */
  #mutationArgs(options: MutationOptions, handle: string): Array<string | number> {
    return [
      options.expectedVersion ?? '', options.ttlMs ?? 0, this.#limits.maxLifetimeMs, handle, this.#channel(handle),
      options.idempotencyKey ? '1' : '0', this.#limits.idempotencyWindowMs, ...this.#limitArgs(),
    ];
  }

  #limitArgs(): number[] {
    return [this.#limits.maxFields, this.#limits.maxSessionBytes, this.#limits.maxFieldBytes];
  }

  #key(handle: string): string {
    return `${this.#prefix}s:{${handle}}`;
  }

  #channel(handle: string): string {
    return `${this.#prefix}w:{${handle}}`;
  }

  #idempotencyKey(sessionKey: string, idempotencyKey: string | undefined): string {
    return idempotencyKey ? `${sessionKey}:i:${hashText(idempotencyKey)}` : `${sessionKey}:i:-`;
  }

  /** Regenerate's record is looked up from the old id but belongs to the new session: its own key space. */
  #regenerateRecordKey(oldHandle: string, idempotencyKey: string | undefined): string {
    return `${this.#prefix}g:${idempotencyKey ? hashText(`${oldHandle}\n${idempotencyKey}`) : '-'}`;
  }

  #ownerIndexKey(namespace: string, owner: string): string {
    return owner === '' ? '' : `${this.#prefix}o:{${ownerHandle(namespace, owner)}}`;
  }
}

function flattenFields(fields: Map<string, Uint8Array>): Array<string | Buffer> {
  const out: Array<string | Buffer> = [];
  for (const [name, value] of fields) out.push(name, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  return out;
}

