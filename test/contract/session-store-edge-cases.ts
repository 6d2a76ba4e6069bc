// The edge-case matrix of issue 7: every store answers each case with the same outcome, to the byte
// and to the letter of the message. Each case starts from a fresh session holding `start` (hex
// MessagePack values), runs one call, and expects either the fields and version it leaves, or an
// exact {code, message}; a failed call must leave the session as it was. The contract runs the
// matrix on each store; test/server/issue-7-store-parity.test.ts runs it on both side by side.
import type { ExecutionContext, TestFn } from 'ava';
import { SessionError } from '../../proto/errors.ts';
import { generateSessionId } from '../../server/session-id.ts';
import type { FieldOp, SessionStore, StoreLimits } from '../../server/session-store.ts';
import { DEFAULT_TEST_LIMITS, hexFields, type MakeStore } from './helpers.ts';

const MAX = 9007199254740991;
const RANGE = `+/-${MAX} (2^53 - 1)`;

/** What a call did: the session's version and fields after it, or the error it threw. */
export type Outcome =
  | { ok: { version: number; fields: Record<string, string> } | boolean | null }
  | { code: string; message: string; currentVersion?: number };

export interface EdgeCase {
  group: string;
  name: string;
  limits?: Partial<StoreLimits>;
  /** The session's fields before the call, as hex; undefined: no session with this id. */
  start?: Record<string, string>;
  call: (store: SessionStore, ns: string, id: string) => Promise<unknown>;
  expect: Outcome;
  /** The call removes the session itself before it fails. */
  removes?: true;
}

const ok = (fields: Record<string, string>, version = 2): Outcome => ({ ok: { version, fields } });
const err = (code: string, message: string, currentVersion?: number): Outcome =>
  currentVersion === undefined ? { code, message } : { code, message, currentVersion };
const patch = (...ops: FieldOp[]) => (store: SessionStore, ns: string, id: string) => store.patch(ns, id, ops);
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const inc = (field: string, by: number): FieldOp => ({ kind: 'incrementInt', field, by });
const incF = (field: string, by: number): FieldOp => ({ kind: 'incrementFloat', field, by });
const set = (field: string, hex: string): FieldOp => ({ kind: 'set', field, value: bytes(hex) });
const append = (field: string, hex: string): FieldOp => ({ kind: 'append', field, value: bytes(hex) });
const stored = (op: string, field: string) =>
  err('SESS_ERR_INVALID_ARGUMENT', `${op} on "${field}": the field holds an integer outside ${RANGE}, which sessiond cannot read exactly`);
const leaves = (field: string) => err('SESS_ERR_INVALID_ARGUMENT', `incrementInt on "${field}": the result leaves ${RANGE}`);
const wrongType = (op: string, field: string, needs: string) => err('SESS_ERR_WRONG_TYPE', `${op} on "${field}": the field does not hold a MessagePack ${needs}`);
const limit = (message: string) => err('SESS_ERR_LIMIT_EXCEEDED', message);

