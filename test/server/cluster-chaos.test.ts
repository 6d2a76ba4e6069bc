// Chaos on a Redis Cluster of 3 masters + 3 replicas (issue 9, point 7): sessions spread over every
// shard take increments under load with replicaAcks = 1 while one master is killed with -9. Calls on
// the other shards never fail; the killed shard's sessions come back once its replica is promoted (and
// the old master rejoins as the new replica, so WAIT can be confirmed again); and no acknowledged
// increment is lost: each counter equals the increments its caller saw acknowledged, once every call
// was retried with its idempotency key to an answer. A watcher of a session on the killed shard is
// told about the gap and hears the changes made after the failover (sharded pub/sub resubscribed).
import test from 'ava';
import { Redis } from 'ioredis';
import { unpack } from 'msgpackr';
import { SessionError } from '../../proto/errors.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { openClusterStore, spreadSessions, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';
import { waitFor } from '../helpers/servers.ts';

let cluster: RedisCluster;
test.before(async () => {
  // As docs/architecture.md advises: with Redis' default (full coverage), every shard refuses
  // commands while the killed master's slots have no master yet.
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, requireFullCoverage: false });
});
test.after.always(async () => {
  await cluster?.stop();
});

const NS = 'shop';
/** Codes a caller may meet while a shard fails over; each is retried with the same idempotency key. */
const TRANSIENT = new Set(['SESS_ERR_STORE_UNAVAILABLE', 'SESS_ERR_OUTCOME_UNKNOWN', 'SESS_ERR_REPLICA_ACK_TIMEOUT', 'SESS_ERR_NOT_ENOUGH_REPLICAS']);

