// When a fresh store on a Redis Cluster says it is ready. Ready while any master answers would let
// the first calls for a shard whose connection is still coming up be refused unsent
// (SESS_ERR_STORE_UNAVAILABLE); so at start a store waits until every master has answered, and a
// master that stays silent holds it back only for clusterStartGraceMs. A master frozen with SIGSTOP
// keeps its sockets and answers nothing: the case a start can meet that a connection event never shows.
import test from 'ava';
import { pack } from 'msgpackr';
import type { SessionError } from '../../proto/errors.ts';
import { generateSessionId, sessionHandle } from '../../server/session-id.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { openClusterStore, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';
import { waitFor } from '../helpers/servers.ts';

let cluster: RedisCluster;
test.before(async () => {
  // No replicas, so a frozen master is not failed over; the other shards serve meanwhile.
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0, requireFullCoverage: false });
});
test.after.always(async () => {
  await cluster?.stop();
});

/** Creates sessions until one has landed on every master; returns how many were created. */
async function writeToEveryMaster(store: ReturnType<typeof openClusterStore>, prefix: string): Promise<number> {
  const masters = new Set<number>();
  let created = 0;
  while (masters.size < 3) {
    const id = generateSessionId();
    await store.create({ namespace: 'shop', id, fields: new Map([['n', pack(0)]]), ttlMs: 60_000, owner: '' });
    created += 1;
    masters.add((await cluster.masterForKey(`${prefix}s:{${sessionHandle('shop', id)}}`)).port);
  }
  return created;
}

test.serial('a fresh store is not ready while one master is silent, and is once it answers: then every shard takes writes', async (t) => {
  t.timeout(120_000);
  const frozen = cluster.nodes[1]!;
  cluster.pause(frozen, true);
  t.teardown(() => cluster.pause(frozen, false));
  const prefix = uniquePrefix();
  const store = openClusterStore(cluster.seeds, { commandTimeoutMs: 3000, connectTimeoutMs: 3000, heartbeatIntervalMs: 200, clusterStartGraceMs: 600_000, keyPrefix: prefix });
  t.teardown(() => store.close());

  // The first heartbeat that got an answer from the others and none from the frozen master.
  const status = await waitFor(() => {
    const { state, reason } = store.redisStatus;
    return state === 'answering' || (state === 'unreachable' && reason.startsWith('no answer within')) ? store.redisStatus : undefined;
  }, 60_000, 'a heartbeat judged');
  t.is(status.state, 'unreachable', 'one master never answered, so the store must not be answering');
  t.false(store.ready);

  cluster.pause(frozen, false);
  t.true(await store.waitUntilReady(60_000));
  const created = await writeToEveryMaster(store, prefix);
  t.log(`${created} sessions created to reach every master, none refused`);
});

test.serial('a master still silent after clusterStartGraceMs: the store serves the shards that answer', async (t) => {
  t.timeout(120_000);
  const frozen = cluster.nodes[2]!;
  cluster.pause(frozen, true);
  t.teardown(() => cluster.pause(frozen, false));
  const prefix = uniquePrefix();
  const store = openClusterStore(cluster.seeds, { commandTimeoutMs: 3000, connectTimeoutMs: 3000, heartbeatIntervalMs: 200, clusterStartGraceMs: 1000, keyPrefix: prefix });
  t.teardown(() => store.close());

  t.true(await store.waitUntilReady(60_000), 'ready with two of three masters once the grace has passed');
  // A session on an answering shard is written while the frozen master still says nothing.
  for (;;) {
    const id = generateSessionId();
    if ((await cluster.masterForKey(`${prefix}s:{${sessionHandle('shop', id)}}`)).port === frozen.port) continue;
    const created = await store.create({ namespace: 'shop', id, fields: new Map([['n', pack(0)]]), ttlMs: 60_000, owner: '' });
    t.is(created.record.version, 1);
    break;
  }
  t.is(frozen.state, 'paused');
});

test.serial('a write for the shard of a killed master is refused as not applied (its connection is not up), and taken once the master is back', async (t) => {
  t.timeout(120_000);
  const prefix = uniquePrefix();
  const store = openClusterStore(cluster.seeds, { commandTimeoutMs: 2000, connectTimeoutMs: 1000, heartbeatIntervalMs: 200, keyPrefix: prefix });
  t.teardown(() => store.close());
  t.true(await store.waitUntilReady(60_000));
  const victim = cluster.nodes[0]!;
  let id: string;
  do id = generateSessionId(); while ((await cluster.masterForKey(`${prefix}s:{${sessionHandle('shop', id)}}`)).port !== victim.port);
  await cluster.kill(victim);
  // Once a read on that shard fails, the store has seen its connection close: what follows is not
  // a write caught in flight by the kill (that one is rightly "maybe applied").
  await waitFor(() => store.get('shop', id).then(() => undefined, (error: unknown) => error), 30_000, 'a read on the dead shard to fail');

  // ioredis is sent to the dead master by MOVED, opens a new connection and refuses to send before
  // it is up, in the words of a connection lost in flight; sessiond must not call that "maybe applied".
  const refused = await t.throwsAsync(store.create({ namespace: 'shop', id, fields: new Map([['n', pack(1)]]), ttlMs: 60_000, owner: '' }));
  t.is((refused as SessionError).code, 'SESS_ERR_STORE_UNAVAILABLE', refused?.message);
  t.regex(refused!.message, /not up; nothing was applied/);

  await cluster.restart(victim);
  const created = await waitFor(() => store.create({ namespace: 'shop', id, fields: new Map([['n', pack(2)]]), ttlMs: 60_000, owner: '' })
    .catch((error: unknown) => {
      if ((error as SessionError).code !== 'SESS_ERR_STORE_UNAVAILABLE') throw error;
      return undefined;
    }), 60_000, 'the restarted master to take the write');
  t.is(created.record.version, 1, 'the refused create left nothing behind');
});
