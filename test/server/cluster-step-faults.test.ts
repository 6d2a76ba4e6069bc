// Fault injection on a Redis Cluster: a sessiond process runs Regenerate (or an idempotent Create)
// and is killed with SIGKILL right after one of its steps (redis-cluster-steps.ts). Whatever the
// step, afterwards exactly one of the old and the new session is live, with the old one's fields,
// creation time and TTL; ListByOwner shows exactly the live one (never a ghost); and the caller's
// retry with the same idempotency key completes the operation once.
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { pack } from 'msgpackr';
import { generateSessionId, sessionHandle } from '../../server/session-id.ts';
import { RedisSessionStore } from '../../server/session-store-redis.ts';
import { DEFAULT_TEST_LIMITS } from '../contract/session-store.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { openClusterStore, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';
import { spawnNode } from '../helpers/servers.ts';

const WORKER = fileURLToPath(new URL('./cluster-step-worker.ts', import.meta.url));
const NS = 'shop';

let cluster: RedisCluster;
test.before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
});
test.after.always(async () => {
  await cluster?.stop();
});

async function openStore(t: ExecutionContext, prefix: string): Promise<RedisSessionStore> {
  const store = openClusterStore(cluster.seeds, { commandTimeoutMs: 15_000, connectTimeoutMs: 5000, keyPrefix: prefix });
  t.teardown(() => store.close());
  t.true(await store.waitUntilReady(20_000), 'cluster store ready');
  return store;
}

/** Runs the worker; resolves with how it ended ('done' or the signal that killed it). */
async function runWorker(t: ExecutionContext, job: Record<string, unknown>): Promise<string> {
  const worker = spawnNode(t, WORKER, [JSON.stringify({ seeds: cluster.seeds, limits: DEFAULT_TEST_LIMITS, namespace: NS, ...job })]);
  const ended = await worker.exited;
  if (ended === 0 && worker.stdout().includes('done')) return 'done';
  if (ended !== 'SIGKILL') t.fail(`worker ended with ${ended}: ${worker.stderr()}`);
  return String(ended);
}

const REGENERATE_STEPS = ['regenerate:staged', 'regenerate:indexed', 'regenerate:moved', 'regenerate:finished', 'none'] as const;
const COMMITTED = new Set(['regenerate:moved', 'regenerate:finished', 'none']);

for (const step of REGENERATE_STEPS) {
  test(`regenerate, sessiond killed after ${step}: exactly one of old and new is live, with its TTL, and listed without ghosts`, async (t) => {
    t.timeout(180_000);
    const prefix = uniquePrefix();
    const store = await openStore(t, prefix);
    const oldId = generateSessionId();
    const newId = generateSessionId();
    await store.create({ namespace: NS, id: oldId, fields: new Map([['cart', pack([])]]), ttlMs: 45_000, owner: 'alice' });
    const before = (await store.patch(NS, oldId, [{ kind: 'append', field: 'cart', value: pack('sku-1') }])).record;

    const ended = await runWorker(t, { prefix, killAt: step, op: 'regenerate', id: oldId, newId, owner: 'alice', idempotencyKey: 'login-1' });
    t.is(ended, step === 'none' ? 'done' : 'SIGKILL');

    const [oldNow, newNow] = [await store.get(NS, oldId), await store.get(NS, newId)];
    t.is(Number(oldNow !== undefined) + Number(newNow !== undefined), 1, 'exactly one of the old and the new session is live');
    const live = COMMITTED.has(step) ? newNow : oldNow;
    t.truthy(live, COMMITTED.has(step) ? 'committed: the new session is live' : 'not committed: the old session is live');
    t.deepEqual(live!.fields, before.fields);
    t.is(live!.createdAtMs, before.createdAtMs);
    t.is(live!.ttlMs, 45_000);
    t.true(live!.expiresAtMs <= live!.createdAtMs + DEFAULT_TEST_LIMITS.maxLifetimeMs);
    const liveHandle = sessionHandle(NS, COMMITTED.has(step) ? newId : oldId);
    t.deepEqual((await store.listByOwner(NS, 'alice')).map((s) => s.handle), [liveHandle], 'ListByOwner shows the live session only');

    // The caller retries with its idempotency key; sessiond picks a new id for each call, so a retry
    // of a regenerate that never committed moves the session there, and one that did answers with
    // the id it moved to. Either way the regenerate happens once.
    const retryId = generateSessionId();
    const retried = await store.regenerate(NS, oldId, retryId, { owner: 'alice', idempotencyKey: 'login-1' });
    const finalId = COMMITTED.has(step) ? newId : retryId;
    t.is(retried.replayed, COMMITTED.has(step));
    t.is(retried.record.id, finalId);
    t.deepEqual(retried.record.fields, before.fields);
    t.is(retried.record.version, before.version + 1);
    for (const id of [oldId, newId, retryId]) t.is((await store.get(NS, id)) !== undefined, id === finalId);
    t.deepEqual((await store.listByOwner(NS, 'alice')).map((s) => s.handle), [sessionHandle(NS, finalId)]);
  });
}

