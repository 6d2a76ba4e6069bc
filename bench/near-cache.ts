// Near-cache benchmarks: Get answered from the client's near cache (a hit: no network call) and Get
// with the cache on but every read a miss (maxEntries 1 over 1,000 sessions: the cost of tracking on
// top of the call), both beside plain `sessiond → Redis` Get; and the invalidation lag (a change
// committed → the holding client dropped its copy) while another client writes 1,000 times a second.
import { fileURLToPath } from 'node:url';
import { SessionClient } from '../client/index.ts';
import { freePort, waitForPort, type ChildProcesses } from './child-processes.ts';
import type { SessionTarget } from './session-targets.ts';

const SERVER_MAIN = fileURLToPath(new URL('../server/main.ts', import.meta.url));
const SESSIONS = 1000;
const TTL_MS = 30 * 60_000;
const FIELDS = { user: 'user-42', cart: ['sku-1', 'sku-2', 'sku-3'], visits: 0 };
const DEADLINE_MS = 2000;

async function startSessiond(children: ChildProcesses, name: string, redisUrl: string) {
  const port = await freePort();
  const child = children.start({
    name: `sessiond (${name})`, command: process.execPath, args: [SERVER_MAIN],
    env: { STICKLESS_LISTEN: `127.0.0.1:${port}`, STICKLESS_LOG_LEVEL: 'warn', STICKLESS_KEY_PREFIX: 'bench:', REDIS_URL: redisUrl },
  });
  try {
    await waitForPort(port, child, 90_000); // a bound for a sessiond that never listens, not a speed limit
  } catch (error) {
    await children.stop(child);
    throw error;
  }
  return { address: `127.0.0.1:${port}`, child };
}

async function preload(client: SessionClient): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < SESSIONS; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => client.create(FIELDS, { ttlMs: TTL_MS })));
    ids.push(...batch.map((s) => s.id));
  }
  return ids;
}

/** Get through a near cache: `hit` holds every session (after one read of each), `miss` holds one. */
export async function startNearCacheTarget(children: ChildProcesses, redisUrl: string, redisPid: number | undefined, kind: 'hit' | 'miss'): Promise<SessionTarget> {
  const name = `sessiond → Redis, near cache ${kind}`;
  const { address, child } = await startSessiond(children, name, redisUrl);
  const client = new SessionClient({ address, namespace: 'bench', deadlineMs: DEADLINE_MS, nearCache: kind === 'hit' ? true : { maxEntries: 1 } });
  const close = async (): Promise<void> => {
    client.close();
    await children.stop(child);
  };
  try {
    const ids = await preload(client);
    if (kind === 'hit') await waitForTrustedCopies(client, ids);
    return {
      name, storePids: [redisPid], servicePid: child.process.pid,
      ops: { Get: (w, n) => client.get(ids[(w * 7919 + n) % SESSIONS]!) },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Reads every session until the cache answers them all (copies are trusted once tracked). */
async function waitForTrustedCopies(client: SessionClient, ids: string[]): Promise<void> {
  const deadline = Date.now() + 30_000; // a bound for a stream that never opens, not a speed limit
  while (Date.now() < deadline) {
    for (const id of ids) await client.get(id);
    if (client.nearCacheStats().trusted >= ids.length) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface LagResult {
  writesPerSecond: number;
  events: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
}

/**
 * One client holds SESSIONS sessions in its near cache; another (no cache) patches them at `rate`
 * writes/s for `durationMs`; the holder re-reads each changed session so it keeps holding it. The
 * lag is the holder's own figure (nearCacheStats().lagMs: commit on the store's clock → event
 * handled, over the last 4,096 events).
 */
export async function runInvalidationLag(children: ChildProcesses, redisUrl: string, rate: number, durationMs: number): Promise<LagResult> {
  const { address, child } = await startSessiond(children, 'invalidation lag', redisUrl);
  const holder = new SessionClient({ address, namespace: 'bench', deadlineMs: DEADLINE_MS, nearCache: true });
  const writer = new SessionClient({ address, namespace: 'bench', deadlineMs: DEADLINE_MS });
  try {
    const ids = await preload(writer);
    await waitForTrustedCopies(holder, ids);
    let writes = 0;
    let errors = 0;
    const started = performance.now();
    const inFlight = new Set<Promise<void>>();
    // Paced: every 10 ms, as many writes as the rate owes by now (a late tick catches up).
    while (performance.now() - started < durationMs) {
      const owed = Math.floor(((performance.now() - started) / 1000) * rate) - writes;
      for (let i = 0; i < owed; i++) {
        const id = ids[writes % SESSIONS]!;
        writes += 1;
        const p = writer.patch(id, [{ increment: 'visits' }]).then(() => holder.get(id)).then(() => undefined, () => void (errors += 1));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(inFlight);
    const elapsed = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 500)); // the last events
    const lag = holder.nearCacheStats().lagMs;
    return { writesPerSecond: writes / elapsed, events: lag.count, p50Ms: lag.p50, p99Ms: lag.p99, maxMs: lag.max, errors };
  } finally {
    holder.close();
    writer.close();
    await children.stop(child);
  }
}
