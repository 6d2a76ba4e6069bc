// The systems the session benchmark drives, behind one shape: Get, Patch (increment one field) and
// Create on either sessiond (through SessionClient) or Redis directly (through ioredis, the floor).
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pack, unpack } from 'msgpackr';
import { SessionClient } from '../client/index.ts';
import { freePort, waitForPort, type ChildProcesses } from './child-processes.ts';

export type OpName = 'Get' | 'Patch' | 'Create';
export type Op = (worker: number, n: number) => Promise<unknown>;

export interface SessionTarget {
  readonly name: string;
  readonly ops: Partial<Record<OpName, Op>>;
  /** Processes whose CPU counts as "store" (redis-server) and "service" (sessiond). */
  readonly storePids: readonly (number | undefined)[];
  readonly servicePid: number | undefined;
  /** Every sessiond process when the target has several (`servicePid` is the first). */
  readonly servicePids?: readonly (number | undefined)[] | undefined;
  close(): Promise<void>;
}

/** Sessions that Get and Patch pick from, created before the runs. */
const PRELOADED_SESSIONS = 1000;
const TTL_MS = 30 * 60_000;
/** A small session as a shop would keep it: a user, a cart of three items, a counter. */
const FIELDS = { user: 'user-42', cart: ['sku-1', 'sku-2', 'sku-3'], visits: 0 };
const COMMAND_TIMEOUT_MS = 2000;
const SERVER_MAIN = fileURLToPath(new URL('../server/main.ts', import.meta.url));

const pickIndex = (worker: number, n: number): number => (worker * 7919 + n) % PRELOADED_SESSIONS;

/**
 * The same logical operations straight to Redis: HGETALL (values decoded from MessagePack, as the
 * client does), HINCRBY, HSET + PEXPIRE in one pipeline. With `waitReplicas`, every write is
 * followed by `WAIT n 500`, as sessiond does with replicaAcks.
 */
export async function startDirectRedisTarget(url: string, storePids: readonly (number | undefined)[], waitReplicas = 0): Promise<SessionTarget> {
  const offered: readonly OpName[] = waitReplicas > 0 ? ['Patch', 'Create'] : ['Get', 'Patch', 'Create'];
  const redis = new Redis(url, { commandTimeout: COMMAND_TIMEOUT_MS, connectTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 0, lazyConnect: true });
  redis.on('error', () => {});
  await redis.connect();
  const prefix = `bench:direct:${randomBytes(4).toString('hex')}:`;
  const encoded = ['user', pack(FIELDS.user), 'cart', pack(FIELDS.cart), 'visits', String(FIELDS.visits)];
  const preload = redis.pipeline();
  for (let i = 0; i < PRELOADED_SESSIONS; i++) preload.hset(`${prefix}${i}`, ...encoded).pexpire(`${prefix}${i}`, TTL_MS);
  await preload.exec();
  const waitForReplicas = async (): Promise<void> => {
    if (waitReplicas === 0) return;
    const acked = await redis.wait(waitReplicas, 500);
    if (acked < waitReplicas) throw new Error(`WAIT: ${acked} of ${waitReplicas} replicas`);
  };
  const all: Record<OpName, Op> = {
    Get: async (w, n) => {
      const hash = await redis.hgetallBuffer(`${prefix}${pickIndex(w, n)}`);
      return { user: unpack(hash.user!), cart: unpack(hash.cart!), visits: Number(hash.visits) };
    },
    Patch: async (w, n) => {
      await redis.hincrby(`${prefix}${pickIndex(w, n)}`, 'visits', 1);
      await waitForReplicas();
    },
    Create: async () => {
      const key = `${prefix}${randomBytes(32).toString('base64url')}`;
      const replies = await redis.pipeline().hset(key, ...encoded).pexpire(key, TTL_MS).exec();
      const failed = replies?.find(([error]) => error !== null);
      if (!replies || failed) throw failed?.[0] ?? new Error('pipeline discarded');
      await waitForReplicas();
    },
  };
  return {
    name: waitReplicas > 0 ? `Redis direct + WAIT ${waitReplicas}` : 'Redis direct (ioredis)',
    storePids,
    servicePid: undefined,
    ops: Object.fromEntries(offered.map((op) => [op, all[op]])),
    close: async () => {
      redis.disconnect();
    },
  };
}

export interface SessiondTargetOptions {
  name: string;
  /** Environment of the sessiond child: REDIS_URL, STICKLESS_STORE, STICKLESS_REPLICA_ACKS... */
  env: Record<string, string>;
  storePids: readonly (number | undefined)[];
  /** Which operations to offer (WAIT changes nothing for Get). */
  ops?: readonly OpName[] | undefined;
  /** sessiond processes, all on the same store; the one client balances over them (round robin). Default 1. */
  instances?: number | undefined;
  /** The client's `pipeline` option; default the client's (on for one instance, off for several). */
  pipeline?: boolean | undefined;
}

/** sessiond as its own process(es) (`node server/main.ts`), driven through one SessionClient. */
export async function startSessiondTarget(children: ChildProcesses, options: SessiondTargetOptions): Promise<SessionTarget> {
  const ports: number[] = [];
  for (let i = 0; i < (options.instances ?? 1); i++) ports.push(await freePort());
  const started = ports.map((port, i) => children.start({
    name: `sessiond${ports.length > 1 ? ` #${i + 1}` : ''} (${options.name})`,
    command: process.execPath,
    args: [SERVER_MAIN],
    env: { STICKLESS_LISTEN: `127.0.0.1:${port}`, STICKLESS_LOG_LEVEL: 'warn', STICKLESS_KEY_PREFIX: 'bench:', ...options.env },
  }));
  let client: SessionClient | undefined;
  const close = async (): Promise<void> => {
    await client?.close();
    await Promise.all(started.map((child) => children.stop(child)));
  };
  try {
    // A bound for a sessiond that never listens: 15 s was too short at load average 50.
    await Promise.all(ports.map((port, i) => waitForPort(port, started[i]!, 90_000)));
    const addresses = ports.map((port) => `127.0.0.1:${port}`);
    client = new SessionClient({ address: addresses.length === 1 ? addresses[0]! : addresses, namespace: 'bench', deadlineMs: COMMAND_TIMEOUT_MS, pipeline: options.pipeline });
    const sessions = client;
    const ids: string[] = [];
    for (let i = 0; i < PRELOADED_SESSIONS; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => sessions.create(FIELDS, { ttlMs: TTL_MS })));
      ids.push(...batch.map((s) => s.id));
    }
    const all: Record<OpName, Op> = {
      Get: (w, n) => sessions.get(ids[pickIndex(w, n)]!),
      Patch: (w, n) => sessions.patch(ids[pickIndex(w, n)]!, [{ increment: 'visits' }]),
      Create: () => sessions.create(FIELDS, { ttlMs: TTL_MS }),
    };
    const offered = options.ops ?? (['Get', 'Patch', 'Create'] as const);
    return {
      name: options.name,
      storePids: options.storePids,
      servicePid: started[0]!.process.pid,
      servicePids: started.map((child) => child.process.pid),
      ops: Object.fromEntries(offered.map((op) => [op, all[op]])),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
