// Field operations and size limits on an in-process field map: the rules of the Lua scripts in
// redis-scripts.ts, in TypeScript, for the memory store; and the one wording of limit errors that
// both stores use.
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
  let total = 0;
  for (const [name, value] of fields) {
    if (value.byteLength > limits.maxFieldBytes) throw limitError('maxFieldBytes', value.byteLength, limits.maxFieldBytes, name);
    total += Buffer.byteLength(name, 'utf8') + value.byteLength;
  }
  if (fields.size > limits.maxFields) throw limitError('maxFields', fields.size, limits.maxFields);
  if (total > limits.maxSessionBytes) throw limitError('maxSessionBytes', total, limits.maxSessionBytes);
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
      if (!Number.isSafeInteger(op.by)) {
        throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `incrementInt on "${op.field}": by must be a safe integer, got ${op.by}`);
      }
      const base = current === undefined ? ZERO : decodeMsgpackNumber(current);
      if (base.kind !== 'int') {
        throw new SessionError('SESS_ERR_WRONG_TYPE', `incrementInt on "${op.field}": the field does not hold a MessagePack integer`);
      }
      const result = base.value + op.by;
      if (Math.abs(result) > MAX_SAFE_COUNTER) {
        throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `incrementInt on "${op.field}": the result leaves +/-${MAX_SAFE_COUNTER}`);
      }
      fields.set(op.field, encodeMsgpackInt(result));
      return;
    }
    case 'incrementFloat': {
      const base = current === undefined ? ZERO : decodeMsgpackNumber(current);
      if (base.kind !== 'int' && base.kind !== 'float') {
        throw new SessionError('SESS_ERR_WRONG_TYPE', `incrementFloat on "${op.field}": the field does not hold a MessagePack number`);
      }
      fields.set(op.field, encodeMsgpackFloat(base.value + op.by));
      return;
    }
    case 'append': {
      const result = appendToMsgpackArray(current, op.value);
      if (result === undefined) {
        throw new SessionError('SESS_ERR_WRONG_TYPE', `append on "${op.field}": the field does not hold a MessagePack array`);
      }
      fields.set(op.field, result);
      return;
    }
  }
}

