// The side-by-side scenario: for each configuration, N shoppers browse and fill carts through the
// proxy while one replica of the pool is killed (-9) and later restarted. Every figure comes from
// this run: the shoppers' records, the replicas' /api/stats and the processes' CPU time.
import type { Cart } from '../cart-app/cart-store.ts';
import type { LocalStack } from '../stack.ts';
import { sample, totals } from './samples.ts';
import { addCarts, Shopper, type RequestRecord } from './shopper.ts';

export interface ScenarioConfiguration {
  name: string;
  route: 'sticky' | 'shop' | 'token';
  affinity: 'none' | 'soft' | 'hard';
  /** Central replicas only: run the client's near cache (restarts the pool when it changes). */
  nearCache?: boolean;
}

/**
 * The six configurations the report compares. Central replicas run without the near cache
 * (NEAR_CACHE=off: every read is a call to sessiond) except in `soft + central + near cache`.
 */
export const CONFIGURATIONS: readonly ScenarioConfiguration[] = [
  { name: 'hard + local', route: 'sticky', affinity: 'hard' },
  { name: 'soft + local', route: 'sticky', affinity: 'soft' },
  { name: 'none + central', route: 'shop', affinity: 'none', nearCache: false },
  { name: 'soft + central', route: 'shop', affinity: 'soft', nearCache: false },
  { name: 'soft + central + near cache', route: 'shop', affinity: 'soft', nearCache: true },
  { name: 'none + token', route: 'token', affinity: 'none' },
];

export interface ScenarioOptions {
  shoppers: number;
  /** Length of one configuration's run, ms. The kill happens at 1/3, the restart at 2/3. */
  durationMs: number;
  /** Pause between two requests of one shopper, ms. */
  thinkMs: number;
  /** Seed of the shoppers' habits and product choices, so runs are comparable. */
  seed: number;
}

export const DEFAULT_SCENARIO_OPTIONS: Readonly<ScenarioOptions> = Object.freeze({ shoppers: 30, durationMs: 9000, thinkMs: 40, seed: 42 });

export interface ConfigurationResult {
  configuration: ScenarioConfiguration;
  shoppers: number;
  /** Shoppers whose cart plus orders hold exactly what the shop acknowledged. */
  cartsIntact: number;
  /**
   * Shoppers whose final cart the shop did not show in FINAL_READ_ATTEMPTS tries: their items are
   * counted neither lost nor extra (nobody knows), and their carts not intact.
   */
  cartsUnread: number;
  itemsAcknowledged: number;
  /** Acknowledged items in neither the final cart nor an order. */
  itemsLost: number;
  /** Items in the final cart or an order beyond what the shop acknowledged. */
  extraItems: number;
  concurrentTabLosses: number;
  requests: number;
  failedRequests: number;
  /** Shoppers served by more than one replica during the run. */
  clientsMoved: number;
  /** Requests per replica of the pool. */
  perReplica: Record<string, number>;
  loadMax: number;
  loadMean: number;
  p50Ms: number;
  p99Ms: number;
  /** Near-cache hits / (hits + misses) over the pool's replicas; null where no near cache ran. */
  nearCacheHitRatio: number | null;
  readYourWritesViolations: number;
  monotonicViolations: number;
  /** Mean bytes of the Cookie header per request. */
  cookieBytesPerRequest: number;
  /** CPU of the pool's replicas (app + stickless client) and, in central configurations, sessiond per answered request, µs. */
  cpuUsPerRequest: number;
  /** The part of cpuUsPerRequest that sessiond used; NaN where sessiond is not counted (local, token, or no sessiond process). */
  sessiondCpuUsPerRequest: number;
  killedReplica: string;
  killAtMs: number;
  restartAtMs: number;
  records: RequestRecord[];
}