export const EDGE_CASES: readonly EdgeCase[] = [
  // Integers at and beyond +/-(2^53 - 1), and int64/uint64 values another client stored.
  { group: 'integers', name: 'incrementInt up to exactly 2^53 - 1', start: { n: 'cf001ffffffffffffe' }, call: patch(inc('n', 1)), expect: ok({ n: 'cf001fffffffffffff' }) },
  { group: 'integers', name: 'incrementInt one past 2^53 - 1', start: { n: 'cf001fffffffffffff' }, call: patch(inc('n', 1)), expect: leaves('n') },
  { group: 'integers', name: 'incrementInt down to exactly -(2^53 - 1)', start: { n: 'd3ffe0000000000002' }, call: patch(inc('n', -1)), expect: ok({ n: 'd3ffe0000000000001' }) },
  { group: 'integers', name: 'incrementInt one past -(2^53 - 1)', start: { n: 'd3ffe0000000000001' }, call: patch(inc('n', -1)), expect: leaves('n') },
  { group: 'integers', name: 'incrementInt of an absent field by 2^53 - 1', start: {}, call: patch(inc('n', MAX)), expect: ok({ n: 'cf001fffffffffffff' }) },
  { group: 'integers', name: 'incrementInt by 2^53', start: {}, call: patch(inc('n', MAX + 1)), expect: err('SESS_ERR_INVALID_ARGUMENT', `incrementInt on "n": by must be an integer within +/-${MAX}, got ${MAX + 1}`) },
  { group: 'integers', name: 'incrementInt by 1.5', start: {}, call: patch(inc('n', 1.5)), expect: err('SESS_ERR_INVALID_ARGUMENT', `incrementInt on "n": by must be an integer within +/-${MAX}, got 1.5`) },
  { group: 'integers', name: 'incrementInt of a stored int64 max', start: { n: 'd37fffffffffffffff' }, call: patch(inc('n', 0)), expect: stored('incrementInt', 'n') },
  { group: 'integers', name: 'incrementInt of a stored int64 min', start: { n: 'd38000000000000000' }, call: patch(inc('n', 1)), expect: stored('incrementInt', 'n') },
  { group: 'integers', name: 'incrementInt of a stored uint64 max', start: { n: 'cfffffffffffffffff' }, call: patch(inc('n', -1)), expect: stored('incrementInt', 'n') },
  { group: 'integers', name: 'incrementInt of a stored 2^53 back into range', start: { n: 'cf0020000000000000' }, call: patch(inc('n', -1)), expect: stored('incrementInt', 'n') },
  { group: 'integers', name: 'incrementInt of a stored -(2^53)', start: { n: 'd3ffe0000000000000' }, call: patch(inc('n', 1)), expect: stored('incrementInt', 'n') },
  { group: 'integers', name: 'incrementInt of 2^53 - 1 stored as int64', start: { n: 'd3001fffffffffffff' }, call: patch(inc('n', -1)), expect: ok({ n: 'cf001ffffffffffffe' }) },
  { group: 'integers', name: 'incrementInt of 5 stored as int64 and as uint64 shrinks the encoding', start: { a: 'd30000000000000005', b: 'cf0000000000000005' }, call: patch(inc('a', 1), inc('b', -10)), expect: ok({ a: '06', b: 'fb' }) },
  { group: 'integers', name: 'incrementInt from 2^32 - 1 to 2^32 changes the encoding', start: { n: 'ceffffffff' }, call: patch(inc('n', 1)), expect: ok({ n: 'cf0000000100000000' }) },
  { group: 'integers', name: 'incrementInt from -(2^31) to -(2^31) - 1 changes the encoding', start: { n: 'd280000000' }, call: patch(inc('n', -1)), expect: ok({ n: 'd3ffffffff7fffffff' }) },
  // Floats and integers mixed.
  { group: 'float/int', name: 'incrementInt of a float64', start: { n: 'cb3ff8000000000000' }, call: patch(inc('n', 1)), expect: wrongType('incrementInt', 'n', 'integer') },
  { group: 'float/int', name: 'incrementInt of a float32', start: { n: 'ca3fc00000' }, call: patch(inc('n', 1)), expect: wrongType('incrementInt', 'n', 'integer') },
  { group: 'float/int', name: 'incrementFloat of an integer', start: { n: '02' }, call: patch(incF('n', 0.5)), expect: ok({ n: 'cb4004000000000000' }) },
  { group: 'float/int', name: 'incrementFloat of a float32', start: { n: 'ca3fc00000' }, call: patch(incF('n', 1)), expect: ok({ n: 'cb4004000000000000' }) },
  { group: 'float/int', name: 'incrementFloat of 5 stored as int64', start: { n: 'd30000000000000005' }, call: patch(incF('n', 0.5)), expect: ok({ n: 'cb4016000000000000' }) },
  { group: 'float/int', name: 'incrementFloat of a stored uint64 max', start: { n: 'cfffffffffffffffff' }, call: patch(incF('n', 1)), expect: stored('incrementFloat', 'n') },
  { group: 'float/int', name: 'incrementFloat of a string', start: { n: 'a26162' }, call: patch(incF('n', 1)), expect: wrongType('incrementFloat', 'n', 'number') },
  { group: 'float/int', name: 'incrementFloat to infinity', start: { n: 'cb7fefffffffffffff' }, call: patch(incF('n', 1.7976931348623157e308)), expect: ok({ n: 'cb7ff0000000000000' }) },
  { group: 'float/int', name: 'incrementFloat by Infinity', start: {}, call: patch(incF('n', Infinity)), expect: err('SESS_ERR_INVALID_ARGUMENT', 'incrementFloat on "n": by must be a finite number, got Infinity') },
  { group: 'float/int', name: 'incrementFloat by NaN', start: {}, call: patch(incF('n', NaN)), expect: err('SESS_ERR_INVALID_ARGUMENT', 'incrementFloat on "n": by must be a finite number, got NaN') },
  { group: 'float/int', name: 'incrementInt of nil', start: { n: 'c0' }, call: patch(inc('n', 1)), expect: wrongType('incrementInt', 'n', 'integer') },
  { group: 'float/int', name: 'incrementInt of true', start: { n: 'c3' }, call: patch(inc('n', 1)), expect: wrongType('incrementInt', 'n', 'integer') },
  { group: 'float/int', name: 'incrementInt of a value set empty in the same patch', start: {}, call: patch(set('n', ''), inc('n', 1)), expect: wrongType('incrementInt', 'n', 'integer') },
  // Append to arrays of every header size, and to everything else.
  { group: 'append', name: 'append to an absent field', start: {}, call: patch(append('l', '01')), expect: ok({ l: '9101' }) },
  { group: 'append', name: 'append to an empty array', start: { l: '90' }, call: patch(append('l', 'a26162')), expect: ok({ l: '91a26162' }) },
  { group: 'append', name: 'append the 16th element', start: { l: `9f${'01'.repeat(15)}` }, call: patch(append('l', '02')), expect: ok({ l: `dc0010${'01'.repeat(15)}02` }) },
  { group: 'append', name: 'append to an array16', start: { l: 'dc00020102' }, call: patch(append('l', '03')), expect: ok({ l: '93010203' }) },
  { group: 'append', name: 'append to an array32', start: { l: 'dd0000000101' }, call: patch(append('l', '02')), expect: ok({ l: '920102' }) },
  { group: 'append', name: 'append to a string', start: { l: 'a26162' }, call: patch(append('l', '01')), expect: wrongType('append', 'l', 'array') },
  { group: 'append', name: 'append to a map', start: { l: '81a16101' }, call: patch(append('l', '01')), expect: wrongType('append', 'l', 'array') },
  { group: 'append', name: 'append to an integer', start: { l: '05' }, call: patch(append('l', '01')), expect: wrongType('append', 'l', 'array') },
  { group: 'append', name: 'append to nil', start: { l: 'c0' }, call: patch(append('l', '01')), expect: wrongType('append', 'l', 'array') },
  { group: 'append', name: 'append to a truncated array16 header', start: { l: 'dc00' }, call: patch(append('l', '01')), expect: wrongType('append', 'l', 'array') },
  // Absent fields.
  { group: 'absent', name: 'delete of an absent field still makes a version', start: { a: '01' }, call: patch({ kind: 'delete', field: 'b' }), expect: ok({ a: '01' }) },
  { group: 'absent', name: 'incrementInt and incrementFloat of absent fields count from zero', start: {}, call: patch(inc('i', -5), incF('f', -0.5)), expect: ok({ i: 'fb', f: 'cbbfe0000000000000' }) },
  { group: 'absent', name: 'a field deleted then incremented in one patch counts from zero', start: { n: '05' }, call: patch({ kind: 'delete', field: 'n' }, inc('n', 2)), expect: ok({ n: '02' }) },
  // Limits at exactly the limit and one over.
  { group: 'limits', name: 'create with exactly maxFields', limits: { maxFields: 3 }, call: (s, ns) => createWith(s, ns, { a: '01', b: '02', c: '03' }), expect: ok({ a: '01', b: '02', c: '03' }, 1) },
  { group: 'limits', name: 'create with maxFields + 1', limits: { maxFields: 3 }, call: (s, ns) => createWith(s, ns, { a: '01', b: '02', c: '03', d: '04' }), expect: limit('4 fields exceeds maxFields (3)') },
  { group: 'limits', name: 'put of maxFields + 1', limits: { maxFields: 3 }, start: { a: '01' }, call: (s, ns, id) => s.put(ns, id, fieldMap({ a: '01', b: '02', c: '03', d: '04' })), expect: limit('4 fields exceeds maxFields (3)') },
  { group: 'limits', name: 'patch to exactly maxFields', limits: { maxFields: 3 }, start: { a: '01', b: '02' }, call: patch(set('c', '03')), expect: ok({ a: '01', b: '02', c: '03' }) },
  { group: 'limits', name: 'patch to maxFields + 1', limits: { maxFields: 3 }, start: { a: '01', b: '02', c: '03' }, call: patch(set('d', '04')), expect: limit('4 fields exceeds maxFields (3)') },
  { group: 'limits', name: 'create with a value of exactly maxFieldBytes', limits: { maxFieldBytes: 4 }, call: (s, ns) => createWith(s, ns, { a: 'a3616263' }), expect: ok({ a: 'a3616263' }, 1) },
  { group: 'limits', name: 'create with a value of maxFieldBytes + 1', limits: { maxFieldBytes: 4 }, call: (s, ns) => createWith(s, ns, { a: 'a461626364' }), expect: limit('field "a" size 5 bytes exceeds maxFieldBytes (4)') },
  { group: 'limits', name: 'append to exactly maxFieldBytes', limits: { maxFieldBytes: 4 }, start: { l: '920102' }, call: patch(append('l', '03')), expect: ok({ l: '93010203' }) },
  { group: 'limits', name: 'append to maxFieldBytes + 1', limits: { maxFieldBytes: 4 }, start: { l: '93010203' }, call: patch(append('l', '04')), expect: limit('field "l" size 5 bytes exceeds maxFieldBytes (4)') },
  { group: 'limits', name: 'incrementFloat makes a float64 one byte over maxFieldBytes', limits: { maxFieldBytes: 8 }, start: { n: '01' }, call: patch(incF('n', 1)), expect: limit('field "n" size 9 bytes exceeds maxFieldBytes (8)') },
  { group: 'limits', name: 'two fields over maxFieldBytes: the first the patch touches is named', limits: { maxFieldBytes: 4 }, start: { a: '01' }, call: patch(set('b', 'a461626364'), set('a', 'a56162636465')), expect: limit('field "b" size 5 bytes exceeds maxFieldBytes (4)') },
  { group: 'limits', name: 'maxFieldBytes is named before maxFields', limits: { maxFieldBytes: 4, maxFields: 1 }, start: { a: '01' }, call: patch(set('b', 'a461626364')), expect: limit('field "b" size 5 bytes exceeds maxFieldBytes (4)') },
  { group: 'limits', name: 'maxFields is named before maxSessionBytes', limits: { maxFields: 1, maxSessionBytes: 3 }, start: { a: '01' }, call: patch(set('b', 'a26162')), expect: limit('2 fields exceeds maxFields (1)') },
  { group: 'limits', name: 'patch to exactly maxSessionBytes', limits: { maxSessionBytes: 6 }, start: { a: '01' }, call: patch(set('b', 'a26162')), expect: ok({ a: '01', b: 'a26162' }) },
  { group: 'limits', name: 'patch to maxSessionBytes + 1', limits: { maxSessionBytes: 6 }, start: { a: '01' }, call: patch(set('bb', 'a26162')), expect: limit('session size 7 bytes exceeds maxSessionBytes (6)') },
  { group: 'limits', name: 'put of exactly maxSessionBytes', limits: { maxSessionBytes: 6 }, start: { a: '01' }, call: (s, ns, id) => s.put(ns, id, fieldMap({ abc: 'a26162' })), expect: ok({ abc: 'a26162' }) },
  { group: 'limits', name: 'put of maxSessionBytes + 1', limits: { maxSessionBytes: 6 }, start: { a: '01' }, call: (s, ns, id) => s.put(ns, id, fieldMap({ abcd: 'a26162' })), expect: limit('session size 7 bytes exceeds maxSessionBytes (6)') },
  // TTLs the store refuses itself.
  { group: 'ttl', name: 'create with ttlMs 0', call: (s, ns) => createWith(s, ns, {}, 0), expect: err('SESS_ERR_INVALID_ARGUMENT', 'ttlMs must be a positive whole number of milliseconds, got 0') },
  { group: 'ttl', name: 'create with ttlMs 1.5', call: (s, ns) => createWith(s, ns, {}, 1.5), expect: err('SESS_ERR_INVALID_ARGUMENT', 'ttlMs must be a positive whole number of milliseconds, got 1.5') },
  { group: 'ttl', name: 'touch with ttlMs -1', start: {}, call: (s, ns, id) => s.touch(ns, id, -1), expect: err('SESS_ERR_INVALID_ARGUMENT', 'ttlMs must be a non-negative whole number of milliseconds, got -1') },
  { group: 'ttl', name: 'patch with ttlMs -5', start: {}, call: (s, ns, id) => s.patch(ns, id, [inc('n', 1)], { ttlMs: -5 }), expect: err('SESS_ERR_INVALID_ARGUMENT', 'ttlMs must be a non-negative whole number of milliseconds, got -5') },
  // Missing, deleted and re-created ids, versions.
  { group: 'ids', name: 'put of a missing session', call: (s, ns, id) => s.put(ns, id, fieldMap({})), expect: err('SESS_ERR_NOT_FOUND', 'session not found') },
  { group: 'ids', name: 'patch with a stale expected version', start: {}, call: (s, ns, id) => s.patch(ns, id, [inc('n', 1)], { expectedVersion: 7 }), expect: err('SESS_ERR_VERSION_CONFLICT', 'version conflict: the session is at version 1', 1) },
  { group: 'ids', name: 'create with a live id', start: {}, call: (s, ns, id) => createWith(s, ns, {}, 1000, id), expect: err('SESS_ERR_ALREADY_EXISTS', 'a live session already has this id') },
  { group: 'ids', name: 'regenerate onto itself', start: {}, call: (s, ns, id) => s.regenerate(ns, id, id), expect: err('SESS_ERR_ALREADY_EXISTS', 'a live session already has this id') },
  { group: 'ids', name: 'regenerate with a stale version onto a live id: the version is checked first', start: {}, call: (s, ns, id) => s.regenerate(ns, id, id, { expectedVersion: 9 }), expect: err('SESS_ERR_VERSION_CONFLICT', 'version conflict: the session is at version 1', 1) },
  { group: 'ids', name: 'delete with an expected version of a missing session', call: (s, ns, id) => s.delete(ns, id, { expectedVersion: 3 }), expect: { ok: false } },
  { group: 'ids', name: 'patch of a deleted id', start: {}, call: async (s, ns, id) => (await s.delete(ns, id), s.patch(ns, id, [inc('n', 1)])), expect: err('SESS_ERR_NOT_FOUND', 'session not found'), removes: true },
  { group: 'ids', name: 'regenerate of a deleted id', start: {}, call: async (s, ns, id) => (await s.delete(ns, id), s.regenerate(ns, id, generateSessionId())), expect: err('SESS_ERR_NOT_FOUND', 'session not found'), removes: true },
  { group: 'ids', name: 'touch of a deleted id', start: {}, call: async (s, ns, id) => (await s.delete(ns, id), s.touch(ns, id, 0)), expect: { ok: null } },
  {
    group: 'ids', name: 'a deleted id created again continues above the tombstone', start: { a: '01' },
    call: async (s, ns, id) => {
      await s.patch(ns, id, [inc('n', 1)]);
      await s.delete(ns, id);
      return createWith(s, ns, { b: '02' }, 1000, id);
    },
    expect: ok({ b: '02' }, 3),
  },
];

