// Decoding of what Redis answers RedisSessionStore: script replies (see the reply formats in
// redis-scripts.ts), plain HGETALL/HMGET reads, and pub/sub change messages.
import { SessionError } from '../proto/errors.ts';
import { alreadyExistsError, limitError, notFoundError, rangeError, versionConflictError, wrongTypeError, type ReadingOp } from './field-ops.ts';
import type { SessionChange, SessionRecord } from './session-store.ts';

export type Reply = Array<Buffer | number | null>;

export function text(value: Buffer | number | null | undefined): string {
  return value == null ? '' : value.toString();
}

export function num(value: Buffer | number | null | undefined): number {
  return typeof value === 'number' ? value : Number(text(value));
}

export function isError(reply: Reply): boolean {
  return text(reply[0]) === 'ERR';
}

export function isReplay(reply: Reply): boolean {
  return text(reply[0]) === 'REPLAY';
}

export function scriptError(reply: Reply): SessionError {
  const kind = text(reply[1]);
  switch (kind) {
    case 'NOT_FOUND':
      return notFoundError();
    case 'EXISTS':
      return alreadyExistsError();
    case 'CONFLICT':
      return versionConflictError(num(reply[2]));
    case 'LIMIT':
      return limitError(text(reply[2]) as Parameters<typeof limitError>[0], num(reply[3]), num(reply[4]), reply[5] == null ? undefined : text(reply[5]));
    // The wording of these is field-ops.ts's, so both stores give the same message (issue 7).
    case 'WRONG_TYPE':
      return wrongTypeError(text(reply[3]) as ReadingOp, text(reply[2]));
    case 'RANGE':
      return rangeError(text(reply[3]) as 'incrementInt' | 'incrementFloat', text(reply[2]), text(reply[4]) === 'stored' ? 'stored' : 'result');
    default:
      return new SessionError('SESS_ERR_INTERNAL', `unexpected script reply ${kind}`);
  }
}

export function parseRecord(reply: Reply, id: string, namespace: string): SessionRecord {
  const fields = new Map<string, Uint8Array>();
  for (let i = 7; i + 1 < reply.length; i += 2) fields.set(text(reply[i]), toBytes(reply[i + 1]));
  return {
    id, namespace, version: num(reply[1]), createdAtMs: num(reply[2]), updatedAtMs: num(reply[3]),
    expiresAtMs: num(reply[4]), ttlMs: num(reply[5]), owner: text(reply[6]), fields,
  };
}

function toBytes(value: Buffer | number | null | undefined): Uint8Array {
  return Buffer.isBuffer(value) ? new Uint8Array(value) : new Uint8Array(0);
}

export function fromHgetall(hash: Record<string, Buffer>, id: string, namespace: string): SessionRecord | undefined {
  if (!hash._v) return undefined;
  const fields = new Map<string, Uint8Array>();
  for (const [name, value] of Object.entries(hash)) if (name.startsWith('f:')) fields.set(name.slice(2), new Uint8Array(value));
  return {
    id, namespace, version: num(hash._v), createdAtMs: num(hash._c), updatedAtMs: num(hash._u),
    expiresAtMs: num(hash._e), ttlMs: num(hash._t), owner: text(hash._o), fields,
  };
}

export function fromHmget(values: Array<Buffer | null>, names: readonly string[], id: string, namespace: string): SessionRecord | undefined {
  if (!values[0]) return undefined;
  const fields = new Map<string, Uint8Array>();
  names.forEach((name, i) => {
    const value = values[6 + i];
    if (value) fields.set(name, new Uint8Array(value));
  });
  const [v, c, u, e, t, o] = values;
  return { id, namespace, version: num(v), createdAtMs: num(c), updatedAtMs: num(u), expiresAtMs: num(e), ttlMs: num(t), owner: text(o), fields };
}

export function parseChange(message: string): SessionChange {
  const parsed = JSON.parse(message) as { k: string; v: string; e: string; f: unknown };
  return {
    kind: parsed.k === 'd' ? 'deleted' : 'updated',
    version: Number(parsed.v),
    expiresAtMs: Number(parsed.e),
    fields: Array.isArray(parsed.f) ? parsed.f.map(String) : [],
  };
}


/** Replicas that can acknowledge writes: the `slaveN:...state=online` lines of INFO replication. */
export function onlineReplicas(info: string): number {
  return info.split('\n').filter((line) => /^slave\d+:.*\bstate=online\b/.test(line)).length;
}
