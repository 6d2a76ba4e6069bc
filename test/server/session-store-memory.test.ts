import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { pack } from 'msgpackr';
import { SessionError } from '../../proto/errors.ts';
import { generateSessionId } from '../../server/session-id.ts';
import { MemorySessionStore } from '../../server/session-store-memory.ts';
import type { SessionChange, StoreLimits } from '../../server/session-store.ts';
import { DEFAULT_TEST_LIMITS, runSessionStoreContract } from '../contract/session-store.ts';

runSessionStoreContract(test, async (limits) => {
  const store = new MemorySessionStore({ ...DEFAULT_TEST_LIMITS, ...limits });
  return { store, cleanup: () => store.close() };
});

/** A store on a hand-driven clock. */
function clockedStore(t: import('ava').ExecutionContext, limits: Partial<StoreLimits> = {}, sweepIntervalMs = 1000) {
  const clock = { nowMs: 1_700_000_000_000 };
  const store = new MemorySessionStore({ ...DEFAULT_TEST_LIMITS, ...limits }, { now: () => clock.nowMs, sweepIntervalMs });
  t.teardown(() => store.close());
  return { store, clock };
}

test('memory: a session expires exactly at expiresAtMs on the store clock', async (t) => {
  const { store, clock } = clockedStore(t);
  const { record } = await store.create({ namespace: 'ns', id: generateSessionId(), fields: new Map(), ttlMs: 1000, owner: '' });
  t.is(record.expiresAtMs, clock.nowMs + 1000);
  clock.nowMs += 999;
  t.truthy(await store.get('ns', record.id));
  clock.nowMs += 1;
  t.is(await store.get('ns', record.id), undefined);
  await t.throwsAsync(store.patch('ns', record.id, []), { instanceOf: SessionError, code: 'SESS_ERR_NOT_FOUND' });
});

test('memory: the sweep timer drops expired sessions, owner index entries, tombstones and idempotency keys', async (t) => {
  const { store, clock } = clockedStore(t, { maxLifetimeMs: 10_000, idempotencyWindowMs: 5000 }, 10);
  const ids = Array.from({ length: 5 }, () => generateSessionId());
  for (const id of ids) {
    await store.create({ namespace: 'ns', id, fields: new Map([['a', pack(1)]]), ttlMs: 1000, owner: 'alice', idempotencyKey: `c-${id}` });
    await store.patch('ns', id, [{ kind: 'incrementInt', field: 'n', by: 1 }], { idempotencyKey: 'p' });
  }
  await store.delete('ns', ids[0]!);
  t.deepEqual(store.size, { sessions: 4, tombstones: 1, idempotencyKeys: 8, owners: 1 });
  clock.nowMs += 10_000;
  const deadline = Date.now() + 2000;
  while (store.size.sessions + store.size.tombstones + store.size.idempotencyKeys + store.size.owners > 0 && Date.now() < deadline) await sleep(10);
  t.deepEqual(store.size, { sessions: 0, tombstones: 0, idempotencyKeys: 0, owners: 0 });
});

test('memory: an unclosed store does not keep the process alive', async (t) => {
  const storeUrl = new URL('../../server/session-store-memory.ts', import.meta.url).href;
  const script = `
    import { MemorySessionStore } from ${JSON.stringify(storeUrl)};
    const store = new MemorySessionStore(${JSON.stringify(DEFAULT_TEST_LIMITS)}, { sweepIntervalMs: 5 });
    await store.create({ namespace: 'ns', id: 'x', fields: new Map(), ttlMs: 60000, owner: '' });
    await store.subscribe('ns', 'x', () => {});
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'], cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  t.is(signal, null, 'the process exited by itself');
  t.is(code, 0, stderr);
});

test('memory: callers cannot change stored values through the arrays they passed in or got back', async (t) => {
  const { store } = clockedStore(t);
  const value = pack('original');
  const { record } = await store.create({ namespace: 'ns', id: generateSessionId(), fields: new Map([['a', value]]), ttlMs: 1000, owner: '' });
  value.fill(0);
  record.fields.get('a')!.fill(0);
  const patchValue = pack('patched');
  await store.patch('ns', record.id, [{ kind: 'set', field: 'b', value: patchValue }]);
  patchValue.fill(0);
  const read = await store.get('ns', record.id);
  read!.fields.get('a')!.fill(0);
  read!.fields.set('c', pack(1));
  const again = await store.get('ns', record.id);
  t.deepEqual(Buffer.from(again!.fields.get('a')!), pack('original'));
  t.deepEqual(Buffer.from(again!.fields.get('b')!), pack('patched'));
  t.false(again!.fields.has('c'));
});

test('memory: a throwing watcher does not disturb the store or other watchers', async (t) => {
  const { store } = clockedStore(t);
  const { record } = await store.create({ namespace: 'ns', id: generateSessionId(), fields: new Map(), ttlMs: 1000, owner: '' });
  const seen: SessionChange[] = [];
  await store.subscribe('ns', record.id, () => {
    throw new Error('watcher bug');
  });
  await store.subscribe('ns', record.id, (change) => seen.push(change));
  await store.patch('ns', record.id, [{ kind: 'set', field: 'a', value: pack(1) }]);
  await sleep(0);
  t.deepEqual(seen.map((c) => c.version), [2]);
});

test('memory: calls after close reject with SESS_ERR_STORE_UNAVAILABLE', async (t) => {
  const { store } = clockedStore(t);
  await store.close();
  await t.throwsAsync(store.get('ns', generateSessionId()), { instanceOf: SessionError, code: 'SESS_ERR_STORE_UNAVAILABLE' });
});