function fieldMap(hex: Record<string, string>): Map<string, Uint8Array> {
  return new Map(Object.entries(hex).map(([name, value]) => [name, bytes(value)]));
}

function createWith(store: SessionStore, namespace: string, fields: Record<string, string>, ttlMs = 60_000, id = generateSessionId()) {
  return store.create({ namespace, id, fields: fieldMap(fields), ttlMs, owner: '' });
}

/** Runs one case on `store` in `namespace`: its outcome, and whether a failure left the session alone. */
export async function runEdgeCase(store: SessionStore, namespace: string, edge: EdgeCase): Promise<{ outcome: Outcome; unchanged: boolean }> {
  const id = generateSessionId();
  if (edge.start) await createWith(store, namespace, edge.start, 60_000, id);
  let outcome: Outcome;
  try {
    const value = (await edge.call(store, namespace, id)) as { record?: { version: number; fields: Map<string, Uint8Array> }; version?: number } | boolean | undefined;
    const record = typeof value === 'object' ? (value.record ?? (value as { version: number; fields: Map<string, Uint8Array> })) : undefined;
    outcome = { ok: record?.fields ? { version: record.version, fields: hexFields(record.fields) } : typeof value === 'boolean' ? value : null };
  } catch (error) {
    if (!(error instanceof SessionError)) throw error;
    outcome = error.currentVersion === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, currentVersion: error.currentVersion };
  }
  let unchanged = true;
  if ('code' in outcome && edge.start && !edge.removes) {
    const now = await store.get(namespace, id);
    unchanged = now !== undefined && now.version === 1 && JSON.stringify(hexFields(now.fields)) === JSON.stringify(hexFields(fieldMap(edge.start)));
  }
  return { outcome, unchanged };
}

