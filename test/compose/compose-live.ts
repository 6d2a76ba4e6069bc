// `npm run test:compose`: docker-compose.yml started for real on a private dockerd, then broken the
// ways a user's stack breaks (issue 11): a killed app replica, a killed Redis primary, restarted
// sentinels and Redis nodes, `down` / `up`. Runs with node's test runner, one check after another
// on one stack; everything it started is removed at the end, also when a check fails.
// Needs root, dockerd (docker.io), docker-compose (1.29) and debootstrap; base images are made
// locally (test/compose/make-base-images.sh) and cached in ~/.cache/stickless/compose-test.
// STICKLESS_COMPOSE_FILE=path runs the same checks against another compose file (an older one).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildAppImage } from './app-image.ts';
import { ComposeStack } from './compose-stack.ts';
import { startDockerd, type PrivateDockerd } from './dockerd.ts';
import { run } from './exec.ts';
import { containerOf, Shopper, type CartAnswer } from './shop-client.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
/** redis ×2, sentinel ×3, sessiond ×2, cart-app-local ×3, cart-app-central ×3, cart-app-token ×3, proxy, dns-stub. */
const CONTAINERS = 18;
/**
 * What the sticky (hard) route answers once the replica holding the cart was killed.
 * 'empty-cart' was the proxy before issue 10 (a backend DNS no longer listed was forgotten and the
 * pin moved: another replica's empty cart); since issue 10 it answers 503 ('503').
 */
const STICKY_AFTER_KILL = '503' as 'empty-cart' | '503';

const figures: Record<string, number | string> = {};
let dockerd: PrivateDockerd | undefined;
let stack: ComposeStack;
let failed = false;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Calls `probe` until it returns a value (not undefined) or `timeoutMs` passes; the value and ms. */
async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const value = await probe();
    if (value !== undefined) return { value, ms: Date.now() - started };
    await sleep(500);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

const seconds = (ms: number): number => Math.round(ms / 100) / 10;

/** Marks the run failed (logs are printed at the end) and rethrows. */
async function check(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    failed = true;
    // Said at once: node's reporter lists failures only at the very end, which Ctrl-C never reaches.
    process.stdout.write(`check failed: ${(error as Error).message}\n`);
    throw error;
  }
}

before(() => check(async () => {
  if (process.getuid?.() !== 0) throw new Error('test:compose runs dockerd and debootstrap: run it as root');
  for (const tool of ['dockerd', 'docker', 'docker-compose', 'debootstrap']) {
    if ((await run('sh', ['-c', `command -v ${tool}`], { allowFailure: true })).code !== 0) throw new Error(`test:compose needs ${tool} (apt-get install docker.io docker-compose debootstrap)`);
  }
  // compose.override.yml pins the network to 172.30.53.0/24: a route to it means another run (or a
  // bridge one left behind) would take the host's traffic for the published ports.
  const route = (await run('ip', ['route', 'show', '172.30.53.0/24'], { allowFailure: true })).stdout.trim();
  if (route) throw new Error(`172.30.53.0/24 is already routed (${route}): another test:compose runs, or remove the stale bridge with ip link delete`);
  dockerd = await startDockerd({ dns: '172.30.53.53', readyTimeoutMs: 120_000 });
  const env = { DOCKER_HOST: dockerd.host };
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'stickless', 'compose-test');
  let startedMs = Date.now();
  await run('bash', [join(ROOT, 'test/compose/make-base-images.sh'), cache], { env, timeoutMs: 1_200_000, echo: true });
  figures.baseImagesSeconds = seconds(Date.now() - startedMs);
  startedMs = Date.now();
  await buildAppImage(ROOT, 'stickless:local', dockerd.host);
  figures.appImageSeconds = seconds(Date.now() - startedMs);
  stack = new ComposeStack({
    root: ROOT,
    composeFile: process.env.STICKLESS_COMPOSE_FILE ?? 'docker-compose.yml',
    dockerHost: dockerd.host,
    project: `sticklesstest${process.pid}`,
    httpPort: await freePort(),
    adminPort: await freePort(),
  });
  startedMs = Date.now();
  await stack.compose(['up', '-d', '--no-build'], { timeoutMs: 900_000, echo: true });
  figures.upSeconds = seconds(Date.now() - startedMs);
}));

