// The operations of RedisSessionStore that span hash slots on a Redis Cluster, as sequences of
// single-slot scripts (redis-cluster-scripts.ts), each ordered so that a sessiond killed between any
// two steps leaves the data consistent (docs/architecture.md, "Redis Cluster"):
//
// - Regenerate stages a copy under the new handle (not live), indexes it for its owner, then commits
//   on the old slot (old session deleted, a marker names the new handle) and finishes on the new slot
//   (the copy becomes live). Whoever finds a staged copy whose old session moved to it finishes it, so
//   after the commit the new session is live for every reader, before it the old one.
// - An idempotent Create claims its id under the idempotency key first; a repeat takes the claimed id,
//   and the create script refuses to bring back an id whose session has gone since.
// - The owner index is a hint written before a session can be live and cleaned after it is gone:
//   listing checks each session's owner, so it never shows a ghost, and never misses a live session.
import type { Cluster } from 'ioredis';
import { SessionError } from '../proto/errors.ts';
import { openSessionId, sealSessionId } from './idempotent-id.ts';
import { alreadyExistsError, notFoundError, versionConflictError } from './field-ops.ts';
import { fromHgetall, isError, isReplay, num, parseRecord, scriptError, text, type Reply } from './redis-replies.ts';
import { hashText, sessionHandle } from './session-id.ts';
import type { CreateInput, MutationResult, RegenerateOptions, SessionSummary, StoreLimits } from './session-store.ts';

/** How long an owner index entry outlives its session's max lifetime; also how long an entry whose session never appeared is kept (a create in flight). */
export const OWNER_ENTRY_GRACE_MS = 60_000;

/** Stages of a multi-step operation, named for fault injection (a test kills sessiond at one). */
export type ClusterStep = 'create:claimed' | 'create:indexed' | 'regenerate:staged' | 'regenerate:indexed' | 'regenerate:moved' | 'regenerate:finished';

/** What the steps need from the store: its keys, and scripts and commands run with its failure rules. */
export interface ClusterStepContext {
  readonly redis: Cluster;
  readonly prefix: string;
  readonly limits: StoreLimits;
  /** Runs a script; ERR replies are returned, failures thrown as SessionErrors; writes wait for replicaAcks. */
  run(name: string, args: Array<string | Buffer | number>): Promise<Reply>;
  /** Runs plain commands with the store's failure mapping. */
  guard<T>(run: () => Promise<T>): Promise<T>;
  key(handle: string): string;
  channel(handle: string): string;
  ownerIndexKey(namespace: string, owner: string): string;
  /** Called after each step; a fault-injection test kills the process here. */
  onStep(step: ClusterStep): Promise<void> | void;
}

/** Attempts at a regenerate whose session keeps changing under it, or a create whose claim keeps moving. */
const MAX_ATTEMPTS = 4;

export class ClusterSteps {
  #ctx: ClusterStepContext;

  constructor(context: ClusterStepContext) {
    this.#ctx = context;
  }

