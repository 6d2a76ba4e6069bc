// The SessionStore contract on a Redis Cluster of 3 masters (and a replica each), the same suite that
// runs on standalone Redis and on the memory store; and what only a Cluster asks: every script call
// keeps all its keys in one hash slot, and a call that does not is refused loudly.
import { createHash } from 'node:crypto';
import test from 'ava';
import { Cluster } from 'ioredis';
import { pack } from 'msgpackr';
import { CLUSTER_STEP_SCRIPTS } from '../../server/redis-cluster-scripts.ts';
import { slotOf } from '../../server/redis-cluster-subscriber.ts';
import { toStoreError } from '../../server/redis-failures.ts';
import { sessionScripts, shardedScript } from '../../server/redis-scripts.ts';
import { generateSessionId } from '../../server/session-id.ts';
import type { StoreLimits } from '../../server/session-store.ts';
import type { ClusterStep } from '../../server/redis-cluster-steps.ts';
import { DEFAULT_TEST_LIMITS, runSessionStoreContract } from '../contract/session-store.ts';
import { openClusterStore, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';

let cluster: RedisCluster;
test.before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
});
test.after.always(async () => {
  await cluster?.stop();
});

async function makeClusterStore(limits: Partial<StoreLimits> = {}, onClusterStep?: (step: ClusterStep) => Promise<void>) {
  // Six redis-servers beside the rest of the suite on 2 cores: generous timeouts (test/helpers/servers.ts says why).
  const store = openClusterStore(cluster.seeds, { commandTimeoutMs: 15_000, connectTimeoutMs: 15_000, limits: { ...DEFAULT_TEST_LIMITS, ...limits }, onClusterStep });
  if (!(await store.waitUntilReady(30_000))) throw new Error('Cluster store did not become ready');
  // The cluster is this file's own and goes with it: no keys to delete.
  return { store, cleanup: () => store.close() };
}

runSessionStoreContract(test, makeClusterStore);

/** Every script the store may run on a Cluster, by the SHA-1 that EVALSHA sends. */
function scriptsBySha(): Map<string, string> {
  const all = { ...sessionScripts(true), ...Object.fromEntries(Object.entries(CLUSTER_STEP_SCRIPTS).map(([n, d]) => [n, shardedScript(d)])) };
  return new Map(Object.entries(all).map(([name, { lua }]) => [createHash('sha1').update(lua).digest('hex'), name]));
}