export async function runScenario(stack: LocalStack, options: ScenarioOptions, log: (line: string) => void = () => {}): Promise<ConfigurationResult[]> {
  const results: ConfigurationResult[] = [];
  const sessiondPids = stack.sessiondPids();
  for (const configuration of CONFIGURATIONS) {
    log(`running ${configuration.name}: ${options.shoppers} shoppers for ${options.durationMs} ms`);
    results.push(await runConfiguration(stack, configuration, options, sessiondPids, log));
  }
  return results;
}

/** Tries at the final cart view, a read the shopper may repeat freely, 0.5 s apart and more. */
const FINAL_READ_ATTEMPTS = 5;

async function runConfiguration(
  stack: LocalStack, configuration: ScenarioConfiguration, options: ScenarioOptions, allSessiondPids: readonly number[], log: (line: string) => void,
): Promise<ConfigurationResult> {
  const pool = stack.replicas.filter((r) => r.pool === configuration.route);
  // sessiond is part of a central configuration only: a local or token setup runs without it, so
  // its idle CPU (timers, the Redis heartbeat) is not charged to their requests.
  const sessiondPids = configuration.route === 'shop' ? allSessiondPids : [];
  // Every configuration starts with the whole pool healthy. Its shoppers are new clients (no cookie),
  // so carts left in a local replica's memory by an earlier run are never read: no restart needed.
  if (configuration.nearCache !== undefined) await setNearCache(pool, configuration.nearCache);
  await Promise.all(pool.map((replica) => replica.process.start()));
  await waitForPoolUp(stack, pool.map((r) => r.id));
  await stack.admin('PUT', `/routes/${configuration.route}/affinity`, { affinity: configuration.affinity });

  const random = mulberry32(options.seed);
  const startedAt = Date.now();
  const base = stack.urls[configuration.route];
  // Habits: 2-5 views per add; a third use two tabs; a third check out every 4-6 adds.
  const shoppers = Array.from({ length: options.shoppers }, (_, i) => new Shopper(base, startedAt, {
    viewsPerAdd: 2 + Math.floor(random() * 4),
    twoTabs: i % 3 === 1,
    checkoutEvery: i % 3 === 2 ? 4 + Math.floor(random() * 3) : 0,
  }));
  const victim = pool[1 % pool.length]!;
  const killAtMs = Math.round(options.durationMs / 3);
  const restartAtMs = Math.round((2 * options.durationMs) / 3);
  const start = await sample(pool, sessiondPids);
  let atKill = start;
  const chaos = (async () => {
    await sleep(killAtMs);
    atKill = await sample(pool, sessiondPids);
    await victim.process.kill();
    await sleep(restartAtMs - killAtMs);
    await victim.process.start();
  })();
  const pause = () => sleep(options.thinkMs);
  await Promise.all(shoppers.map(async (shopper, i) => {
    await sleep((i * options.thinkMs) / options.shoppers);
    while (Date.now() - startedAt < options.durationMs) await shopper.shop(random, pause);
  }));
  await chaos;
  await waitForPoolUp(stack, pool.map((r) => r.id));

  let cartsIntact = 0;
  let cartsUnread = 0;
  let itemsLost = 0;
  let extraItems = 0;
  let itemsAcknowledged = 0;
  for (const [i, shopper] of shoppers.entries()) {
    const acknowledged = Object.values(shopper.acknowledged).reduce((a, b) => a + b, 0);
    itemsAcknowledged += acknowledged;
    const cart = await readFinalCart(shopper);
    if (!cart) {
      cartsUnread += 1;
      log(`${configuration.name}: shopper ${i + 1}: no final cart in ${FINAL_READ_ATTEMPTS} tries (last failure: ${shopper.lastFailure}); its ${acknowledged} acknowledged items count neither as lost nor as kept`);
      continue;
    }
    const held = addCarts(shopper.ordered, cart);
    let lost = 0;
    let extra = 0;
    for (const sku of new Set([...Object.keys(held), ...Object.keys(shopper.acknowledged)])) {
      const difference = (held[sku] ?? 0) - (shopper.acknowledged[sku] ?? 0);
      if (difference < 0) lost -= difference;
      else extra += difference;
    }
    itemsLost += lost;
    extraItems += extra;
    if (lost === 0 && extra === 0) cartsIntact += 1;
    else log(`${configuration.name}: shopper ${i + 1}: ${lost} acknowledged item(s) missing, ${extra} extra; the shop answered with a new cart ${shopper.cartsReplaced} time(s); last failure: ${shopper.lastFailure}`);
  }
  const used = totals(start, atKill, await sample(pool, sessiondPids), victim.id);
  const records = shoppers.flatMap((s) => s.records);
  const answered = records.filter((r) => r.status > 0 && r.status < 500);
  const perReplica: Record<string, number> = Object.fromEntries(pool.map((r) => [r.id, 0]));
  for (const record of answered) if (record.replica in perReplica) perReplica[record.replica]! += 1;
  const loads = Object.values(perReplica);
  const latencies = records.map((r) => r.latencyMs).sort((a, b) => a - b);
  const sumOf = (f: (s: Shopper) => number) => shoppers.reduce((sum, s) => sum + f(s), 0);
  const reads = used.hits + used.misses;
  return {
    configuration,
    shoppers: shoppers.length,
    cartsIntact,
    cartsUnread,
    itemsAcknowledged,
    itemsLost,
    extraItems,
    concurrentTabLosses: sumOf((s) => s.concurrentTabLosses),
    requests: records.length,
    failedRequests: records.length - answered.length,
    clientsMoved: shoppers.filter((s) => s.replicas.size > 1).length,
    perReplica,
    loadMax: Math.max(...loads),
    loadMean: loads.reduce((a, b) => a + b, 0) / loads.length,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    nearCacheHitRatio: reads === 0 ? null : used.hits / reads,
    readYourWritesViolations: sumOf((s) => s.readYourWritesViolations),
    monotonicViolations: sumOf((s) => s.monotonicViolations),
    cookieBytesPerRequest: records.reduce((sum, r) => sum + r.cookieBytes, 0) / Math.max(1, records.length),
    cpuUsPerRequest: (used.cpuMs * 1000) / Math.max(1, answered.length),
    sessiondCpuUsPerRequest: sessiondPids.length === 0 ? Number.NaN : (used.sessiondCpuMs * 1000) / Math.max(1, answered.length),
    killedReplica: victim.id,
    killAtMs,
    restartAtMs,
    records,
  };
}

