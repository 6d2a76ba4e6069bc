// How RedisSessionStore runs its scripts and commands: the scripts defined once on the connection
// (EVALSHA, with the Buffer variant so binary values stay intact), failures mapped to SessionErrors in
// our words (redis-failures.ts), writes refused up front while replicas are missing, and `WAIT` for
// replicaAcks after each write that changes a session, on the connection that took it.
import type { Cluster, Redis } from 'ioredis';
import { SessionError } from '../proto/errors.ts';
import { CLUSTER_STEP_SCRIPTS } from './redis-cluster-scripts.ts';
import type { RedisClient } from './redis-connection.ts';
import { isClusterNodeNotReady, toStoreError } from './redis-failures.ts';
import { missingReplicas, type RedisHeartbeat } from './redis-heartbeat.ts';
import { isError, scriptError, text, type Reply } from './redis-replies.ts';
import { sessionScripts, shardedScript, type SessionScriptName } from './redis-scripts.ts';

export type ScriptName = SessionScriptName | keyof typeof CLUSTER_STEP_SCRIPTS;
export type ScriptArgs = Array<string | Buffer | number>;

/** Scripts that change sessions, after which replica acknowledgement applies. */
const WRITE_SCRIPTS: ReadonlySet<ScriptName> = new Set([
  'stkCreate', 'stkPut', 'stkPatch', 'stkDelete', 'stkRegenerate', 'stkRevokeOwner', 'stkMove', 'stkFinish', 'stkRevokeOne',
]);
/** Cluster steps that write, though no session changes by them alone (a failure is "maybe applied"). */
const STEP_WRITES: ReadonlySet<ScriptName> = new Set(['stkClaim', 'stkStage', 'stkUnstage', 'stkOwnerAdd']);
/** Scripts on one session that answer NOT_FOUND; on a Cluster a staged regenerate may be finished first. */
const SESSION_SCRIPTS_ROLLING: ReadonlySet<ScriptName> = new Set(['stkGetSlide', 'stkTouch', 'stkPut', 'stkPatch']);

type ScriptCall = (...args: ScriptArgs) => Promise<unknown>;

export interface RedisScriptRunnerOptions {
  heartbeat: RedisHeartbeat;
  commandTimeoutMs: number;
  replicaAcks: number;
  replicaAckTimeoutMs: number;
  /** True once the store is closed: every call then fails with STORE_UNAVAILABLE. */
  closed: () => boolean;
}

export class RedisScriptRunner {
  #redis: RedisClient;
  #cluster: boolean;
  #scripts = {} as Record<ScriptName, ScriptCall>;
  #options: RedisScriptRunnerOptions;
  /** On a Cluster: finishes a regenerate committed to `key` but not finished; true when it did. */
  rollForward: (key: string) => Promise<boolean> = async () => false;

  constructor(redis: RedisClient, cluster: boolean, options: RedisScriptRunnerOptions) {
    this.#redis = redis;
    this.#cluster = cluster;
    this.#options = options;
    const commands = redis as unknown as Record<string, ScriptCall>;
    const steps = cluster ? Object.entries(CLUSTER_STEP_SCRIPTS).map(([name, definition]) => [name, shardedScript(definition)] as const) : [];
    for (const [name, definition] of [...Object.entries(sessionScripts(cluster)), ...steps]) {
      redis.defineCommand(name, definition);
      // The Buffer variant keeps binary field values intact; bound once, not per call.
      this.#scripts[name as ScriptName] = commands[`${name}Buffer`]!.bind(redis);
    }
  }

