// Issue 7, "one behaviour": the edge-case matrix run on the memory and the Redis store side by side.
// Each case must end the same on both (result bytes and version, or status code and message) and a
// failure must leave the session alone on both. The contract suite holds each store to the expected
// outcomes; this file shows any difference between the two directly.
import test from 'ava';
import { generateSessionId } from '../../server/session-id.ts';
import { MemorySessionStore } from '../../server/session-store-memory.ts';
import { RedisSessionStore } from '../../server/session-store-redis.ts';
import type { SessionStore } from '../../server/session-store.ts';
import { DEFAULT_TEST_LIMITS } from '../contract/session-store.ts';
import { EDGE_CASES, limitSets, runEdgeCase } from '../contract/session-store-edge-cases.ts';
import { deleteByPrefix, startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

test('issue 7: the memory and the Redis store end every edge case the same way, message included', async (t) => {
  const pairs = new Map<string, { memory: SessionStore; redis: SessionStore }>();
  for (const [key, overrides] of limitSets(EDGE_CASES)) {
    const limits = { ...DEFAULT_TEST_LIMITS, ...overrides };
    const memory = new MemorySessionStore(limits);
    const keyPrefix = uniquePrefix();
    const store = new RedisSessionStore({
      connection: { url: redis.url, sentinels: [], sentinelName: 'mymaster', commandTimeoutMs: 5000, connectTimeoutMs: 5000 },
      keyPrefix,
      limits,
    });
    t.teardown(async () => {
      await memory.close();
      await store.close();
      await deleteByPrefix(redis.url, keyPrefix);
    });
    if (!(await store.waitUntilReady(20_000))) throw new Error('Redis store did not become ready');
    pairs.set(key, { memory, redis: store });
  }
  const differences: string[] = [];
  for (const edge of EDGE_CASES) {
    const pair = pairs.get(JSON.stringify(edge.limits ?? {}))!;
    const namespace = `ns-${generateSessionId()}`;
    const onMemory = await runEdgeCase(pair.memory, namespace, edge);
    const onRedis = await runEdgeCase(pair.redis, namespace, edge);
    if (JSON.stringify(onMemory) !== JSON.stringify(onRedis)) {
      differences.push(`${edge.group} / ${edge.name}:\n  memory ${JSON.stringify(onMemory)}\n  redis  ${JSON.stringify(onRedis)}`);
    }
  }
  t.deepEqual(differences, [], differences.join('\n'));
  t.log(`${EDGE_CASES.length} cases, ${differences.length} differences`);
});
