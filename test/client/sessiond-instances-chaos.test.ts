// Chaos (issue 9, point 7, second half): two sessiond processes on one Redis behind one
// SessionClient with its defaults; `kill -9` one of them while many callers patch many sessions.
//
// The retry budget the client is held to is its default one: 4 attempts in all (3 retries, jittered
// backoff from 50 ms, capped at 1 s) within the call's deadline (30 s here, so that a slow machine
// spends attempts, not the clock). A caller error "beyond the budget" is any failure other than a
// retryable code (client/retry.ts `shouldRetry`) after all 4 attempts were spent. The claim is
// stronger: one dead instance of two costs every call at most a retry or two, so no call fails.
// And every acknowledged increment is in Redis: read through the surviving instance, each session's
// counter equals the increments acknowledged for it (automatic idempotency keys: a retried patch that
// had been applied is replayed, not applied twice).
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import test from 'ava';
import { CLIENT_CHANNELS, DEFAULT_CLIENT_OPTIONS, SessionClient, type RetryMessage } from '../../client/index.ts';
import { shouldRetry } from '../../client/retry.ts';
import { checkHealth, healthClient } from '../helpers/health.ts';
import { deleteByPrefix, freePort, startRedis, uniquePrefix } from '../helpers/redis.ts';
import { spawnSessiond, waitFor } from '../helpers/servers.ts';

const CALLERS = 16;
const SESSIONS = 8;
/** Acknowledged patches before the kill, and after it. */
const BEFORE_KILL = 200;
const AFTER_KILL = 200;

/** Patch calls sessiond answered OK, from its /metrics. */
async function patchesServed(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith('stickless_sessiond_rpc_total{') && l.includes('method="Patch"') && l.includes('code="OK"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

// Unary calls are balanced call by call over both instances (the default for an address list); on a
// Pipeline stream (pipeline: true) all of a client's calls go to one instance, which is the one killed.
for (const pipeline of [false, true]) test(`kill -9 of one of two sessiond instances under load (${pipeline ? 'calls on a Pipeline stream' : 'unary calls'}): no caller error beyond the retry budget, every acknowledged increment in Redis`, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const keyPrefix = uniquePrefix();
  t.teardown(() => deleteByPrefix(redis.url, keyPrefix));
  const instances = await Promise.all([0, 1].map(async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const process = spawnSessiond(t, [], {
      STICKLESS_LISTEN: `127.0.0.1:${port}`, STICKLESS_METRICS_LISTEN: `127.0.0.1:${metricsPort}`, REDIS_URL: redis.url,
      STICKLESS_KEY_PREFIX: keyPrefix, STICKLESS_COMMAND_TIMEOUT_MS: '15000', STICKLESS_CONNECT_TIMEOUT_MS: '15000',
    });
    return { address: `127.0.0.1:${port}`, metricsPort, process };
  }));
  for (const { address, process } of instances) {
    const health = healthClient(t, address);
    await waitFor(async () => process.child.exitCode !== null || (await checkHealth(health, '').catch(() => 'UNKNOWN')) === 'SERVING', 45_000, `sessiond at ${address} to serve`);
    t.is(process.child.exitCode, null, process.stderr());
  }

  const client = new SessionClient({ address: instances.map((i) => i.address), namespace: 'chaos', deadlineMs: 30_000, pipeline });
  t.teardown(() => client.close());
  const { maxAttempts } = client.options.retry;
  t.is(maxAttempts, DEFAULT_CLIENT_OPTIONS.retry.maxAttempts);
  const ids = await Promise.all(Array.from({ length: SESSIONS }, async () => (await client.create({ n: 0 })).id));

  // Attempts per logical call: the retry channel is published inside the call's async context.
  const call = new AsyncLocalStorage<{ retries: number }>();
  const onRetry = (message: unknown): void => {
    const store = call.getStore();
    if (store && (message as RetryMessage).method === 'patch') store.retries += 1;
  };
  diagnosticsChannel.subscribe(CLIENT_CHANNELS.retry, onRetry);
  t.teardown(() => diagnosticsChannel.unsubscribe(CLIENT_CHANNELS.retry, onRetry));

  const acknowledged = new Array<number>(SESSIONS).fill(0);
  let acked = 0;
  let retried = 0;
  const failures: { code: string; message: string; attempts: number; withinBudget: boolean }[] = [];
  let stop = false;
  const callers = Array.from({ length: CALLERS }, async (_, caller) => {
    for (let n = 0; !stop; n++) {
      const session = (caller + n) % SESSIONS;
      const attempt = { retries: 0 };
      try {
        await call.run(attempt, () => client.patch(ids[session]!, [{ increment: 'n', by: 1 }]));
        acknowledged[session]! += 1;
        acked += 1;
      } catch (error) {
        const attempts = attempt.retries + 1;
        failures.push({ code: String((error as { code?: string }).code), message: (error as Error).message, attempts, withinBudget: shouldRetry(error, true) && attempts === maxAttempts });
      }
      if (attempt.retries > 0) retried += 1;
    }
  });
  const stopCallers = async (): Promise<void> => {
    stop = true;
    await Promise.all(callers);
  };
  t.teardown(stopCallers);

  await waitFor(() => acked >= BEFORE_KILL || failures.length > 0, 45_000, `${BEFORE_KILL} acknowledged patches before the kill`);
  const served = await Promise.all(instances.map((i) => patchesServed(i.metricsPort)));
  // Unary: both instances carry calls, or killing one proves nothing (pick_first would send them all
  // to one). Pipeline: the instance whose stream carries the calls is the victim.
  if (!pipeline) t.true(served.every((count) => count > 0), `patches served per instance before the kill: ${served.join(', ')}`);
  const busiest = served[0]! >= served[1]! ? 0 : 1;
  t.true(served[busiest]! > 0, `patches served per instance before the kill: ${served.join(', ')}`);
  const [victim, survivor] = (pipeline ? [instances[busiest], instances[1 - busiest]] : instances) as [typeof instances[0], typeof instances[0]];
  victim.process.child.kill('SIGKILL');
  await victim.process.exited;
  const atKill = acked;
  await waitFor(() => acked >= atKill + AFTER_KILL || failures.length > 10, 45_000, `${AFTER_KILL} acknowledged patches after the kill`);
  await stopCallers();
  t.log(`${acked} patches acknowledged (${atKill} before the kill), ${retried} needed retries, ${failures.length} failed; served before the kill: ${served.join(', ')}`);

  t.deepEqual(failures.filter((f) => !f.withinBudget), [], 'failures beyond the retry budget');
  t.deepEqual(failures, [], 'no call failed: one dead instance of two costs less than the retry budget');
  // Calls in flight on the killed instance were retried on the other: the kill hit the load.
  t.true(retried > 0, 'some calls were retried after the kill');

  const reader = new SessionClient({ address: survivor.address, namespace: 'chaos', deadlineMs: 30_000 });
  t.teardown(() => reader.close());
  const counters = await Promise.all(ids.map(async (id) => (await reader.get(id))?.fields.n));
  t.deepEqual(counters, acknowledged, 'per session: counter in Redis == increments acknowledged');
});