test('a regenerate retried onto the same new id after a crash at staging uses the staging it left, or a fresh one once the session changed', async (t) => {
  // Failovers and process starts on a busy 2-core machine: a bound, not a speed limit.
  t.timeout(180_000);
  const prefix = uniquePrefix();
  const store = await openStore(t, prefix);
  for (const changeBetween of [false, true]) {
    const oldId = generateSessionId();
    const newId = generateSessionId();
    await store.create({ namespace: NS, id: oldId, fields: new Map([['n', pack(1)]]), ttlMs: 45_000, owner: '' });
    t.is(await runWorker(t, { prefix, killAt: 'regenerate:staged', op: 'regenerate', id: oldId, newId, owner: '', idempotencyKey: `k-${changeBetween}` }), 'SIGKILL');
    if (changeBetween) await store.patch(NS, oldId, [{ kind: 'set', field: 'n', value: pack(2) }]);
    const expected = (await store.get(NS, oldId))!;
    const moved = await store.regenerate(NS, oldId, newId, { idempotencyKey: `k-${changeBetween}` });
    t.deepEqual(moved.record.fields, expected.fields, changeBetween ? 'the stale staging was replaced' : 'the staging was used');
    t.is(moved.record.version, expected.version + 1);
    t.is(await store.get(NS, oldId), undefined);
  }
});

for (const step of ['create:claimed', 'create:indexed', 'none'] as const) {
  test(`idempotent create, sessiond killed after ${step}: the retry creates the claimed session once, listed once`, async (t) => {
    t.timeout(180_000);
    const prefix = uniquePrefix();
    const store = await openStore(t, prefix);
    const claimedId = generateSessionId();
    const ended = await runWorker(t, { prefix, killAt: step, op: 'create', id: '', newId: claimedId, owner: 'bob', idempotencyKey: 'signup-1' });
    t.is(ended, step === 'none' ? 'done' : 'SIGKILL');
    const created = step === 'none';
    t.is((await store.get(NS, claimedId)) !== undefined, created);
    t.deepEqual((await store.listByOwner(NS, 'bob')).map((s) => s.handle), created ? [sessionHandle(NS, claimedId)] : []);

    // The retry carries the same key and (as sessiond generates one per call) another id.
    const retry = await store.create({ namespace: NS, id: generateSessionId(), fields: new Map([['cart', pack([])]]), ttlMs: 60_000, owner: 'bob', idempotencyKey: 'signup-1' });
    t.is(retry.record.id, claimedId);
    t.is(retry.replayed, created);
    const again = await store.create({ namespace: NS, id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: 'bob', idempotencyKey: 'signup-1' });
    t.true(again.replayed);
    t.is(again.record.id, claimedId);
    t.deepEqual((await store.listByOwner(NS, 'bob')).map((s) => s.handle), [sessionHandle(NS, claimedId)]);

    // Once deleted, a repeat of the create never brings the id back: it creates another session.
    await store.delete(NS, claimedId);
    const afterDelete = await store.create({ namespace: NS, id: generateSessionId(), fields: new Map(), ttlMs: 60_000, owner: 'bob', idempotencyKey: 'signup-1' });
    t.not(afterDelete.record.id, claimedId);
    t.false(afterDelete.replayed);
    t.is(await store.get(NS, claimedId), undefined);
  });
}