/** The shopper's cart as the shop shows it at the end, asked again while the answer fails. */
async function readFinalCart(shopper: Shopper): Promise<Cart | undefined> {
  for (let attempt = 1; ; attempt++) {
    const cart = await shopper.readCart();
    if (cart || attempt === FINAL_READ_ATTEMPTS) return cart;
    await sleep(500 * attempt);
  }
}

async function waitForPoolUp(stack: LocalStack, ids: string[]): Promise<void> {
  const deadline = Date.now() + 60_000; // a bound for replicas that never come up, not a speed limit
  for (;;) {
    const { backends } = (await stack.admin('GET', '/backends')) as { backends: Array<{ id: string; state: string }> };
    if (ids.every((id) => backends.some((b) => b.id === id && b.state === 'up'))) return;
    if (Date.now() > deadline) throw new Error(`replicas ${ids.join(', ')} not all healthy within 60 s`);
    await sleep(100);
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Small seeded PRNG (mulberry32): the same seed gives the same habits and product choices. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Restarts the central replicas whose near-cache setting differs from `on`. */
async function setNearCache(pool: readonly LocalStack['replicas'][number][], on: boolean): Promise<void> {
  const value = on ? 'on' : 'off';
  await Promise.all(pool.filter((replica) => replica.process.env['NEAR_CACHE'] !== value).map(async (replica) => {
    await replica.process.kill();
    replica.process.env = { ...replica.process.env, NEAR_CACHE: value };
    await replica.process.start(180_000);
  }));
}