test.serial('kill -9 of a master under load: other shards never fail, its sessions come back, no acknowledged write is lost', async (t) => {
  // Failovers and process starts on a busy 2-core machine: a bound, not a speed limit.
  t.timeout(180_000);
  const prefix = uniquePrefix();
  // A busy machine (the whole suite on 2 cores) can hold a healthy shard's answer for seconds: the
  // timeouts are generous, so a failure on another shard means a real one, not a slow answer.
  const store = openClusterStore(cluster.seeds, { commandTimeoutMs: 15_000, connectTimeoutMs: 1000, keyPrefix: prefix, replicaAcks: 1, replicaAckTimeoutMs: 5000 });
  t.teardown(() => store.close());
  t.true(await store.waitUntilReady(20_000));

  // 48 sessions, placed on the master of their slot.
  const sessions = (await spreadSessions(cluster, store, prefix, NS, 48)).map((s) => ({ ...s, acked: 0, failures: [] as string[] }));
  const masters = new Set(sessions.map((s) => s.master));
  t.is(masters.size, 3, 'the sessions are spread over all three masters');
  const victimPort = sessions[0]!.master;
  const victim = cluster.nodes.find((n) => n.port === victimPort)!;

  // A watcher on a session of the victim's shard.
  const watched = sessions.find((s) => s.master === victimPort)!;
  const heard: number[] = [];
  let gaps = 0;
  const unsubscribe = await store.subscribe(NS, watched.id, (change) => heard.push(change.version), () => (gaps += 1));
  t.teardown(() => unsubscribe());

  let running = true;
  let sequence = 0;
  /** One increment, retried with its idempotency key until it is acknowledged (or 60 s passed). */
  async function increment(session: (typeof sessions)[number]): Promise<void> {
    const key = `inc-${(sequence += 1)}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await store.patch(NS, session.id, [{ kind: 'incrementInt', field: 'n', by: 1 }], { idempotencyKey: key });
        session.acked += 1;
        return;
      } catch (error) {
        const code = error instanceof SessionError ? error.code : String(error);
        session.failures.push(code);
        if (session.master !== victimPort) t.log(`another shard failed: ${code}: ${(error as Error).message} (${String((error as { cause?: unknown }).cause)})`);
        if (!TRANSIENT.has(code) || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  const workers = Array.from({ length: 6 }, async (_, w) => {
    for (let i = w; running; i += 6) await increment(sessions[i % sessions.length]!);
  });

  await waitFor(() => sessions.every((s) => s.acked >= 2), 60_000, 'load on every session');
  await cluster.kill(victim);
  const promoted = await cluster.waitForFailover(victim, 60_000);
  t.not(promoted.port, victimPort);
  // The promoted master has no replica until the old one rejoins: WAIT cannot be confirmed before.
  await cluster.restart(victim);
  await cluster.waitForClusterOk(60_000);
  const victimSessions = sessions.filter((s) => s.master === victimPort);
  const ackedAtRestart = victimSessions.map((s) => s.acked);
  await waitFor(() => victimSessions.every((s, i) => s.acked > ackedAtRestart[i]! + 1), 60_000, 'writes acknowledged again on the failed-over shard');
  running = false;
  await Promise.all(workers);

  const others = sessions.filter((s) => s.master !== victimPort);
  t.deepEqual(others.flatMap((s) => s.failures), [], 'no call on another shard failed, not even once before a retry');
  // Whether a caller on the killed shard saw an error depends on timing: the store sends a command
  // the Cluster refused (CLUSTERDOWN, the node's connection coming up) again for up to its command
  // timeout, so only a command in flight at the kill, or a WAIT the promoted master could not
  // confirm, fails; a quick failover can miss both (seen in CI). The failover itself is asserted
  // above: another node took the slots.
  for (const session of sessions) {
    const record = await store.get(NS, session.id);
    t.truthy(record, 'every session survives');
    t.is(unpack(record!.fields.get('n')!) as number, session.acked, 'every acknowledged increment is there, and each counted once');
  }
  t.log(`acknowledged increments: ${sessions.reduce((n, s) => n + s.acked, 0)}; failed attempts on the killed shard: ${victimSessions.reduce((n, s) => n + s.failures.length, 0)}`);

  // The watcher was told about the gap and hears what changes now.
  await waitFor(() => gaps > 0, 30_000, 'the watcher told about the gap');
  const last = (await store.patch(NS, watched.id, [{ kind: 'incrementInt', field: 'n', by: 1 }])).record.version;
  await waitFor(() => heard.includes(last), 30_000, 'the watcher hears a change made after the failover');
  t.true(gaps > 0);
});

test.serial('replicaAcks: WAIT goes to the shard that took the write, and its count is checked', async (t) => {
  // Failovers and process starts on a busy 2-core machine: a bound, not a speed limit.
  t.timeout(180_000);
  await cluster.waitForClusterOk(60_000);
  const prefix = uniquePrefix();
  const store = openClusterStore(cluster.seeds, { commandTimeoutMs: 5000, connectTimeoutMs: 1000, keyPrefix: prefix, replicaAcks: 1, replicaAckTimeoutMs: 300 });
  t.teardown(() => store.close());
  t.true(await store.waitUntilReady(20_000));
  const byMaster = new Map<number, string[]>();
  for (const { id, master } of await spreadSessions(cluster, store, prefix, NS, 30)) byMaster.set(master, [...(byMaster.get(master) ?? []), id]);
  t.is(byMaster.size, 3);
  // Freeze the replica of one master: writes there cannot be confirmed, writes elsewhere can.
  const frozenMaster = [...byMaster.keys()][0]!;
  const replica = await waitFor(async () => {
    for (const node of cluster.nodes) {
      if (node.state !== 'running') continue;
      const probe = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 2000 });
      probe.on('error', () => {});
      try {
        await probe.connect();
        const info = await probe.info('replication');
        if (info.includes('role:slave') && info.includes(`master_port:${frozenMaster}`)) return node;
      } catch {
        // not answering: not the one
      } finally {
        probe.disconnect();
      }
    }
    return undefined;
  }, 30_000, 'the replica of the chosen master');
  cluster.pause(replica, true);
  t.teardown(() => cluster.pause(replica, false));
  for (const [master, ids] of byMaster) {
    for (const id of ids) {
      const write = store.patch(NS, id, [{ kind: 'incrementInt', field: 'n', by: 1 }], { idempotencyKey: `w-${id}` });
      if (master === frozenMaster) {
        const error = await t.throwsAsync(write);
        t.is((error as SessionError).code, 'SESS_ERR_REPLICA_ACK_TIMEOUT', 'a write on the frozen replica\'s shard is applied, not confirmed');
        t.regex(error!.message, /confirmed by 0 of replicaAcks \(1\)/);
      } else {
        await t.notThrowsAsync(write, 'a write on another shard is confirmed by its own replica');
      }
    }
  }
  cluster.pause(replica, false);
  // The unconfirmed writes were applied: their retries with the same key are replays, now confirmed.
  for (const id of byMaster.get(frozenMaster)!) {
    const retry = await waitFor(() => store.patch(NS, id, [{ kind: 'incrementInt', field: 'n', by: 1 }], { idempotencyKey: `w-${id}` }).catch(() => undefined), 30_000, 'the retry confirmed');
    t.true(retry.replayed);
    t.is(unpack(retry.record.fields.get('n')!) as number, 1);
  }
});
