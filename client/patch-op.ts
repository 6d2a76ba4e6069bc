// Field operations of `patch()`, in JS form, and their wire form (session.proto FieldOp).
import type { FieldOp } from '../proto/index.ts';
import { SessionError } from '../proto/errors.ts';
import { encodeValue } from './codec.ts';

/**
 * One operation on one field. A patch applies its operations in order and atomically: all or none.
 *
 * - `{ set: 'cart', value: [...] }` sets the field to any encodable value.
 * - `{ delete: 'cart' }` removes the field (no error when absent).
 * - `{ increment: 'visits', by: 1 }` adds to a number (absent counts as 0). An integer `by` adds an
 *   integer and needs the field to hold one (else `SESS_ERR_WRONG_TYPE`); a non-integer `by`, or
 *   `float: true`, adds a float and stores the result as float64. `by` defaults to 1. Integer results
 *   must stay within ±(2^53 − 1).
 * - `{ append: 'items', value: 'sku-1' }` appends one value to the array in the field (absent counts
 *   as `[]`; a non-array is `SESS_ERR_WRONG_TYPE`).
 */
export type PatchOp =
  | { set: string; value: unknown }
  | { delete: string }
  | { increment: string; by?: number | undefined; float?: boolean | undefined }
  | { append: string; value: unknown };

export function toFieldOp(op: PatchOp, index: number): FieldOp {
  const where = `ops[${index}]`;
  if (typeof op !== 'object' || op === null) throw invalid(`${where}: expected an operation object`);
  if ('set' in op) return { field: op.set, set: encodeValue(op.value, `${where}.value`) };
  if ('delete' in op) return { field: op.delete, delete: {} };
  if ('append' in op) return { field: op.append, append: encodeValue(op.value, `${where}.value`) };
  if ('increment' in op) {
    const by = op.by ?? 1;
    if (typeof by !== 'number' || !Number.isFinite(by)) throw invalid(`${where}.by: expected a finite number`);
    if (op.float === true || !Number.isInteger(by)) return { field: op.increment, incrementFloat: by };
    if (!Number.isSafeInteger(by)) throw invalid(`${where}.by: integers must be within ±(2^53 - 1)`);
    return { field: op.increment, incrementInt: by };
  }
  throw invalid(`${where}: expected one of set, delete, increment, append`);
}

function invalid(message: string): SessionError {
  return new SessionError('SESS_ERR_INVALID_ARGUMENT', message);
}