/** The distinct limit sets of the matrix, so a test builds one store per set. */
export function limitSets(cases: readonly EdgeCase[]): Map<string, Partial<StoreLimits>> {
  return new Map(cases.map((edge) => [JSON.stringify(edge.limits ?? {}), edge.limits ?? {}]));
}

export function runEdgeCaseContract(test: TestFn, makeStore: MakeStore): void {
  for (const group of new Set(EDGE_CASES.map((edge) => edge.group))) {
    const cases = EDGE_CASES.filter((edge) => edge.group === group);
    test(`issue 7 edge cases, ${group}: exact outcome and message`, async (t: ExecutionContext) => {
      const stores = new Map<string, SessionStore>();
      for (const [key, limits] of limitSets(cases)) {
        const { store, cleanup } = await makeStore({ ...DEFAULT_TEST_LIMITS, ...limits });
        if (cleanup) t.teardown(cleanup);
        stores.set(key, store);
      }
      for (const edge of cases) {
        const { outcome, unchanged } = await runEdgeCase(stores.get(JSON.stringify(edge.limits ?? {}))!, `ns-${generateSessionId()}`, edge);
        t.deepEqual(outcome, edge.expect, edge.name);
        t.true(unchanged, `${edge.name}: a failed call leaves the session as it was`);
      }
    });
  }
}
