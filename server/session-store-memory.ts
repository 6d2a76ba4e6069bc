// SessionStore in one process: the demo's embedded store and the second implementation that keeps
// the interface honest. Every method runs to completion without awaiting, so each mutation is atomic
// the way a Redis script is. Semantics follow session-store.ts and test/contract/session-store.ts.
import { SessionError } from '../proto/errors.ts';
import {
  alreadyExistsError, applyFieldOp, checkFieldLimits, checkPatchLimits, checkStoreArguments, notFoundError, versionConflictError,
} from './field-ops.ts';
import { sessionHandle } from './session-id.ts';
import type {
  CreateInput,
  FieldOp,
  GetOptions,
  HeadResult,
  MutationOptions,
  MutationResult,
  RegenerateOptions,
  SessionChange,
  SessionRecord,
  SessionStore,
  SessionSummary,
  StoreLimits,
  TouchResult,
} from './session-store.ts';

export interface MemorySessionStoreOptions {
  /** Clock in Unix ms; tests inject one to expire sessions without waiting. */
  now?: () => number;
  /** How often expired sessions, tombstones and idempotency keys are dropped. Default 1000. */
  sweepIntervalMs?: number;
}

interface Entry {
  fields: Map<string, Uint8Array>;
  version: number;
  createdAtMs: number;
  updatedAtMs: number;
  expiresAtMs: number;
  ttlMs: number;
  owner: string;
}

/** An idempotency record: which session a call produced, never its fields (as in Redis). */
interface Remembered {
  /** keyOf() of the session the call produced. */
  sessionKey: string;
  /** Version the call produced and created time of its session: a replay needs both still to hold. */
  version: number;
  createdAtMs: number;
  expiresAtMs: number;
}

interface Watcher {
  onChange: (change: SessionChange, changedAtMs: number) => void;
  active: boolean;
}