test.serial('every script call keeps all its keys in one hash slot, and every script is exercised', async (t) => {
  const bySha = scriptsBySha();
  const seen = new Map<string, number>();
  const crossSlot: string[] = [];
  const original = Cluster.prototype.sendCommand;
  Cluster.prototype.sendCommand = function (this: Cluster, command: { name: string; args: unknown[] }, ...rest: unknown[]) {
    if (command.name === 'evalsha' || command.name === 'eval') {
      const head = String(command.args[0]);
      // The first call of a script on a connection is an EVAL of its source, later ones EVALSHA.
      const name = bySha.get(command.name === 'evalsha' ? head : createHash('sha1').update(head).digest('hex'));
      const keys = command.args.slice(2, 2 + Number(command.args[1])).map(String);
      const slots = new Set(keys.map(slotOf));
      if (slots.size !== 1) crossSlot.push(`${name}: ${keys.join(' ')}`);
      const label = name ?? `unknown script ${head.slice(0, 12)}`;
      seen.set(label, (seen.get(label) ?? 0) + 1);
    }
    return (original as (...args: unknown[]) => unknown).call(this, command, ...rest) as ReturnType<Cluster['sendCommand']>;
  } as Cluster['sendCommand'];
  t.teardown(() => {
    Cluster.prototype.sendCommand = original;
  });

  // Once, between staging a regenerate and committing it, the session changes: the staging is
  // dropped (stkUnstage) and the regenerate starts again from the new version.
  let interfere: (() => Promise<unknown>) | undefined;
  let interfered = 0;
  const { store, cleanup } = await makeClusterStore({}, async (step) => {
    const run = interfere;
    if (step !== 'regenerate:staged' || !run) return;
    interfere = undefined;
    interfered += 1;
    await run();
  });
  t.teardown(cleanup);
  const ns = 'shop';
  const id = generateSessionId();
  await store.create({ namespace: ns, id, fields: new Map([['cart', pack([])]]), ttlMs: 60_000, owner: 'alice', idempotencyKey: 'create-1' });
  await store.create({ namespace: ns, id, fields: new Map([['cart', pack([])]]), ttlMs: 60_000, owner: 'alice', idempotencyKey: 'create-1' });
  await store.put(ns, id, new Map([['cart', pack(['a'])]]), { idempotencyKey: 'put-1' });
  await store.patch(ns, id, [{ kind: 'append', field: 'cart', value: pack('b') }], { idempotencyKey: 'patch-1' });
  await store.get(ns, id, { slide: true });
  await store.touch(ns, id, 60_000);
  await store.head(ns, id);
  const newId = generateSessionId();
  interfere = () => store.patch(ns, id, [{ kind: 'incrementInt', field: 'visits', by: 1 }]);
  const moved = await store.regenerate(ns, id, newId, { owner: 'alice', idempotencyKey: 'login' });
  t.is(interfered, 1);
  t.true(moved.record.fields.has('visits'), 'the regenerate carried the change made while it was staged');
  const taken = generateSessionId();
  await store.create({ namespace: ns, id: taken, fields: new Map(), ttlMs: 60_000, owner: '' });
  const other = generateSessionId();
  await store.create({ namespace: ns, id: other, fields: new Map(), ttlMs: 60_000, owner: 'alice' });
  await store.patch(ns, other, [{ kind: 'set', field: 'n', value: pack(1) }], { idempotencyKey: 'n-1' });
  const changed = store.regenerate(ns, other, generateSessionId(), { expectedVersion: 1 });
  await t.throwsAsync(changed, { message: /version/i });
  t.is((await store.listByOwner(ns, 'alice')).length, 2);
  await store.delete(ns, taken);
  t.is(await store.revokeByOwner(ns, 'alice', []), 2);

  t.deepEqual(crossSlot, [], 'script calls with keys in more than one slot');
  const standaloneOnly = new Set(['stkRegenerate', 'stkListOwner', 'stkRevokeOwner']);
  const expected = [...bySha.values()].filter((name) => !standaloneOnly.has(name)).sort();
  const missing = expected.filter((name) => !seen.has(name));
  t.deepEqual(missing, [], 'scripts this workload never ran, so their keys were never checked');
});

test('a script call with keys in two slots is refused by the cluster and reported as an internal error', async (t) => {
  const client = new Cluster(cluster.seeds.map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) })));
  t.teardown(() => client.disconnect());
  const [a, b] = ['{a}x', '{b}x'];
  t.not(slotOf(a), slotOf(b));
  const error = await t.throwsAsync(client.eval("return redis.call('GET', KEYS[2])", 2, a, b));
  t.regex(error!.message, /CROSSSLOT|non local key|different slot/i);
  const mapped = toStoreError(error, { address: 'cluster', write: true, commandTimeoutMs: 1000, connectionReason: '' });
  t.is(mapped.code, 'SESS_ERR_INTERNAL');
});

test('a command the cluster kept refusing is reported as not applied; one whose connection closed, as maybe applied', (t) => {
  const context = { address: 'cluster', write: true, commandTimeoutMs: 1000, connectionReason: '' };
  const refused = toStoreError(new Error('Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down'), context);
  t.is(refused.code, 'SESS_ERR_STORE_UNAVAILABLE');
  t.regex(refused.message, /kept refusing the command \(CLUSTERDOWN\).*nothing was applied/);
  const closed = toStoreError(new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'), context);
  t.is(closed.code, 'SESS_ERR_OUTCOME_UNKNOWN');
});
