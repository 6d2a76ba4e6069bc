// Field operations and size limits on an in-process field map: the rules of the Lua scripts in
// redis-scripts.ts, in TypeScript, for the memory store; and the one wording of every error both
// stores give (the Redis store builds its errors from the scripts' replies with these functions), so
// the two answer every edge case with the same code and message (issue 7; the matrix in
// test/contract/session-store-edge-cases.ts holds them to it).
import { SessionError } from '../proto/errors.ts';
import { appendToMsgpackArray, decodeMsgpackNumber, encodeMsgpackFloat, encodeMsgpackInt, MAX_SAFE_COUNTER, type DecodedNumber } from './codec.ts';
import type { FieldOp, StoreLimits } from './session-store.ts';

/** The message every store uses for a limit, naming the limit, the size and the maximum. */
export function limitError(limit: 'maxFields' | 'maxFieldBytes' | 'maxSessionBytes', size: number, max: number, field?: string): SessionError {
  const what = limit === 'maxFields' ? `${size} fields` : limit === 'maxFieldBytes' ? `field "${field}" size ${size} bytes` : `session size ${size} bytes`;
  return new SessionError('SESS_ERR_LIMIT_EXCEEDED', `${what} exceeds ${limit} (${max})`);
}

/** Checks a session's fields against the limits, in the scripts' order: value size, count, total. */
export function checkFieldLimits(fields: Map<string, Uint8Array>, limits: Pick<StoreLimits, 'maxFieldBytes' | 'maxFields' | 'maxSessionBytes'>): void {
  for (const [name, value] of fields) {
    if (value.byteLength > limits.maxFieldBytes) throw limitError('maxFieldBytes', value.byteLength, limits.maxFieldBytes, name);
  }
  checkCountAndTotal(fields, limits);
}

function checkCountAndTotal(fields: Map<string, Uint8Array>, limits: Pick<StoreLimits, 'maxFields' | 'maxSessionBytes'>): void {
  let total = 0;
  for (const [name, value] of fields) total += Buffer.byteLength(name, 'utf8') + value.byteLength;
  if (fields.size > limits.maxFields) throw limitError('maxFields', fields.size, limits.maxFields);
  if (total > limits.maxSessionBytes) throw limitError('maxSessionBytes', total, limits.maxSessionBytes);
}

/** Ops that read the value in their field, and so can find the wrong type there. */
export type ReadingOp = 'incrementInt' | 'incrementFloat' | 'append';

const NEEDS: Record<ReadingOp, string> = { incrementInt: 'a MessagePack integer', incrementFloat: 'a MessagePack number', append: 'a MessagePack array' };

/** SESS_ERR_WRONG_TYPE: the field holds a value the op cannot work on. */
export function wrongTypeError(op: ReadingOp, field: string): SessionError {
  return new SessionError('SESS_ERR_WRONG_TYPE', `${op} on "${field}": the field does not hold ${NEEDS[op]}`);
}

/**
 * SESS_ERR_INVALID_ARGUMENT for an increment that cannot be done exactly: the stored integer is
 * already outside +/-(2^53 - 1) (int64/uint64 values another client wrote), or the result would be.
 */
export function rangeError(op: 'incrementInt' | 'incrementFloat', field: string, cause: 'stored' | 'result'): SessionError {
  const what = cause === 'stored'
    ? `the field holds an integer outside +/-${MAX_SAFE_COUNTER} (2^53 - 1), which sessiond cannot read exactly`
    : `the result leaves +/-${MAX_SAFE_COUNTER} (2^53 - 1)`;
  return new SessionError('SESS_ERR_INVALID_ARGUMENT', `${op} on "${field}": ${what}`);
}

/** The messages of the other failures both stores share. */
export const notFoundError = (): SessionError => new SessionError('SESS_ERR_NOT_FOUND', 'session not found');
export const alreadyExistsError = (): SessionError => new SessionError('SESS_ERR_ALREADY_EXISTS', 'a live session already has this id');
export function versionConflictError(current: number): SessionError {
  return new SessionError('SESS_ERR_VERSION_CONFLICT', `version conflict: the session is at version ${current}`, { currentVersion: current });
}