  /** The script to run; a write is refused here, before it is sent, while replicas are missing. */
  script(name: ScriptName): ScriptCall {
    const missing = WRITE_SCRIPTS.has(name) ? missingReplicas(this.#options.heartbeat.redisStatus) : 0;
    if (missing > 0) {
      const { address, replicas, replicasRequired } = this.#options.heartbeat.redisStatus;
      throw new SessionError(
        'SESS_ERR_NOT_ENOUGH_REPLICAS',
        `the Redis primary at ${address} has ${replicas} online replica(s) and replicaAcks is ${replicasRequired}: the write was refused and nothing was applied`,
      );
    }
    return this.#scripts[name];
  }

  /**
   * Runs a script (its first key names its slot) and waits for replicaAcks after a write; ERR replies
   * are returned as they are. On a Cluster, a session script that finds no session first finishes a
   * regenerate staged under that key, if one committed, and runs again.
   */
  async run(name: ScriptName, args: ScriptArgs): Promise<Reply> {
    const run = async () => (await this.guard(() => this.script(name)(...args), WRITE_SCRIPTS.has(name) || STEP_WRITES.has(name))) as Reply;
    let reply = await run();
    if (this.#cluster && isError(reply) && text(reply[1]) === 'NOT_FOUND' && SESSION_SCRIPTS_ROLLING.has(name) && (await this.rollForward(String(args[0])))) {
      reply = await run();
    }
    if (!isError(reply)) await this.awaitReplicas(name, String(args[0]));
    return reply;
  }

  /** Runs a script and turns its {'ERR', ...} replies into SessionErrors. */
  async call(name: ScriptName, args: ScriptArgs): Promise<Reply> {
    const reply = await this.run(name, args);
    if (isError(reply)) {
      const kind = text(reply[1]);
      if (kind !== 'NOT_FOUND' || (name !== 'stkGetSlide' && name !== 'stkTouch')) throw scriptError(reply);
    }
    return reply;
  }

  /**
   * WAIT for `replicaAcks` replicas after a write, on the connection that took it (which covers every
   * earlier write on it): on a Cluster, WAIT rides in a pipeline with a read of `key`, so it goes to
   * the master of the key's slot.
   */
  async awaitReplicas(name: ScriptName, key: string): Promise<void> {
    if (this.#options.replicaAcks === 0 || !WRITE_SCRIPTS.has(name)) return;
    // The write is applied on the primary whatever happens to WAIT, so every failure here says so.
    const acked = await this.#wait(key).then(Number, (error: unknown) => error);
    if (typeof acked === 'number' && acked >= this.#options.replicaAcks) return;
    this.#options.heartbeat.beatNow();
    const confirmed = typeof acked === 'number'
      ? `confirmed by ${acked} of replicaAcks (${this.#options.replicaAcks}) replicas within ${this.#options.replicaAckTimeoutMs} ms`
      : `not confirmed: the primary at ${this.#options.heartbeat.redisStatus.address} did not answer WAIT`;
    throw new SessionError(
      'SESS_ERR_REPLICA_ACK_TIMEOUT',
      `write applied on the Redis primary but ${confirmed}; a failover now could lose it. Retry it with the same idempotency key to wait for the replicas again`,
      typeof acked === 'number' ? undefined : { cause: acked },
    );
  }

  async #wait(key: string): Promise<unknown> {
    if (!this.#cluster) return (this.#redis as Redis).wait(this.#options.replicaAcks, this.#options.replicaAckTimeoutMs);
    const replies = await (this.#redis as Cluster).pipeline().exists(key).wait(this.#options.replicaAcks, this.#options.replicaAckTimeoutMs).exec();
    const [error, acked] = replies?.[1] ?? [new Error('WAIT got no reply')];
    if (error) throw error;
    return acked;
  }

  /**
   * Maps failures to SessionErrors in our words (redis-failures.ts): never sent → STORE_UNAVAILABLE,
   * a `write` sent without an answer → OUTCOME_UNKNOWN, unexpected Redis errors → INTERNAL.
   */
  async guard<T>(run: () => Promise<T>, write = false): Promise<T> {
    if (this.#options.closed()) throw new SessionError('SESS_ERR_STORE_UNAVAILABLE', 'session store is closed; nothing was applied');
    const deadline = Date.now() + this.#options.commandTimeoutMs;
    for (;;) {
      try {
        return await run();
      } catch (error) {
        // A Cluster that refused the command, or a node connection still coming up, ran none of it:
        // send it again (to its slot's master, not to a random node as ioredis' own CLUSTERDOWN retry
        // does) for about the command timeout.
        if (this.#cluster && (isClusterRefusal(error) || isClusterNodeNotReady(error)) && Date.now() + CLUSTER_RETRY_DELAY_MS < deadline && !this.#options.closed()) {
          await new Promise((resolve) => setTimeout(resolve, CLUSTER_RETRY_DELAY_MS));
          continue;
        }
        throw this.#failure(error, write);
      }
    }
  }

  #failure(error: unknown, write: boolean): SessionError {
    if (error instanceof SessionError) return error;
    const failure = toStoreError(error, {
      address: this.#options.heartbeat.redisStatus.address,
      write,
      commandTimeoutMs: this.#options.commandTimeoutMs,
      connectionReason: this.#options.heartbeat.connectionReason || 'not connected',
    });
    // A command without an answer: check now rather than at the next heartbeat.
    if (failure.code !== 'SESS_ERR_INTERNAL') this.#options.heartbeat.beatNow();
    return failure;
  }
}

/** Pause before a command a Cluster refused is sent again, in ms. */
const CLUSTER_RETRY_DELAY_MS = 100;

/** CLUSTERDOWN (a slot without a master, e.g. during a failover) or TRYAGAIN (a slot being moved). */
function isClusterRefusal(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && /^(CLUSTERDOWN|TRYAGAIN) /.test(error.message);
}
