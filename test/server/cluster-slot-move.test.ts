// A slot moved to another master while a session in it is watched (a resharding, done here by hand
// with CLUSTER SETSLOT and MIGRATE): the session is served from its new master, and the watcher is
// told of the gap and hears the changes made there (its SSUBSCRIBE followed the slot).
import test from 'ava';
import { Redis } from 'ioredis';
import { slotOf } from '../../server/redis-cluster-subscriber.ts';
import { generateSessionId, sessionHandle } from '../../server/session-id.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { openClusterStore, startRedisCluster, type RedisCluster, type RedisClusterNode } from '../helpers/redis-cluster.ts';
import { waitFor } from '../helpers/servers.ts';

let cluster: RedisCluster;
test.before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
});
test.after.always(async () => {
  await cluster?.stop();
});

function connectTo(node: RedisClusterNode): Redis {
  const redis = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 5000 });
  redis.on('error', () => {});
  return redis;
}

/** Moves `slot` with its keys from `from` to `to`, the way redis-cli --cluster reshard does. */
async function moveSlot(slot: number, from: RedisClusterNode, to: RedisClusterNode): Promise<void> {
  const [source, target] = [connectTo(from), connectTo(to)];
  try {
    const [sourceId, targetId] = [String(await source.call('CLUSTER', 'MYID')), String(await target.call('CLUSTER', 'MYID'))];
    await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId);
    await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId);
    for (;;) {
      const keys = (await source.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      await source.call('MIGRATE', to.host, to.port, '', 0, 5000, 'KEYS', ...keys);
    }
    for (const node of cluster.nodes.filter((n) => n.state === 'running')) {
      const redis = connectTo(node);
      try {
        await redis.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
      } finally {
        redis.disconnect();
      }
    }
  } finally {
    source.disconnect();
    target.disconnect();
  }
}

test('a watched session whose slot moves to another master: the watcher hears of the gap and follows the slot', async (t) => {
  // Failovers and process starts on a busy 2-core machine: a bound, not a speed limit.
  t.timeout(180_000);
  const prefix = uniquePrefix();
  const store = openClusterStore(cluster.seeds, { commandTimeoutMs: 5000, connectTimeoutMs: 2000, keyPrefix: prefix });
  t.teardown(() => store.close());
  t.true(await store.waitUntilReady(20_000));
  const ns = 'shop';
  const id = generateSessionId();
  await store.create({ namespace: ns, id, fields: new Map(), ttlMs: 300_000, owner: '' });
  const key = `${prefix}s:{${sessionHandle(ns, id)}}`;
  const heard: number[] = [];
  let gaps = 0;
  const unsubscribe = await store.subscribe(ns, id, (change) => heard.push(change.version), () => (gaps += 1));
  t.teardown(() => unsubscribe());
  const first = (await store.patch(ns, id, [{ kind: 'incrementInt', field: 'n', by: 1 }])).record.version;
  await waitFor(() => heard.includes(first), 30_000, 'the watcher hears a change before the move');

  const from = await cluster.masterForKey(key);
  const to = cluster.nodes.find((n) => n.role === 'master' && n.port !== from.port && n.state === 'running')!;
  await moveSlot(slotOf(key), from, to);
  t.is((await cluster.masterForKey(key)).port, to.port, 'the slot now lives on the other master');

  await waitFor(() => gaps > 0, 30_000, 'the watcher told of the gap');
  const after = (await store.patch(ns, id, [{ kind: 'incrementInt', field: 'n', by: 1 }])).record.version;
  t.is(after, first + 1, 'the session moved with its slot');
  await waitFor(() => heard.includes(after), 30_000, 'the watcher hears a change made on the new master');
  t.true(heard.includes(after));
});