/**
 * Checks what the store takes on trust from the service, before anything else (so before NOT_FOUND
 * or a replay): a TTL in whole ms (create: > 0; mutations and touch: >= 0, 0 keeping the own TTL),
 * incrementInt by a safe integer, incrementFloat by a finite number.
 */
export function checkStoreArguments(args: { ttlMs?: number | undefined; createTtlMs?: number; ops?: readonly FieldOp[] }): void {
  const { ttlMs, createTtlMs, ops = [] } = args;
  if (createTtlMs !== undefined && !(Number.isSafeInteger(createTtlMs) && createTtlMs > 0)) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `ttlMs must be a positive whole number of milliseconds, got ${createTtlMs}`);
  }
  if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs >= 0)) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `ttlMs must be a non-negative whole number of milliseconds, got ${ttlMs}`);
  }
  for (const op of ops) {
    if (op.kind === 'incrementInt' && !Number.isSafeInteger(op.by)) {
      throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `incrementInt on "${op.field}": by must be an integer within +/-${MAX_SAFE_COUNTER}, got ${op.by}`);
    }
    if (op.kind === 'incrementFloat' && !Number.isFinite(op.by)) {
      throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `incrementFloat on "${op.field}": by must be a finite number, got ${op.by}`);
    }
  }
}

/**
 * Checks a patched session against the limits in the patch script's order: the new value of each
 * changed field (in the order the ops first touch them), then the field count, then the total.
 */
export function checkPatchLimits(fields: Map<string, Uint8Array>, ops: readonly FieldOp[], limits: Pick<StoreLimits, 'maxFieldBytes' | 'maxFields' | 'maxSessionBytes'>): void {
  for (const name of new Set(ops.map((op) => op.field))) {
    const value = fields.get(name);
    if (value !== undefined && value.byteLength > limits.maxFieldBytes) throw limitError('maxFieldBytes', value.byteLength, limits.maxFieldBytes, name);
  }
  checkCountAndTotal(fields, limits);
}

const ZERO: DecodedNumber = { kind: 'int', value: 0 };

/**
 * Applies one op to `fields` in place (the caller works on a copy, so a throw leaves the session
 * as it was). The same rules as the patch script in redis-scripts.ts.
 */
export function applyFieldOp(fields: Map<string, Uint8Array>, op: FieldOp): void {
  const current = fields.get(op.field);
  switch (op.kind) {
    case 'set':
      fields.set(op.field, new Uint8Array(op.value));
      return;
    case 'delete':
      fields.delete(op.field);
      return;
    case 'incrementInt': {
      const base = current === undefined ? ZERO : decodeMsgpackNumber(current);
      if (base.kind === 'out-of-range') throw rangeError(op.kind, op.field, 'stored');
      if (base.kind !== 'int') throw wrongTypeError(op.kind, op.field);
      const result = base.value + op.by;
      if (Math.abs(result) > MAX_SAFE_COUNTER) throw rangeError(op.kind, op.field, 'result');
      fields.set(op.field, encodeMsgpackInt(result));
      return;
    }
    case 'incrementFloat': {
      const base = current === undefined ? ZERO : decodeMsgpackNumber(current);
      if (base.kind === 'out-of-range') throw rangeError(op.kind, op.field, 'stored');
      if (base.kind !== 'int' && base.kind !== 'float') throw wrongTypeError(op.kind, op.field);
      fields.set(op.field, encodeMsgpackFloat(base.value + op.by));
      return;
    }
    case 'append': {
      const result = appendToMsgpackArray(current, op.value);
      if (result === undefined) throw wrongTypeError(op.kind, op.field);
      fields.set(op.field, result);
      return;
    }
  }
}

