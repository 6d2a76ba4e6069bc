// The side-by-side scenario: for each configuration, N shoppers fill carts through the proxy while
// one replica of the pool is killed (-9) and later restarted. Every figure comes from this run.
import type { LocalStack } from '../stack.ts';
import { countItems, sameCart, Shopper, type RequestRecord } from './shopper.ts';

export interface ScenarioConfiguration {
  name: string;
  route: 'sticky' | 'shop';
  affinity: 'none' | 'soft' | 'hard';
}

/** The four configurations the report compares. */
export const CONFIGURATIONS: readonly ScenarioConfiguration[] = [
  { name: 'hard + local', route: 'sticky', affinity: 'hard' },
  { name: 'soft + local', route: 'sticky', affinity: 'soft' },
  { name: 'none + central', route: 'shop', affinity: 'none' },
  { name: 'soft + central', route: 'shop', affinity: 'soft' },
];

export interface ScenarioOptions {
  shoppers: number;
  /** Length of one configuration's run, ms. The kill happens at 1/3, the restart at 2/3. */
  durationMs: number;
  /** Pause between two requests of one shopper, ms. */
  thinkMs: number;
  /** Seed of the product choice, so runs are comparable. */
  seed: number;
}

export const DEFAULT_SCENARIO_OPTIONS: Readonly<ScenarioOptions> = Object.freeze({ shoppers: 30, durationMs: 9000, thinkMs: 40, seed: 42 });

export interface ConfigurationResult {
  configuration: ScenarioConfiguration;
  shoppers: number;
  cartsIntact: number;
  itemsAcknowledged: number;
  itemsLost: number;
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
  killedReplica: string;
  killAtMs: number;
  restartAtMs: number;
  records: RequestRecord[];
}

export async function runScenario(stack: LocalStack, options: ScenarioOptions, log: (line: string) => void = () => {}): Promise<ConfigurationResult[]> {
  const results: ConfigurationResult[] = [];
  for (const configuration of CONFIGURATIONS) {
    log(`running ${configuration.name}: ${options.shoppers} shoppers for ${options.durationMs} ms`);
    results.push(await runConfiguration(stack, configuration, options));
  }
  return results;
}

async function runConfiguration(stack: LocalStack, configuration: ScenarioConfiguration, options: ScenarioOptions): Promise<ConfigurationResult> {
  const pool = stack.replicas.filter((r) => r.pool === configuration.route);
  // Every configuration starts with the whole pool healthy. Its shoppers are new clients (no cookie),
  // so carts left in a local replica's memory by an earlier run are never read: no restart needed
  // (restarting six node processes per run was most of the scenario's CPU time).
  await Promise.all(pool.map((replica) => replica.process.start()));
  await waitForPoolUp(stack, pool.map((r) => r.id));
  await stack.admin('PUT', `/routes/${configuration.route}/affinity`, { affinity: configuration.affinity });

  const random = mulberry32(options.seed);
  const startedAt = Date.now();
  const base = configuration.route === 'sticky' ? stack.urls.sticky : stack.urls.shop;
  const shoppers = Array.from({ length: options.shoppers }, () => new Shopper(base, startedAt));
  const victim = pool[1 % pool.length]!;
  const killAtMs = Math.round(options.durationMs / 3);
  const restartAtMs = Math.round((2 * options.durationMs) / 3);
  const chaos = (async () => {
    await sleep(killAtMs);
    await victim.process.kill();
    await sleep(restartAtMs - killAtMs);
    await victim.process.start();
  })();
  await Promise.all(shoppers.map(async (shopper, i) => {
    await sleep((i * options.thinkMs) / options.shoppers);
    while (Date.now() - startedAt < options.durationMs) {
      await shopper.addRandomItem(random);
      await sleep(options.thinkMs);
    }
  }));
  await chaos;
  await waitForPoolUp(stack, pool.map((r) => r.id));

  let cartsIntact = 0;
  let itemsLost = 0;
  let itemsAcknowledged = 0;
  for (const shopper of shoppers) {
    const cart = await shopper.readCart();
    itemsAcknowledged += countItems(shopper.expected);
    if (sameCart(cart, shopper.expected)) cartsIntact += 1;
    itemsLost += Math.max(0, countItems(shopper.expected) - countItems(cart));
  }
  const records = shoppers.flatMap((s) => s.records);
  const perReplica: Record<string, number> = Object.fromEntries(pool.map((r) => [r.id, 0]));
  for (const record of records) if (record.replica in perReplica && record.status > 0 && record.status < 500) perReplica[record.replica]! += 1;
  const loads = Object.values(perReplica);
  const latencies = records.map((r) => r.latencyMs).sort((a, b) => a - b);
  return {
    configuration,
    shoppers: shoppers.length,
    cartsIntact,
    itemsAcknowledged,
    itemsLost,
    requests: records.length,
    failedRequests: records.filter((r) => r.status === 0 || r.status >= 500).length,
    clientsMoved: shoppers.filter((s) => s.replicas.size > 1).length,
    perReplica,
    loadMax: Math.max(...loads),
    loadMean: loads.reduce((a, b) => a + b, 0) / loads.length,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    killedReplica: victim.id,
    killAtMs,
    restartAtMs,
    records,
  };
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

/** Small seeded PRNG (mulberry32): the same seed gives the same product choices. */
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