let tornDown: Promise<void> | undefined;
/** Removes the stack, its volumes and the private dockerd; idempotent. */
function tearDown(): Promise<void> {
  tornDown ??= (async () => {
    try {
      if (stack && failed) process.stdout.write(`--- after a failed check ---\n${await stack.logs([], 30)}\n${await stack.unhealthyReport()}\n`);
      if (stack) await stack.compose(['down', '-v', '--remove-orphans', '-t', '5'], { timeoutMs: 300_000, allowFailure: true });
    } finally {
      await dockerd?.stop();
      process.stdout.write(`compose test figures: ${JSON.stringify(figures)}\n`);
      mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
      writeFileSync(join(ROOT, 'test-artifacts', 'compose-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
    }
  })();
  return tornDown;
}
after(tearDown);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stdout.write(`test:compose: ${signal}, tearing down\n`);
    void tearDown().finally(() => process.exit(130));
  });
}

const baseUrl = (): string => `http://127.0.0.1:${stack.options.httpPort}`;
const okAnswer = (answer: CartAnswer): boolean => answer.status === 200;

test('every service becomes healthy, and the proxy warns about the demo secrets', () => check(async () => {
  const waitedMs = await stack.waitAllHealthy(CONTAINERS, 600_000);
  figures.healthyAfterUpSeconds = seconds(waitedMs);
  assert.match(await stack.logs(['proxy'], 200), /WARNING: DEMO SECRETS IN USE/);
}));

