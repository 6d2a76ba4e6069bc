// One request's view of its session, shared by the framework-free middleware (middleware.ts) and
// the fastify plugin (fastify-plugin.ts). Nothing is read until the handler asks (lazy load);
// writes are queued as Patch operations and sent once, when the response is about to go out, so two
// parallel requests of one user that change different fields both land. A request that only read
// its session extends its expiry (touch). regenerate() and destroy() act at once.
import { randomBytes } from 'node:crypto';
import { SessionError } from '../proto/errors.ts';
import type { CallOptions, CreateOptions, GetOptions, MutationCallOptions, RegenerateOptions, TouchOptions } from './call-options.ts';
import type { PatchOp } from './patch-op.ts';
import type { SessionMutationResult, SessionSnapshot, TouchResult } from './session-snapshot.ts';

/** The client calls the middleware makes. A SessionClient satisfies it. */
export interface SessionMiddlewareApi {
  get(id: string, options?: GetOptions): Promise<SessionSnapshot | undefined>;
  create(fields?: Record<string, unknown>, options?: CreateOptions): Promise<SessionMutationResult>;
  patch(id: string, ops: readonly PatchOp[], options?: MutationCallOptions): Promise<SessionMutationResult>;
  touch(id: string, options?: TouchOptions): Promise<TouchResult | undefined>;
  regenerate(id: string, options?: RegenerateOptions): Promise<SessionMutationResult>;
  delete(id: string, options?: CallOptions): Promise<boolean>;
}

/** What a RequestSession needs from its framework: the incoming id and a way to set the cookie. */
export interface RequestSessionBinding {
  client: SessionMiddlewareApi;
  /** The id from the request's cookie, if any. */
  id: string | undefined;
  /** Sets (id) or clears (undefined) the session cookie on the response. */
  setCookie(id: string | undefined): void;
  /** TTL of created and written sessions, in ms; undefined: sessiond's default. */
  ttlMs: number | undefined;
  /** Touch a session that was read but not written. */
  touchOnRead: boolean;
  /** Options added to every call (deadline, trace context). */
  callOptions: CallOptions;
  /**
   * Version tokens, when on: `minVersion` is what the request's verified token vouches for (reads
   * never return older), and `set` is called after save() with the highest version this request saw.
   */
  versionToken?: { minVersion: number; set(id: string | undefined, version: number): void } | undefined;
}

export class RequestSession {
  #binding: RequestSessionBinding;
  #id: string | undefined;
  /** True when sessiond is known to hold #id (read it, or wrote it). */
  #stored: boolean | undefined;
  #snapshot: SessionSnapshot | undefined;
  #loading: Promise<void> | undefined;
  #ops: PatchOp[] = [];
  #read = false;
  /** Highest version read or written in this request (or vouched for by the token). */
  #highest: number;

  constructor(binding: RequestSessionBinding) {
    this.#binding = binding;
    this.#id = binding.id;
    this.#highest = binding.versionToken?.minVersion ?? 0;
  }

  /** The session id, or undefined for a visitor without a session (one is made at the first write). */
  get id(): string | undefined {
    return this.#id;
  }

  /** The version read or written last; undefined before a read or write. */
  get version(): number | undefined {
    return this.#snapshot?.version;
  }

  /** One field, with this request's queued writes applied; loads the session on first use. */
  async get<T = unknown>(field: string): Promise<T | undefined> {
    return (await this.all())[field] as T | undefined;
  }

