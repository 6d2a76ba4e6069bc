// The guarantee checker: one user alternates between two app replicas (client processes, each with
// its near cache) in a random pattern for 2,000 operations, carrying a version token, and we check
// every read: read-your-writes (never below the user's last write), monotonic reads (never below a
// version already seen) and content (a version always holds what was written at it). Along the way
// the invalidation feed is cut (CLIENT KILL TYPE pubsub), sessiond restarts, and Redis fails over
// with writes lost on purpose: a replica that is not caught up is promoted and sessiond restarted on
// it. After that the user's token is above what the store holds: reads must fail with
// SESS_ERR_VERSION_BEHIND, never return the older session. The user then accepts the loss (resets
// the token to the store's version, as an app clearing the token cookie would) and goes on.
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import type { NearCacheStats } from '../../client/index.ts';
import { freePort, startRedisProcess, uniquePrefix, type RedisHandle } from '../helpers/redis.ts';
import { startSessiond, waitFor, type StartedSessiond } from '../helpers/servers.ts';
import { namespace } from './client-harness.ts';
import { spawnClientProcess, WorkerError, type ClientProcess } from './near-cache-processes.ts';

const OPERATIONS = 2000;
const CUT_FEED_AT = 400;
const RESTART_AT = 800;
const PROMOTE_AT = 1200;
const FAIL_OVER_AT = 1300;

function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function admin(t: ExecutionContext, redis: RedisHandle): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  t.teardown(() => client.disconnect());
  return client;
}

test('a user alternating between two replicas never reads below their own writes or what they saw, through feed cuts, restarts and a lossy failover', async (t) => {
  // About 15 s of operations on a quiet machine; three times that when two suites share 2 cores.
  t.timeout(180_000);
  // One address for the whole run: each sessiond listens on the same port with the same key prefix.
  // The client processes start meanwhile; they connect when first used.
  const listen = `127.0.0.1:${await freePort()}`;
  const keyPrefix = uniquePrefix();
  const ns = namespace();
  const spawned = Promise.all([spawnClientProcess(t, listen, ns), spawnClientProcess(t, listen, ns)]);
  const primary = await startRedisProcess(['--repl-diskless-sync-delay', '0']);
  t.teardown(() => primary.stop());
  const replica = await startRedisProcess(['--replicaof', '127.0.0.1', String(primary.port)]);
  t.teardown(() => replica.stop());
  const onPrimary = admin(t, primary);
  const onReplica = admin(t, replica);
  await waitFor(async () => /slave0:.*state=online/.test(await onPrimary.info('replication')), 20_000, 'the replica to sync');

  const start = (redis: RedisHandle): Promise<StartedSessiond> => startSessiond(t, { redis, config: { listen, keyPrefix } });
  let sessiond = await start(primary);
  const replicas: ClientProcess[] = await spawned;

  const { id, version: created } = await replicas[0]!.call<{ id: string; version: number }>({ op: 'create', fields: { w: -1 } });
  const seed = Date.now() % 100_000;
  const random = seeded(seed);
  t.log(`seed ${seed}`);

  // What the user knows: the token, and what each version holds (writes this user made).
  let token = created;
  let lastWrite = created;
  let maxSeen = created;
  const history = new Map<number, number>([[created, -1]]);
  const unknownOutcome = new Set<number>();
  const violations: string[] = [];
  const counts = { reads: 0, writes: 0, hits: 0, behind: 0, behindAfterFailover: 0, errors: 0 };
  let failedOver = false;

  for (let op = 0; op < OPERATIONS; op++) {
    if (op === CUT_FEED_AT) t.true(Number(await onPrimary.call('CLIENT', 'KILL', 'TYPE', 'pubsub')) >= 1, 'the feed was cut');
    if (op === RESTART_AT) {
      await sessiond.stop();
      sessiond = await start(primary);
    }
    if (op === PROMOTE_AT) await onReplica.call('REPLICAOF', 'NO', 'ONE'); // the writes from here on are lost
    if (op === FAIL_OVER_AT) {
      await sessiond.stop();
      sessiond = await start(replica);
      failedOver = true;
    }
    const via = replicas[random() < 0.5 ? 0 : 1]!;
    if (random() < 0.4) {
      try {
        const { version } = await via.call<{ version: number }>({ op: 'patch', id, set: { w: op } });
        counts.writes++;
        history.set(version, op);
        lastWrite = Math.max(lastWrite, version);
        token = Math.max(token, version);
      } catch {
        counts.errors++;
        unknownOutcome.add(op); // it may or may not have been applied
      }
      continue;
    }
    try {
      const read = await via.get(id, token);
      counts.reads++;
      if (read.hit) counts.hits++;
      const w = read.version === 0 ? undefined : (read.fields.w as number);
      if (read.version === 0) violations.push(`op ${op}: the session vanished`);
      if (read.version < lastWrite) violations.push(`op ${op}: read-your-writes: read version ${read.version} below own write ${lastWrite}`);
      if (read.version < maxSeen) violations.push(`op ${op}: monotonic reads: read version ${read.version} below seen ${maxSeen}`);
      const expected = history.get(read.version);
      if (expected === undefined && w !== undefined && unknownOutcome.has(w)) history.set(read.version, w);
      else if (expected !== w) violations.push(`op ${op}: version ${read.version} holds w=${String(w)}, written as w=${String(expected)}`);
      maxSeen = Math.max(maxSeen, read.version);
      token = Math.max(token, read.version);
    } catch (error) {
      if (!(error instanceof WorkerError) || error.code !== 'SESS_ERR_VERSION_BEHIND') {
        counts.errors++;
        continue;
      }
      counts.behind++;
      if (failedOver) counts.behindAfterFailover++;
      // The user accepts the loss: the store's history up to its version is the one they knew.
      const current = error.currentVersion ?? 0;
      for (const version of history.keys()) if (version > current) history.delete(version);
      token = lastWrite = maxSeen = current;
    }
  }

  const stats = await Promise.all(replicas.map((r) => r.call<NearCacheStats>({ op: 'stats' })));
  t.log(`${counts.reads} reads (${counts.hits} near-cache hits), ${counts.writes} writes, ${counts.errors} failed calls, ${counts.behind} SESS_ERR_VERSION_BEHIND`);
  t.log(`resyncs per replica: ${stats.map((s) => s.resyncs).join(', ')}; invalidations: ${stats.map((s) => s.invalidations).join(', ')}`);
  t.deepEqual(violations.slice(0, 20), [], `${violations.length} violations`);
  t.true(counts.behindAfterFailover >= 1, 'after the lossy failover the user was told, not served the older session');
  t.true(counts.hits > 0, 'reads were answered from the near caches');
  for (const s of stats) t.true(s.resyncs >= 2, `each cache lost trust at the cut and the restarts (${s.resyncs})`);
});