/** Maps are keyed by `${namespace}\n${id}`; namespaces and ids never contain a newline. */
export class MemorySessionStore implements SessionStore {
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  readonly #sessions = new Map<string, Entry>();
  /** Last version of a deleted id, so a re-created id continues above it. */
  readonly #tombstones = new Map<string, { version: number; expiresAtMs: number }>();
  readonly #idempotency = new Map<string, Remembered>();
  /** Session key -> keys of the records that produced that session, removed with it. */
  readonly #recordsBySession = new Map<string, Set<string>>();
  /** `${namespace}\n${owner}` -> ids. */
  readonly #owners = new Map<string, Set<string>>();
  readonly #watchers = new Map<string, Set<Watcher>>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(limits: StoreLimits, options: MemorySessionStoreOptions = {}) {
    this.#limits = { ...limits };
    this.#now = options.now ?? Date.now;
    this.#sweepTimer = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 1000);
    this.#sweepTimer.unref();
  }

  /** Entry counts, for tests and metrics. Includes expired entries not yet swept. */
  get size(): { sessions: number; tombstones: number; idempotencyKeys: number; owners: number } {
    return {
      sessions: this.#sessions.size,
      tombstones: this.#tombstones.size,
      idempotencyKeys: this.#idempotency.size,
      owners: this.#owners.size,
    };
  }

  async create(input: CreateInput): Promise<MutationResult> {
    this.#assertOpen();
    const { namespace, id, ttlMs, owner, idempotencyKey } = input;
    checkStoreArguments({ createTtlMs: ttlMs });
    const rememberKey = idempotencyKey ? `create\n${namespace}\n${idempotencyKey}` : undefined;
    const replay = this.#replay(rememberKey);
    if (replay) return replay;
    const key = keyOf(namespace, id);
    if (this.#live(key)) throw alreadyExistsError();
    const fields = copyFields(input.fields);
    this.#checkLimits(fields);
    const now = this.#now();
    const entry: Entry = {
      fields,
      version: (this.#tombstone(key) ?? 0) + 1,
      createdAtMs: now,
      updatedAtMs: now,
      expiresAtMs: Math.min(now + ttlMs, now + this.#limits.maxLifetimeMs),
      ttlMs,
      owner,
    };
    this.#tombstones.delete(key);
    this.#sessions.set(key, entry);
    this.#index(namespace, owner, id);
    return this.#remember(rememberKey, toRecord(namespace, id, entry));
  }

  async get(namespace: string, id: string, options: GetOptions = {}): Promise<SessionRecord | undefined> {
    this.#assertOpen();
    const entry = this.#live(keyOf(namespace, id));
    if (!entry) return undefined;
    if (options.slide) this.#rearm(entry, 0);
    const only = options.fields && options.fields.length > 0 ? options.fields : undefined;
    return toRecord(namespace, id, entry, only);
  }

  async put(namespace: string, id: string, fields: Map<string, Uint8Array>, options: MutationOptions = {}): Promise<MutationResult> {
    this.#assertOpen();
    checkStoreArguments({ ttlMs: options.ttlMs });
    const rememberKey = mutationKey(namespace, id, options.idempotencyKey);
    const replay = this.#replay(rememberKey);
    if (replay) return replay;
    const entry = this.#existing(namespace, id, options.expectedVersion);
    const next = copyFields(fields);
    this.#checkLimits(next);
    const changed = new Set(next.keys());
    for (const name of entry.fields.keys()) changed.add(name);
    entry.fields = next;
    this.#bump(entry, options.ttlMs);
    this.#publish(keyOf(namespace, id), { kind: 'updated', version: entry.version, fields: [...changed], expiresAtMs: entry.expiresAtMs }, entry.updatedAtMs);
    return this.#remember(rememberKey, toRecord(namespace, id, entry));
  }

  async patch(namespace: string, id: string, ops: readonly FieldOp[], options: MutationOptions = {}): Promise<MutationResult> {
    this.#assertOpen();
    checkStoreArguments({ ttlMs: options.ttlMs, ops });
    const rememberKey = mutationKey(namespace, id, options.idempotencyKey);
    const replay = this.#replay(rememberKey);
    if (replay) return replay;
    const entry = this.#existing(namespace, id, options.expectedVersion);
    const next = new Map(entry.fields);
    for (const op of ops) applyFieldOp(next, op);
    checkPatchLimits(next, ops, this.#limits);
    entry.fields = next;
    this.#bump(entry, options.ttlMs);
    const changed = [...new Set(ops.map((op) => op.field))];
    this.#publish(keyOf(namespace, id), { kind: 'updated', version: entry.version, fields: changed, expiresAtMs: entry.expiresAtMs }, entry.updatedAtMs);
    return this.#remember(rememberKey, toRecord(namespace, id, entry));
  }

  async delete(namespace: string, id: string, options: { expectedVersion?: number | undefined } = {}): Promise<boolean> {
    this.#assertOpen();
    const key = keyOf(namespace, id);
    const entry = this.#live(key);
    if (!entry) return false;
    checkVersion(entry, options.expectedVersion);
    this.#remove(namespace, id, entry);
    return true;
  }

  async touch(namespace: string, id: string, ttlMs: number): Promise<TouchResult | undefined> {
    this.#assertOpen();
    checkStoreArguments({ ttlMs });
    const entry = this.#live(keyOf(namespace, id));
    if (!entry) return undefined;
    this.#rearm(entry, ttlMs);
    return { version: entry.version, expiresAtMs: entry.expiresAtMs };
  }

  async regenerate(namespace: string, id: string, newId: string, options: RegenerateOptions = {}): Promise<MutationResult> {
    this.#assertOpen();
    checkStoreArguments({ ttlMs: options.ttlMs });
    const rememberKey = mutationKey(namespace, id, options.idempotencyKey);
    const replay = this.#replay(rememberKey);
    if (replay) return replay;
    const entry = this.#existing(namespace, id, options.expectedVersion);
    const newKey = keyOf(namespace, newId);
    if (this.#live(newKey)) throw alreadyExistsError();
    this.#remove(namespace, id, entry);
    // The new id's own tombstone only exists for caller-chosen ids; honour it so versions never repeat.
    const moved: Entry = { ...entry, version: Math.max(entry.version, this.#tombstone(newKey) ?? 0), owner: options.owner || entry.owner };
    this.#bump(moved, options.ttlMs);
    this.#tombstones.delete(newKey);
    this.#sessions.set(newKey, moved);
    this.#index(namespace, moved.owner, newId);
    return this.#remember(rememberKey, toRecord(namespace, newId, moved));
  }

  async listByOwner(namespace: string, owner: string): Promise<SessionSummary[]> {
    this.#assertOpen();
    const summaries: SessionSummary[] = [];
    for (const id of this.#owners.get(keyOf(namespace, owner)) ?? []) {
      const entry = this.#live(keyOf(namespace, id));
      if (!entry) continue;
      const { version, createdAtMs, updatedAtMs, expiresAtMs } = entry;
      summaries.push({ handle: sessionHandle(namespace, id), version, createdAtMs, updatedAtMs, expiresAtMs });
    }
    return summaries.sort((a, b) => a.createdAtMs - b.createdAtMs || (a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0));
  }

  async revokeByOwner(namespace: string, owner: string, handles: readonly string[]): Promise<number> {
    this.#assertOpen();
    const only = handles.length > 0 ? new Set(handles) : undefined;
    let revoked = 0;
    for (const id of [...(this.#owners.get(keyOf(namespace, owner)) ?? [])]) {
      const entry = this.#live(keyOf(namespace, id));
      if (!entry || (only && !only.has(sessionHandle(namespace, id)))) continue;
      this.#remove(namespace, id, entry);
      revoked++;
    }
    return revoked;
  }

  async head(namespace: string, id: string): Promise<HeadResult> {
    this.#assertOpen();
    const entry = this.#live(keyOf(namespace, id));
    return { nowMs: this.#now(), head: entry ? { version: entry.version, expiresAtMs: entry.expiresAtMs } : undefined };
  }

  async subscribe(
    namespace: string,
    id: string,
    onChange: (change: SessionChange, changedAtMs: number) => void,
    _onGap?: () => void,
  ): Promise<() => Promise<void>> {
    this.#assertOpen();
    // onGap is never called: delivery within one process cannot be interrupted.
    const key = keyOf(namespace, id);
    const watcher: Watcher = { onChange, active: true };
    let set = this.#watchers.get(key);
    if (!set) this.#watchers.set(key, (set = new Set()));
    set.add(watcher);
    return async () => {
      watcher.active = false;
      const current = this.#watchers.get(key);
      current?.delete(watcher);
      if (current?.size === 0) this.#watchers.delete(key);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    for (const set of this.#watchers.values()) for (const watcher of set) watcher.active = false;
    this.#watchers.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new SessionError('SESS_ERR_STORE_UNAVAILABLE', 'the memory session store is closed');
  }

  /** The live entry, or undefined; an expired one is dropped on the way. */
  #live(key: string): Entry | undefined {
    const entry = this.#sessions.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs > this.#now()) return entry;
    this.#expire(key, entry);
    return undefined;
  }

  #existing(namespace: string, id: string, expectedVersion: number | undefined): Entry {
    const entry = this.#live(keyOf(namespace, id));
    if (!entry) throw notFoundError();
    checkVersion(entry, expectedVersion);
    return entry;
  }

  #tombstone(key: string): number | undefined {
    const tombstone = this.#tombstones.get(key);
    if (tombstone && tombstone.expiresAtMs > this.#now()) return tombstone.version;
    return undefined;
  }

  #rearm(entry: Entry, ttlMs: number | undefined): void {
    const ttl = ttlMs !== undefined && ttlMs > 0 ? ttlMs : entry.ttlMs;
    entry.expiresAtMs = Math.min(this.#now() + ttl, entry.createdAtMs + this.#limits.maxLifetimeMs);
  }

  /** A change: version + 1, updatedAtMs, and a positive ttlMs becomes the session's own ttl. */
  #bump(entry: Entry, ttlMs: number | undefined): void {
    if (ttlMs !== undefined && ttlMs > 0) entry.ttlMs = ttlMs;
    entry.version++;
    entry.updatedAtMs = this.#now();
    this.#rearm(entry, 0);
  }

  /** Delete, revoke and regenerate's old id: tombstone, unindex, tell watchers. */
  #remove(namespace: string, id: string, entry: Entry): void {
    const key = keyOf(namespace, id);
    this.#sessions.delete(key);
    this.#forget(key);
    this.#tombstones.set(key, { version: entry.version, expiresAtMs: this.#now() + this.#limits.maxLifetimeMs });
    this.#unindex(namespace, entry.owner, id);
    this.#publish(key, { kind: 'deleted', version: entry.version, fields: [], expiresAtMs: 0 });
  }

  #expire(key: string, entry: Entry): void {
    this.#sessions.delete(key);
    this.#forget(key);
    const id = key.slice(key.lastIndexOf('\n') + 1);
    this.#unindex(key.slice(0, key.lastIndexOf('\n')), entry.owner, id);
  }

  #index(namespace: string, owner: string, id: string): void {
    if (owner === '') return;
    const ownerKey = keyOf(namespace, owner);
    let ids = this.#owners.get(ownerKey);
    if (!ids) this.#owners.set(ownerKey, (ids = new Set()));
    ids.add(id);
  }

  #unindex(namespace: string, owner: string, id: string): void {
    if (owner === '') return;
    const ownerKey = keyOf(namespace, owner);
    const ids = this.#owners.get(ownerKey);
    ids?.delete(id);
    if (ids?.size === 0) this.#owners.delete(ownerKey);
  }

  /** `changedAtMs`: the commit time, the session's updatedAtMs for an update (as Redis's scripts publish it). */
  #publish(key: string, change: SessionChange, changedAtMs = this.#now()): void {
    const set = this.#watchers.get(key);
    if (!set) return;
    for (const watcher of set) {
      // Microtasks run in FIFO order, so watchers see changes in version order, after the mutation.
      queueMicrotask(() => {
        if (!watcher.active) return;
        try {
          watcher.onChange({ ...change, fields: [...change.fields] }, changedAtMs);
        } catch {
          // A throwing watcher must not break the store or other watchers.
        }
      });
    }
  }

  /** The session a remembered call produced, as it is now; undefined (and the record dropped) once it is gone. */
  #replay(rememberKey: string | undefined): MutationResult | undefined {
    if (rememberKey === undefined) return undefined;
    const remembered = this.#idempotency.get(rememberKey);
    if (!remembered) return undefined;
    const entry = remembered.expiresAtMs > this.#now() ? this.#live(remembered.sessionKey) : undefined;
    if (!entry || entry.createdAtMs !== remembered.createdAtMs || entry.version < remembered.version) {
      this.#dropRecord(rememberKey, remembered);
      return undefined;
    }
    const cut = remembered.sessionKey.lastIndexOf('\n');
    const record = toRecord(remembered.sessionKey.slice(0, cut), remembered.sessionKey.slice(cut + 1), entry);
    return { record, replayed: true };
  }

  #remember(rememberKey: string | undefined, record: SessionRecord): MutationResult {
    if (rememberKey !== undefined) {
      const sessionKey = keyOf(record.namespace, record.id);
      const { version, createdAtMs } = record;
      this.#idempotency.set(rememberKey, { sessionKey, version, createdAtMs, expiresAtMs: this.#now() + this.#limits.idempotencyWindowMs });
      let keys = this.#recordsBySession.get(sessionKey);
      if (!keys) this.#recordsBySession.set(sessionKey, (keys = new Set()));
      keys.add(rememberKey);
    }
    return { record, replayed: false };
  }

  /** Drops every idempotency record of a session that is being removed. */
  #forget(sessionKey: string): void {
    for (const rememberKey of this.#recordsBySession.get(sessionKey) ?? []) this.#idempotency.delete(rememberKey);
    this.#recordsBySession.delete(sessionKey);
  }

  #dropRecord(rememberKey: string, remembered: Remembered): void {
    this.#idempotency.delete(rememberKey);
    const keys = this.#recordsBySession.get(remembered.sessionKey);
    keys?.delete(rememberKey);
    if (keys?.size === 0) this.#recordsBySession.delete(remembered.sessionKey);
  }

  #checkLimits(fields: Map<string, Uint8Array>): void {
    checkFieldLimits(fields, this.#limits);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#sessions) if (entry.expiresAtMs <= now) this.#expire(key, entry);
    for (const [key, tombstone] of this.#tombstones) if (tombstone.expiresAtMs <= now) this.#tombstones.delete(key);
    for (const [key, remembered] of this.#idempotency) if (remembered.expiresAtMs <= now) this.#dropRecord(key, remembered);
  }
}

function keyOf(namespace: string, id: string): string {
  return `${namespace}\n${id}`;
}

function mutationKey(namespace: string, id: string, idempotencyKey: string | undefined): string | undefined {
  return idempotencyKey ? `mutate\n${namespace}\n${id}\n${idempotencyKey}` : undefined;
}

function checkVersion(entry: Entry, expectedVersion: number | undefined): void {
  if (expectedVersion !== undefined && expectedVersion !== entry.version) throw versionConflictError(entry.version);
}

function copyFields(fields: Map<string, Uint8Array>, only?: readonly string[]): Map<string, Uint8Array> {
  const copy = new Map<string, Uint8Array>();
  for (const name of only ?? fields.keys()) {
    const value = fields.get(name);
    if (value !== undefined) copy.set(name, new Uint8Array(value));
  }
  return copy;
}

function toRecord(namespace: string, id: string, entry: Entry, only?: readonly string[]): SessionRecord {
  const { version, createdAtMs, updatedAtMs, expiresAtMs, ttlMs, owner } = entry;
  return { id, namespace, version, fields: copyFields(entry.fields, only), createdAtMs, updatedAtMs, expiresAtMs, ttlMs, owner };
}