  /** Create with an idempotency key: claim the id, index the owner, create (or replay). */
  async createIdempotent(input: CreateInput, createArgs: (id: string, record: string, mode: '1' | '2', sealed: string) => Array<string | Buffer | number>): Promise<MutationResult> {
    const ctx = this.#ctx;
    const key = input.idempotencyKey!;
    const claim = `${ctx.prefix}c:{${hashText(`${input.namespace}\n${key}`)}}`;
    let id = input.id;
    let replaces = '';
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      let sealed = sealSessionId(key, input.namespace, 'create', id);
      const claimed = await ctx.run('stkClaim', [claim, sealed, ctx.limits.idempotencyWindowMs, replaces]);
      const repeat = text(claimed[0]) === 'CLAIMED';
      if (repeat) {
        sealed = text(claimed[1]);
        id = openSessionId(key, input.namespace, 'create', sealed);
      }
      await ctx.onStep('create:claimed');
      const handle = sessionHandle(input.namespace, id);
      if (input.owner !== '') await this.indexOwner(input.namespace, input.owner, handle);
      await ctx.onStep('create:indexed');
      const record = `${ctx.key(handle)}:i:c${hashText(key)}`;
      const reply = await ctx.run('stkCreate', createArgs(id, record, repeat ? '2' : '1', sealed));
      if (isError(reply) && text(reply[1]) === 'GONE') {
        // The claimed id's session is gone: this call runs as a new create, under the caller's id.
        replaces = sealed;
        id = input.id;
        continue;
      }
      if (isError(reply)) throw scriptError(reply);
      if (isReplay(reply)) return { record: parseRecord(reply.slice(2), id, input.namespace), replayed: true };
      return { record: parseRecord(reply, id, input.namespace), replayed: false };
    }
    throw new SessionError('SESS_ERR_INTERNAL', `create with this idempotency key was claimed by another call ${MAX_ATTEMPTS} times in a row; nothing was created`);
  }

  /** Adds `handle` to the owner's index, before the session can be live. */
  async indexOwner(namespace: string, owner: string, handle: string): Promise<void> {
    const ctx = this.#ctx;
    await ctx.run('stkOwnerAdd', [ctx.ownerIndexKey(namespace, owner), handle, ctx.limits.maxLifetimeMs + OWNER_ENTRY_GRACE_MS]);
  }

  /** Drops `handle` from the owner's index after its session is gone; a failure leaves a hint that listing skips. */
  async unindexOwner(namespace: string, owner: string, handle: string): Promise<void> {
    const ctx = this.#ctx;
    await ctx.guard(() => ctx.redis.zrem(ctx.ownerIndexKey(namespace, owner), handle)).catch(() => {});
  }

  async regenerate(namespace: string, id: string, newId: string, options: RegenerateOptions): Promise<MutationResult> {
    const ctx = this.#ctx;
    const oldHandle = sessionHandle(namespace, id);
    const newHandle = sessionHandle(namespace, newId);
    const oldKey = ctx.key(oldHandle);
    const newKey = ctx.key(newHandle);
    const idempotencyKey = options.idempotencyKey;
    const recordKey = `${oldKey}:g:${idempotencyKey ? hashText(idempotencyKey) : '-'}`;
    if (idempotencyKey) {
      const replayed = await this.#replayRegenerate(namespace, idempotencyKey, oldHandle, recordKey);
      if (replayed) return replayed;
    }
    const sealed = idempotencyKey ? sealSessionId(idempotencyKey, namespace, oldHandle, newId) : '';
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const old = await ctx.guard(() => ctx.redis.hgetallBuffer(oldKey));
      if (!old._v) {
        if (await this.rollForward(oldKey)) continue;
        throw notFoundError();
      }
      // As on one Redis: the version is checked before whether the new id is free.
      if (options.expectedVersion !== undefined && num(old._v) !== options.expectedVersion) throw versionConflictError(num(old._v));
      const staged: Array<string | Buffer> = [];
      for (const [name, value] of Object.entries(old)) {
        if (name === '_o' && options.owner) staged.push(name, options.owner);
        else if (name === '_t' && options.ttlMs) staged.push(name, String(options.ttlMs));
        else staged.push(name, value);
      }
      const stage = await ctx.run('stkStage', [newKey, `${newKey}:p`, oldHandle, num(old._e), ...staged]);
      if (isError(stage)) throw text(stage[1]) === 'EXISTS' ? alreadyExistsError() : scriptError(stage);
      // A staging left by an earlier attempt is used as it is; its version is what the commit checks.
      const stagedVersion = num(stage[1]);
      await ctx.onStep('regenerate:staged');
      const oldOwner = text(old._o);
      const owner = options.owner || oldOwner;
      if (owner !== '') await this.indexOwner(namespace, owner, newHandle);
      await ctx.onStep('regenerate:indexed');
      const move = await ctx.run('stkMove', [
        oldKey, `${oldKey}:t`, `${oldKey}:m`, recordKey, stagedVersion, newHandle, ctx.limits.maxLifetimeMs, ctx.channel(oldHandle),
        idempotencyKey ? '1' : '0', ctx.limits.idempotencyWindowMs, `${sealed}|${newHandle}`, options.expectedVersion ?? '',
      ]);
      if (isError(move)) {
        const kind = text(move[1]);
        // Another call with this new id committed it (a concurrent repeat): finish it, as any reader would.
        if (kind === 'NOT_FOUND' && text(move[2]) === newHandle) {
          const finished = await this.#finish(newKey);
          if (isError(finished)) throw scriptError(finished);
          return { record: parseRecord(finished, newId, namespace), replayed: true };
        }
        // A staging that can never commit goes; one that still can (CONFLICT: the session is at the
        // staged version, the caller expected another) stays for whoever commits it, or expires.
        if (kind !== 'CONFLICT') await ctx.run('stkUnstage', [`${newKey}:p`, oldHandle, stagedVersion]);
        if (kind === 'CHANGED') continue;
        throw scriptError(move);
      }
      await ctx.onStep('regenerate:moved');
      const finished = await this.#finish(newKey);
      if (isError(finished)) throw scriptError(finished);
      await ctx.onStep('regenerate:finished');
      if (oldOwner !== '') await this.unindexOwner(namespace, oldOwner, oldHandle);
      return { record: parseRecord(finished, newId, namespace), replayed: false };
    }
    throw new SessionError('SESS_ERR_VERSION_CONFLICT', `the session changed during each of ${MAX_ATTEMPTS} attempts to regenerate it; nothing was changed, retry`);
  }

  /** A regenerate repeated with its idempotency key: the session it produced, as it is now. */
  async #replayRegenerate(namespace: string, idempotencyKey: string, oldHandle: string, recordKey: string): Promise<MutationResult | undefined> {
    const ctx = this.#ctx;
    const stored = await ctx.guard(() => ctx.redis.get(recordKey));
    const match = stored === null ? null : /^(\d+)\|([^|]*)\|(.*)$/.exec(stored);
    if (!match) return undefined;
    const newId = openSessionId(idempotencyKey, namespace, oldHandle, match[2]!);
    const newKey = ctx.key(match[3]!);
    const read = () => ctx.guard(() => ctx.redis.hgetallBuffer(newKey));
    let hash = await read();
    if (!hash._v && (await this.rollForward(newKey))) hash = await read();
    const record = fromHgetall(hash, newId, namespace);
    return record && record.createdAtMs === Number(match[1]) ? { record, replayed: true } : undefined;
  }

  /**
   * Finishes a regenerate that committed (its old session moved here) but did not finish, e.g. because
   * its sessiond died. True when the session at `key` is live now.
   */
  async rollForward(key: string): Promise<boolean> {
    const ctx = this.#ctx;
    const from = await ctx.guard(() => ctx.redis.hget(`${key}:p`, '_from'));
    if (!from) return false;
    const movedTo = await ctx.guard(() => ctx.redis.get(`${ctx.key(from)}:m`));
    if (movedTo === null || ctx.key(movedTo) !== key) return false;
    return !isError(await this.#finish(key));
  }

  #finish(newKey: string): Promise<Reply> {
    const ctx = this.#ctx;
    const handle = handleOf(newKey, ctx.prefix);
    return ctx.run('stkFinish', [newKey, `${newKey}:p`, `${newKey}:t`, ctx.limits.maxLifetimeMs, handle, ctx.channel(handle)]);
  }

  /** The owner's live sessions: each index entry checked against its session (owner, existence). */
  async listByOwner(namespace: string, owner: string): Promise<SessionSummary[]> {
    const ctx = this.#ctx;
    const index = ctx.ownerIndexKey(namespace, owner);
    const entries = await ctx.run('stkOwnerList', [index]);
    const now = num(entries[0]);
    const found = await Promise.all(pairs(entries.slice(1)).map(async ([handle, score]) => {
      const summary = await this.#summary(handle, owner);
      // An entry whose session never appeared (a create or regenerate that died before it), or that
      // belongs to someone else now, goes; a young one may be a create still in flight.
      const addedAt = score - ctx.limits.maxLifetimeMs - OWNER_ENTRY_GRACE_MS;
      if (!summary && now - addedAt > OWNER_ENTRY_GRACE_MS) await ctx.guard(() => ctx.redis.zrem(index, handle)).catch(() => {});
      return summary;
    }));
    return found.filter((s): s is SessionSummary => s !== undefined)
      .sort((a, b) => a.createdAtMs - b.createdAtMs || (a.handle < b.handle ? -1 : 1));
  }

  async #summary(handle: string, owner: string): Promise<SessionSummary | undefined> {
    const ctx = this.#ctx;
    const key = ctx.key(handle);
    const read = () => ctx.guard(() => ctx.redis.hmget(key, '_v', '_c', '_u', '_e', '_o'));
    let meta = await read();
    if (meta[0] === null && (await this.rollForward(key))) meta = await read();
    if (meta[0] === null || meta[4] !== owner) return undefined;
    return { handle, version: Number(meta[0]), createdAtMs: Number(meta[1]), updatedAtMs: Number(meta[2]), expiresAtMs: Number(meta[3]) };
  }

  /** Revokes the owner's sessions (or the listed handles among them), each on its own shard. */
  async revokeByOwner(namespace: string, owner: string, handles: readonly string[]): Promise<number> {
    const ctx = this.#ctx;
    const wanted = new Set(handles);
    const targets = (await this.listByOwner(namespace, owner)).filter((s) => wanted.size === 0 || wanted.has(s.handle));
    let revoked = 0;
    for (const { handle } of targets) {
      const reply = await ctx.run('stkRevokeOne', [ctx.key(handle), `${ctx.key(handle)}:t`, owner, ctx.limits.maxLifetimeMs, ctx.channel(handle)]);
      revoked += Number(reply);
      await this.unindexOwner(namespace, owner, handle);
    }
    return revoked;
  }
}

/** The handle in a session key `{prefix}s:{H}`. */
function handleOf(key: string, prefix: string): string {
  return key.slice(prefix.length + 3, -1);
}

function pairs(flat: Reply): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([text(flat[i]), num(flat[i + 1])]);
  return out;
}