  /** Every field, with this request's queued writes applied. */
  async all(): Promise<Record<string, unknown>> {
    await this.#load();
    const fields = structuredClone(this.#snapshot?.fields ?? {});
    for (const op of this.#ops) applyLocally(fields, op);
    return fields;
  }

  /** Queues `field = value` (sent when the response goes out, or by save()). */
  set(field: string, value: unknown): this {
    return this.#queue({ set: field, value });
  }

  /** Queues removing a field. */
  unset(field: string): this {
    return this.#queue({ delete: field });
  }

  /** Queues an atomic increment on sessiond (absent counts as 0). */
  increment(field: string, by = 1): this {
    return this.#queue({ increment: field, by });
  }

  /** Queues an atomic append of one value to an array field (absent counts as []). */
  append(field: string, value: unknown): this {
    return this.#queue({ append: field, value });
  }

  /**
   * Moves the session to a new id (call it at login, against session fixation), optionally setting its
   * owner; queued writes are sent first. A visitor without a stored session gets a fresh id.
   */
  async regenerate(options: { owner?: string | undefined } = {}): Promise<void> {
    await this.save();
    const { client, callOptions } = this.#binding;
    if (this.#id !== undefined && this.#stored !== false) {
      try {
        const moved = await client.regenerate(this.#id, { ...callOptions, owner: options.owner, ttlMs: this.#binding.ttlMs });
        this.#adopt(moved);
        this.#binding.setCookie(moved.id);
        return;
      } catch (error) {
        if (!isCode(error, 'SESS_ERR_NOT_FOUND')) throw error;
      }
    }
    const created = await client.create({}, { ...callOptions, owner: options.owner, ttlMs: this.#binding.ttlMs });
    this.#adopt(created);
    this.#binding.setCookie(created.id);
  }

  /** Deletes the session now and clears the cookie; queued writes are dropped. */
  async destroy(): Promise<void> {
    this.#ops = [];
    if (this.#id !== undefined && this.#stored !== false) await this.#binding.client.delete(this.#id, this.#binding.callOptions);
    this.#binding.setCookie(undefined);
    this.#binding.versionToken?.set(undefined, 0);
    this.#id = undefined;
    this.#stored = false;
    this.#snapshot = undefined;
  }

  /** Sends queued writes now (the middleware calls it before the response); touches a session only read. */
  async save(): Promise<void> {
    await this.#write();
    const token = this.#binding.versionToken;
    if (token && this.#id !== undefined && this.#stored === true && this.#highest > token.minVersion) token.set(this.#id, this.#highest);
  }

  async #write(): Promise<void> {
    const { client, callOptions, ttlMs } = this.#binding;
    const ops = this.#ops;
    this.#ops = [];
    if (ops.length > 0) {
      if (this.#id !== undefined && this.#stored !== false) {
        try {
          this.#adopt(await client.patch(this.#id, ops, { ...callOptions, ttlMs }));
          return;
        } catch (error) {
          if (!isCode(error, 'SESS_ERR_NOT_FOUND')) throw error;
          // Expired since the cookie was set: start a new session under a new id.
          this.#renew();
        }
      }
      // A new session: its fields are the ops applied to nothing, written in one create.
      const fields: Record<string, unknown> = {};
      for (const op of ops) applyLocally(fields, op);
      this.#adopt(await client.create(fields, { ...callOptions, id: this.#id, ttlMs }));
      return;
    }
    if (this.#read && this.#binding.touchOnRead && this.#id !== undefined && this.#stored === true) {
      this.#read = false;
      await client.touch(this.#id, { ...callOptions, ttlMs });
    }
  }

  #queue(op: PatchOp): this {
    // A visitor without a stored session gets a new id now, so the cookie goes out with the response
    // headers. An id the browser sent that sessiond does not know is never adopted (session fixation).
    if (this.#id === undefined || (this.#stored === false && this.#id === this.#binding.id)) this.#renew();
    this.#ops.push(op);
    return this;
  }

  #renew(): void {
    this.#highest = 0;
    this.#id = newSessionId();
    this.#stored = false;
    this.#snapshot = undefined;
    this.#binding.setCookie(this.#id);
  }

  async #load(): Promise<void> {
    if (this.#stored !== undefined || this.#id === undefined) return;
    this.#loading ??= (async () => {
      const minVersion = this.#binding.versionToken?.minVersion || undefined;
      const snapshot = await this.#binding.client.get(this.#id!, { ...this.#binding.callOptions, minVersion });
      this.#stored = snapshot !== undefined;
      this.#snapshot = snapshot;
      if (snapshot) this.#highest = Math.max(this.#highest, snapshot.version);
      this.#read = true;
    })();
    await this.#loading;
  }

  #adopt(snapshot: SessionSnapshot): void {
    // A new id (regenerate, create) starts a new version history.
    this.#highest = snapshot.id === this.#id ? Math.max(this.#highest, snapshot.version) : snapshot.version;
    this.#id = snapshot.id;
    this.#stored = true;
    this.#snapshot = snapshot;
    this.#loading = undefined;
  }
}

/** A new session id: 256 random bits, base64url, the shape sessiond accepts for a caller-chosen id. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof SessionError && error.code === code;
}

/** What the op will do on sessiond, applied to a local copy so reads see this request's writes. */
function applyLocally(fields: Record<string, unknown>, op: PatchOp): void {
  if ('set' in op) fields[op.set] = structuredClone(op.value);
  else if ('delete' in op) delete fields[op.delete];
  else if ('increment' in op) fields[op.increment] = (typeof fields[op.increment] === 'number' ? fields[op.increment] as number : 0) + (op.by ?? 1);
  else fields[op.append] = [...(Array.isArray(fields[op.append]) ? fields[op.append] as unknown[] : []), structuredClone(op.value)];
}
