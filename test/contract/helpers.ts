// Helpers of the SessionStore conformance suite (session-store.ts and the files it runs): limits,
// per-test setup, and assertions that compare what both stores answer.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { unpack } from 'msgpackr';
import { SessionError, type SessionErrorCode } from '../../proto/errors.ts';
import { generateSessionId } from '../../server/session-id.ts';
import type { CreateInput, SessionChange, SessionRecord, SessionStore, StoreLimits } from '../../server/session-store.ts';

/** Limits the suite assumes unless a test asks for others. */
export const DEFAULT_TEST_LIMITS: Readonly<StoreLimits> = Object.freeze({
  maxSessionBytes: 64 * 1024,
  maxFields: 64,
  maxFieldBytes: 16 * 1024,
  maxLifetimeMs: 24 * 60 * 60 * 1000,
  idempotencyWindowMs: 60_000,
});

/**
 * Builds a fresh store for one test. The suite always passes a complete StoreLimits
 * (DEFAULT_TEST_LIMITS with the test's overrides applied). `cleanup` runs in teardown; it should
 * close the store and remove whatever the test left behind.
 */
export type MakeStore = (limits?: Partial<StoreLimits>) => Promise<{ store: SessionStore; cleanup?: () => Promise<void> }>;

/** Store and server clocks may differ a little (Redis TIME), so absolute times get this much slack. */
export const CLOCK_SLACK_MS = 2000;

/** A fresh store (closed in teardown), a namespace of its own, and a create() with defaults. */
export async function setupStore(t: ExecutionContext, makeStore: MakeStore, limits: Partial<StoreLimits> = {}) {
  const { store, cleanup } = await makeStore({ ...DEFAULT_TEST_LIMITS, ...limits });
  if (cleanup) t.teardown(cleanup);
  const ns = `ns-${randomUUID()}`;
  const create = (overrides: Partial<CreateInput> = {}) =>
    store.create({ namespace: ns, id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: '', ...overrides });
  return { store, ns, create };
}

export async function rejects(t: ExecutionContext, promise: Promise<unknown>, code: SessionErrorCode): Promise<SessionError | undefined> {
  return t.throwsAsync(promise, { instanceOf: SessionError, code }) as Promise<SessionError | undefined>;
}

/** Asserts SESS_ERR_LIMIT_EXCEEDED whose message names the limit, the size (when known) and the maximum. */
export async function limitExceeded(t: ExecutionContext, promise: Promise<unknown>, limit: keyof StoreLimits, size: number | undefined, max: number) {
  const error = await rejects(t, promise, 'SESS_ERR_LIMIT_EXCEEDED');
  const message = error?.message ?? '';
  t.true(message.includes(limit), `message names ${limit}: ${message}`);
  t.true(message.includes(String(max)), `message names the maximum ${max}: ${message}`);
  if (size !== undefined) t.true(message.includes(String(size)), `message names the size ${size}: ${message}`);
}

/** Polls `condition` every 20 ms for at most 20 s (generous: the suite must pass on a busy machine). */
export async function until(t: ExecutionContext, condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting until ${what}`);
      return;
    }
    await sleep(20);
  }
}

export async function watch(store: SessionStore, namespace: string, id: string): Promise<SessionChange[]> {
  const events: SessionChange[] = [];
  await store.subscribe(namespace, id, (change) => events.push(change));
  return events;
}

export function near(t: ExecutionContext, actual: number, expected: number, slackMs = CLOCK_SLACK_MS): void {
  t.true(Math.abs(actual - expected) <= slackMs, `${actual} is within ${slackMs} ms of ${expected} (off by ${actual - expected})`);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function hexFields(fields: Map<string, Uint8Array>): Record<string, string> {
  const entries = [...fields].map(([name, value]): [string, string] => [name, hex(value)]);
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function decodeFields(fields: Map<string, Uint8Array>): Record<string, unknown> {
  return Object.fromEntries([...fields].map(([name, value]) => [name, unpack(value)]));
}

export function meta(record: SessionRecord) {
  const { id, namespace, version, createdAtMs, updatedAtMs, expiresAtMs, ttlMs, owner } = record;
  return { id, namespace, version, createdAtMs, updatedAtMs, expiresAtMs, ttlMs, owner };
}

export function summary(record: SessionRecord) {
  return { ...meta(record), fields: hexFields(record.fields) };
}
