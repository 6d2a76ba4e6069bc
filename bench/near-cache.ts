// Near-cache benchmarks: Get answered from the client's near cache (a hit: no network call) and Get
// with the cache on but every read a miss (maxEntries 1 over 1,000 sessions: the cost of tracking on
// top of the call), both beside plain `sessiond → Redis` Get. The helpers below also serve the
// invalidation-lag benchmark (invalidation-lag.ts).
import { fileURLToPath } from 'node:url';
import { SessionClient } from '../client/index.ts';
import { freePort, waitForPort, type ChildProcesses } from './child-processes.ts';
import type { SessionTarget } from './session-targets.ts';

const SERVER_MAIN = fileURLToPath(new URL('../server/main.ts', import.meta.url));
const SESSIONS = 1000;
const TTL_MS = 30 * 60_000;
const FIELDS = { user: 'user-42', cart: ['sku-1', 'sku-2', 'sku-3'], visits: 0 };
const DEADLINE_MS = 2000;

/** Starts one sessiond on `redisUrl`; `nodeArgs` go before its entry point (e.g. GC tracing). */
export async function startSessiond(children: ChildProcesses, name: string, redisUrl: string, nodeArgs: readonly string[] = []) {
  const port = await freePort();
  const child = children.start({
    name: `sessiond (${name})`, command: process.execPath, args: [...nodeArgs, SERVER_MAIN],
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

/** Creates `count` small sessions through `client`; returns their ids. */
export async function preload(client: SessionClient, count = SESSIONS): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => client.create(FIELDS, { ttlMs: TTL_MS })));
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
export async function waitForTrustedCopies(client: SessionClient, ids: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs; // a bound for a stream that never opens, not a speed limit
  while (Date.now() < deadline) {
    for (const id of ids) await client.get(id);
    if (client.nearCacheStats().trusted >= ids.length) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