test('operators reach the admin API with docker compose exec; no other container and no host port does', () => check(async () => {
  const stickless = async (args: string[]): Promise<unknown> => {
    const result = await stack.compose(['exec', '-T', 'proxy', 'stickless', 'proxy', ...args, '--json'], { timeoutMs: 120_000 });
    return JSON.parse(result.stdout);
  };
  const routes = (await stickless(['routes'])) as { name: string; affinity: string }[];
  assert.deepEqual(routes.map((r) => `${r.name}:${r.affinity}`), ['sticky:hard', 'shop:soft', 'token:none']);
  assert.equal(((await stickless(['set-affinity', 'token', 'soft'])) as { affinity: string }).affinity, 'soft');
  assert.equal(((await stickless(['set-affinity', 'token', 'none'])) as { affinity: string }).affinity, 'none');
  // Another container of the compose network dials the proxy's admin port: nothing listens there.
  const neighbour = (await stack.containers()).find((c) => c.service === 'cart-app-local' && c.status === 'running');
  assert.ok(neighbour, 'a running cart-app-local container');
  const probe = "fetch('http://proxy:9901/healthz', { signal: AbortSignal.timeout(10000) }).then((r) => console.log('reachable ' + r.status), (e) => console.log('unreachable ' + (e.cause?.code ?? e.name)))";
  const fromNeighbour = (await stack.docker(['exec', neighbour.id, 'node', '-e', probe], { timeoutMs: 60_000 })).stdout.trim();
  assert.match(fromNeighbour, /^unreachable ECONNREFUSED$/, `proxy:9901 from ${neighbour.service}`);
  // Nor is it published on the host (STICKLESS_ADMIN_PORT is what older compose files published).
  const fromHost = await fetch(`http://127.0.0.1:${stack.options.adminPort}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => `reachable ${r.status}`, (e: Error & { cause?: { code?: string } }) => `unreachable ${e.cause?.code ?? e.name}`);
  assert.match(fromHost, /^unreachable /, `127.0.0.1:${stack.options.adminPort} on the host`);
}));

test('a /shop/ cart survives docker kill of the replica that served it', () => check(async () => {
  const shopper = new Shopper(baseUrl());
  for (const sku of ['tea', 'tea', 'mug']) assert.equal((await shopper.add('shop', sku)).status, 200);
  const before = await shopper.cart('shop');
  assert.deepEqual(before.body.cart, { tea: 2, mug: 1 });
  const killed = containerOf(before.replica!);
  await stack.docker(['kill', killed]);
  const { value: afterKill, ms } = await poll('a /shop/ answer from another replica', 60_000, async () => {
    const answer = await shopper.cart('shop');
    return okAnswer(answer) && answer.replica !== before.replica ? answer : undefined;
  });
  figures.shopServedElsewhereSeconds = seconds(ms);
  assert.deepEqual(afterKill.body.cart, { tea: 2, mug: 1 });
  assert.equal(afterKill.body.cartLost, false);
  await stack.docker(['start', killed]);
}));

test('the /sticky/ route loses the cart of a killed replica', () => check(async () => {
  const shopper = new Shopper(baseUrl());
  assert.equal((await shopper.add('sticky', 'honey')).status, 200);
  const before = await shopper.cart('sticky');
  assert.deepEqual(before.body.cart, { honey: 1 });
  const killed = containerOf(before.replica!);
  await stack.docker(['kill', killed]);
  if (STICKY_AFTER_KILL === 'empty-cart') {
    // The pinned backend leaves DNS, the proxy forgets it and re-pins: a new, empty cart.
    const { value: afterKill } = await poll('a /sticky/ answer from another replica', 60_000, async () => {
      const answer = await shopper.cart('sticky');
      return okAnswer(answer) && answer.replica !== before.replica ? answer : undefined;
    });
    assert.deepEqual(afterKill.body.cart, {});
    assert.equal(afterKill.body.cartLost, true);
  } else {
    // docs/proxy.md: a hard pin on a backend that left DNS gets 503 PRX_ERR_PINNED_UPSTREAM_DOWN with
    // Retry-After for hard.repinAfterMs (30 s by default), never another replica's empty cart.
    const { value: refused } = await poll('a 503 for the vanished pinned replica', 30_000, async () => {
      const answer = await shopper.cart('sticky');
      if (okAnswer(answer) && answer.replica !== before.replica) throw new Error(`/sticky/ moved to ${answer.replica} with cart ${JSON.stringify(answer.body.cart)} instead of answering 503`);
      return answer.status === 503 ? answer : undefined;
    });
    for (const answer of [refused, await shopper.cart('sticky')]) {
      assert.equal(answer.status, 503);
      assert.equal((answer.body.error as { code?: string } | undefined)?.code, 'PRX_ERR_PINNED_UPSTREAM_DOWN');
      assert.ok(answer.retryAfter, 'Retry-After is set');
    }
  }
  await stack.docker(['start', killed]);
}));

/** Carts whose every acknowledged add must survive what follows: shopper → sku → acknowledged count. */
const ledger: { shopper: Shopper; sku: string; acked: number; unknown: number }[] = [];

async function assertCartsKept(what: string): Promise<void> {
  for (const entry of ledger) {
    const { value: answer } = await poll(`${what}: the cart of a ${entry.sku} shopper`, 60_000, async () => {
      const reply = await entry.shopper.cart('shop');
      return okAnswer(reply) ? reply : undefined;
    });
    const quantity = answer.body.cart?.[entry.sku] ?? 0;
    assert.ok(quantity >= entry.acked, `${what}: ${entry.sku} cart holds ${quantity}, but ${entry.acked} adds were acknowledged`);
    assert.ok(quantity <= entry.acked + entry.unknown, `${what}: ${entry.sku} cart holds ${quantity}, more than ${entry.acked} acknowledged + ${entry.unknown} unanswered adds`);
  }
}

/** Every sentinel names the same master, that node says it is master, and /shop/ takes an add. */
async function servingMaster(): Promise<string | undefined> {
  const masters = await Promise.all(['sentinel-1', 'sentinel-2', 'sentinel-3'].map((s) => stack.sentinelMaster(s)));
  const master = masters[0];
  if (!master || masters.some((m) => m !== master)) return undefined;
  if ((await stack.redisRole(master.split(':')[0]!)) !== 'master') return undefined;
  const probe = new Shopper(baseUrl());
  return (await probe.add('shop', 'kettle')).status === 200 ? master : undefined;
}

/** How long `getent hosts <name>` takes inside a service's container, in seconds (a figure only). */
async function lookupSeconds(service: string, name: string): Promise<number> {
  const startedMs = Date.now();
  await stack.docker(['exec', await stack.containerOf(service), 'getent', 'hosts', name], { allowFailure: true, timeoutMs: 120_000 });
  return seconds(Date.now() - startedMs);
}

test('killing the Redis primary fails over without TILT while lookups of its name are never answered, and keeps every acknowledged add', () => check(async () => {
  await stack.waitAllHealthy(CONTAINERS, 300_000);
  const dnsStub = await stack.containerOf('dns-stub');
  let stalledSince: Date | undefined;
  const master = await stack.sentinelMaster('sentinel-1');
  assert.ok(master, 'sentinel-1 names a master');
  const masterService = master.split(':')[0]!;
  for (const sku of ['tea', 'mug', 'honey']) ledger.push({ shopper: new Shopper(baseUrl()), sku, acked: 0, unknown: 0 });
  let stop = false;
  let killedAtMs = 0;
  let firstAckAfterKillMs = 0;
  const statuses = new Map<number, number>();
  const shoppers = ledger.map(async (entry) => {
    while (!stop) {
      const sentAtMs = Date.now();
      const answer = await entry.shopper.add('shop', entry.sku);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status === 200) {
        entry.acked += 1;
        // The first add sent after the kill that was acknowledged: writes work again.
        if (killedAtMs && sentAtMs > killedAtMs && !firstAckAfterKillMs) firstAckAfterKillMs = Date.now();
      } else {
        // Not acknowledged; it may still have been applied (a reply lost with the primary).
        entry.unknown += 1;
        await sleep(250);
      }
      await sleep(100);
    }
  });
  try {
    await poll('3 acknowledged adds per shopper', 60_000, async () => (ledger.every((e) => e.acked >= 3) ? true : undefined));
    const container = await stack.containerOf(masterService);
    // From here on the stand-in resolver answers nothing, as on a laptop without network: a lookup of
    // the killed container's name (which Docker's DNS forwards upstream) now fails only by timing out.
    await stack.docker(['kill', '-s', 'USR1', dnsStub]);
    stalledSince = new Date();
    killedAtMs = Date.now();
    await stack.docker(['kill', container]);
    const lookup = lookupSeconds('sentinel-1', masterService);
    const { value: newMaster, ms } = await poll('a new master named by sentinel-1', 90_000, async () => {
      const named = await stack.sentinelMaster('sentinel-1');
      return named && named !== master ? named : undefined;
    });
    figures.failoverSeconds = seconds(ms);
    figures.deadNameLookupSeconds = await lookup;
    figures.newMaster = newMaster;
    // As after a crash under `restart: unless-stopped`; deploy/redis-node.sh must make it a replica.
    await stack.docker(['start', container]);
    const ackedAtRestart = ledger.map((e) => e.acked);
    await poll('3 more acknowledged adds per shopper after the failover', 120_000, async () => (ledger.every((e, i) => e.acked >= ackedAtRestart[i]! + 3) ? true : undefined));
    figures.writesResumedAfterKillSeconds = seconds(firstAckAfterKillMs - killedAtMs);
  } finally {
    stop = true;
    await Promise.all(shoppers);
    if (stalledSince) await stack.docker(['kill', '-s', 'USR2', dnsStub], { allowFailure: true });
  }
  figures.failoverAddAnswers = JSON.stringify(Object.fromEntries(statuses));
  // Sentinel enters TILT (and stops acting for 30 s) when its event loop stalls for over 2 s, as it
  // did in a synchronous lookup of the dead container's name.
  const stub = await stack.docker(['logs', '--since', stalledSince!.toISOString(), dnsStub], { allowFailure: true });
  figures.unansweredQueriesWhileStalled = /\((\d+) queries left unanswered/.exec(stub.stdout)?.[1] ?? '?';
  figures.unansweredNamesWhileStalled = [...new Set(stub.stdout.split('\n').map((line) => /left unanswered: (.+)$/.exec(line)?.[1]).filter(Boolean))].join(', ');
  for (const sentinel of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
    const log = await stack.docker(['logs', '--since', stalledSince!.toISOString(), await stack.containerOf(sentinel)]);
    const tilts = `${log.stdout}${log.stderr}`.split('\n').filter((line) => line.includes('+tilt'));
    assert.deepEqual(tilts, [], `${sentinel} entered TILT during the failover`);
  }
  assert.equal(await stack.redisRole(masterService), 'slave', `${masterService} came back as a replica`);
  await assertCartsKept('after the failover');
}));

test('restarting every sentinel after the failover keeps the stack serving', () => check(async () => {
  await stack.compose(['restart', '-t', '5', 'sentinel-1', 'sentinel-2', 'sentinel-3'], { timeoutMs: 300_000 });
  const { value: master, ms } = await poll('sentinels agreeing on a serving master after their restart', 120_000, servingMaster);
  figures.sentinelRestartServingSeconds = seconds(ms);
  await sleep(15_000); // the old compose file broke only after the sentinels had looked around
  assert.equal(await servingMaster(), master, 'still the same serving master 15 s later');
  await stack.waitAllHealthy(CONTAINERS, 120_000);
  await assertCartsKept('after restarting the sentinels');
}));

test('restarting both Redis containers after the failover keeps the stack serving', () => check(async () => {
  await stack.compose(['restart', '-t', '5', 'redis-primary', 'redis-replica'], { timeoutMs: 300_000 });
  const { ms } = await poll('a serving master after restarting both Redis nodes', 180_000, servingMaster);
  figures.redisRestartServingSeconds = seconds(ms);
  await stack.waitAllHealthy(CONTAINERS, 180_000);
  const roles = [await stack.redisRole('redis-primary'), await stack.redisRole('redis-replica')].sort();
  assert.deepEqual(roles, ['master', 'slave']);
  await assertCartsKept('after restarting both Redis nodes');
}));

test('down and up keep the carts', () => check(async () => {
  await stack.compose(['down', '-t', '5'], { timeoutMs: 300_000 });
  const startedMs = Date.now();
  await stack.compose(['up', '-d', '--no-build'], { timeoutMs: 900_000 });
  await stack.waitAllHealthy(CONTAINERS, 600_000);
  figures.downUpHealthySeconds = seconds(Date.now() - startedMs);
  await assertCartsKept('after down and up');
}));
