// Parsing of incoming requests into store calls: every check that needs no storage happens here, and
// every failure names the request field (INVALID_ARGUMENT) or the limit (RESOURCE_EXHAUSTED).
import type { FieldOp__Output } from '../proto/generated/stickless/session/v1/FieldOp.ts';
import type { MutationOptions__Output } from '../proto/generated/stickless/session/v1/MutationOptions.ts';
import { SessionError } from '../proto/errors.ts';
import { checkMsgpackValue, MAX_VALUE_DEPTH } from './codec.ts';
import { isValidSessionId } from './session-id.ts';
import type { FieldOp, MutationOptions } from './session-store.ts';

export interface RequestLimits {
  maxFieldBytes: number;
  maxFields: number;
  maxPatchOps: number;
  maxLifetimeMs: number;
}

const NAMESPACE_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;
const MAX_FIELD_NAME_BYTES = 200;
const MAX_OWNER_BYTES = 256;

function invalid(message: string): SessionError {
  return new SessionError('SESS_ERR_INVALID_ARGUMENT', message);
}

export function requireNamespace(namespace: string): string {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw invalid('namespace: expected 1..128 characters of A-Z a-z 0-9 . _ : -');
  }
  return namespace;
}

export function requireId(id: string, field = 'id'): string {
  if (!isValidSessionId(id)) throw new SessionError('SESS_ERR_INVALID_ID', `${field}: expected a session id of 43 base64url characters`);
  return id;
}

export function requireFieldName(name: string, where: string): string {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0 || bytes > MAX_FIELD_NAME_BYTES) throw invalid(`${where}: field names must have 1..${MAX_FIELD_NAME_BYTES} bytes`);
  if (name.startsWith('_')) throw invalid(`${where}: field names starting with "_" are reserved`);
  if (/[\x00-\x1f\x7f]/.test(name)) throw invalid(`${where}: field names must not contain control characters`);
  return name;
}

/**
 * A value must be one MessagePack value every client can read (proto/msgpack-value.ts: no extension
 * but the timestamp, str map keys, at most MAX_VALUE_DEPTH levels) no larger than maxFieldBytes.
 * `maxDepth` is lower for an appended element, which the array it joins nests one level deeper.
 */
export function requireValue(value: Uint8Array, where: string, limits: RequestLimits, maxDepth = MAX_VALUE_DEPTH): Uint8Array {
  if (value.length > limits.maxFieldBytes) {
    throw new SessionError('SESS_ERR_LIMIT_EXCEEDED', `${where}: value size ${value.length} bytes exceeds maxFieldBytes (${limits.maxFieldBytes})`);
  }
  const problem = checkMsgpackValue(value, maxDepth);
  if (problem?.startsWith('nesting')) {
    const note = maxDepth < MAX_VALUE_DEPTH ? `; MAX_VALUE_DEPTH is ${MAX_VALUE_DEPTH} and the array adds one level` : ', MAX_VALUE_DEPTH';
    throw invalid(`${where}: expected one standard MessagePack value (${problem}${note})`);
  }
  if (problem) throw invalid(`${where}: expected one standard MessagePack value (${problem})`);
  return value;
}

export function requireOwner(owner: string, field = 'owner'): string {
  if (Buffer.byteLength(owner) > MAX_OWNER_BYTES) throw invalid(`${field}: at most ${MAX_OWNER_BYTES} bytes`);
  if (/[\x00-\x1f\x7f]/.test(owner)) throw invalid(`${field}: must not contain control characters`);
  return owner;
}

export function requireTtl(ttlMs: number, field: string): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 0) throw invalid(`${field}: expected a non-negative number of milliseconds`);
  return ttlMs;
}

export function requireIdempotencyKey(key: string, field = 'idempotency_key'): string | undefined {
  if (key === '') return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) throw invalid(`${field}: expected 1..128 printable ASCII characters`);
  return key;
}

export function requireExpectedVersion(version: number | undefined, field: string): number | undefined {
  if (version === undefined) return undefined;
  if (!Number.isSafeInteger(version) || version < 0) throw invalid(`${field}: expected a non-negative integer`);
  return version;
}

/** The fields map of Create and Put. */
export function parseFields(fields: Record<string, Buffer>, limits: RequestLimits): Map<string, Uint8Array> {
  const names = Object.keys(fields);
  if (names.length > limits.maxFields) {
    throw new SessionError('SESS_ERR_LIMIT_EXCEEDED', `${names.length} fields exceeds maxFields (${limits.maxFields})`);
  }
  const out = new Map<string, Uint8Array>();
  for (const name of names) {
    requireFieldName(name, `fields["${name}"]`);
    out.set(name, requireValue(fields[name] as Buffer, `fields["${name}"]`, limits));
  }
  return out;
}

export function parseOps(ops: FieldOp__Output[], limits: RequestLimits): FieldOp[] {
  if (ops.length === 0) throw invalid('ops: expected at least one operation');
  if (ops.length > limits.maxPatchOps) {
    throw new SessionError('SESS_ERR_LIMIT_EXCEEDED', `${ops.length} operations exceeds maxPatchOps (${limits.maxPatchOps})`);
  }
  return ops.map((op, i) => {
    const where = `ops[${i}]`;
    const field = requireFieldName(op.field, `${where}.field`);
    switch (op.op) {
      case 'set':
        return { kind: 'set', field, value: requireValue(op.set ?? Buffer.alloc(0), `${where}.set`, limits) };
      case 'delete':
        return { kind: 'delete', field };
      case 'legacyDelete':
        // The bool of earlier clients (same field number): only `true` meant it; `false` deleted too.
        if (op.legacyDelete !== true) throw invalid(`${where}.legacy_delete: false deletes nothing; send delete {} to remove the field`);
        return { kind: 'delete', field };
      case 'incrementInt': {
        const by = op.incrementInt ?? 0;
        if (!Number.isSafeInteger(by)) throw invalid(`${where}.increment_int: outside +/-(2^53 - 1)`);
        return { kind: 'incrementInt', field, by };
      }
      case 'incrementFloat': {
        const by = op.incrementFloat ?? 0;
        if (!Number.isFinite(by)) throw invalid(`${where}.increment_float: expected a finite number`);
        return { kind: 'incrementFloat', field, by };
      }
      case 'append':
        return { kind: 'append', field, value: requireValue(op.append ?? Buffer.alloc(0), `${where}.append`, limits, MAX_VALUE_DEPTH - 1) };
      default:
        throw invalid(`${where}: expected one of set, delete, increment_int, increment_float, append`);
    }
  });
}

export function parseMutationOptions(options: MutationOptions__Output | null | undefined): MutationOptions {
  if (!options) return {};
  return {
    expectedVersion: requireExpectedVersion(options.expectedVersion, 'options.expected_version'),
    idempotencyKey: requireIdempotencyKey(options.idempotencyKey, 'options.idempotency_key'),
    ttlMs: requireTtl(options.ttlMs, 'options.ttl_ms'),
  };
}
