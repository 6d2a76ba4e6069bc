// Scale out (issue 9, point 8): Patch throughput through sessiond with 1 vs 2 sessiond instances
// (one client balancing round robin over both) and on 1 Redis master vs a 3-master Redis Cluster,
// all in the same run, beside the same Patch sent straight to each store. On a 2-core machine the
// point is that nothing serialises (a second instance or two more masters cost no throughput), not
// the absolute gain: every process of the benchmark shares the same two cores.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { ChildProcesses } from './child-processes.ts';
import { runClosedLoop } from './closed-loop.ts';
import type { RunResult } from './latency-recorder.ts';
import { formatCpuUs, formatMs, formatRate, formatRatio, formatShare, formatTable } from './markdown-table.ts';
import { ForeignLoadMeter, ownCpuMs, processCpuMs } from './process-cpu.ts';
import { startRedis } from './redis-process.ts';
import { startRedisCluster } from './redis-process-cluster.ts';
import { DISTURBED_SHARE } from './session-ops.ts';
import { startDirectRedisTarget, startSessiondTarget, type SessionTarget } from './session-targets.ts';

export interface ClusterBenchOptions {
  children: ChildProcesses;
  /** Patch calls in flight, from one client (one gRPC channel, or one ioredis client). */
  concurrency: number;
  /** Measured time per row, in ms. */
  durationMs: number;
  warmupMs: number;
  log: (line: string) => void;
  /** Receives every measured row as a plain object (`npm run bench -- --json`). */
  onRow?: ((row: Record<string, unknown>) => void) | undefined;
}

/** Masters of the cluster rows; no replicas on either side, so both stores do the same work per write. */
const CLUSTER_MASTERS = 3;
const PRELOADED_KEYS = 1000;
const TTL_MS = 30 * 60_000;
const SERVER_MAIN = fileURLToPath(new URL('../server/main.ts', import.meta.url));

interface Row {
  setup: string;
  /** sessiond processes; 0 for the store sent to directly. */
  sessiond: number;
  masters: number;
  result: RunResult;
  storeCpuMs: number;
  sessiondCpuMs: number;
  clientCpuMs: number;
  otherLoad: number;
}

/** Why this sessiond cannot run on a Redis Cluster, or undefined when its `--help` offers `--redis-cluster-nodes`. */
async function clusterUnsupported(): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [SERVER_MAIN, '--help'], { timeout: 60_000 });
    return stdout.includes('--redis-cluster-nodes') ? undefined : 'this sessiond has no --redis-cluster-nodes option';
  } catch (error) {
    return `\`node server/main.ts --help\` failed: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** HINCRBY through an ioredis Cluster client: the floor of a Patch on the cluster. */
async function startDirectClusterTarget(seeds: readonly string[], storePids: readonly (number | undefined)[]): Promise<SessionTarget> {
  const redis = new Redis.Cluster(seeds.map((seed) => ({ host: seed.split(':')[0]!, port: Number(seed.split(':')[1]) })), {
    redisOptions: { commandTimeout: 2000, connectTimeout: 2000, maxRetriesPerRequest: 0 },
  });
  redis.on('error', () => {});
  const prefix = `bench:direct:${randomBytes(4).toString('hex')}:`;
  for (let i = 0; i < PRELOADED_KEYS; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => redis.multi().hset(`${prefix}${i + j}`, 'visits', '0').pexpire(`${prefix}${i + j}`, TTL_MS).exec()));
  }
  return {
    name: `Cluster direct (ioredis Cluster), ${CLUSTER_MASTERS} masters`,
    storePids,
    servicePid: undefined,
    ops: { Patch: (w, n) => redis.hincrby(`${prefix}${(w * 7919 + n) % PRELOADED_KEYS}`, 'visits', 1) },
    close: async () => {
      redis.disconnect();
    },
  };
}

async function measurePatch(start: () => Promise<SessionTarget>, shape: { sessiond: number; masters: number }, options: ClusterBenchOptions): Promise<Row> {
  const target = await start();
  try {
    const patch = target.ops.Patch!;
    const sum = (pids: readonly (number | undefined)[]): number => pids.reduce<number>((total, pid) => total + processCpuMs(pid), 0);
    const servicePids = target.servicePids ?? [target.servicePid];
    const read = (): { store: number; sessiond: number; client: number } => ({ store: sum(target.storePids), sessiond: sum(servicePids), client: ownCpuMs() });
    let before = read();
    let spent = { store: Number.NaN, sessiond: Number.NaN, client: Number.NaN };
    const foreign = new ForeignLoadMeter(() => options.children.pids());
    let otherLoad = Number.NaN;
    const result = await runClosedLoop(patch, {
      concurrency: options.concurrency,
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      onWindowStart: () => {
        foreign.start();
        before = read();
      },
      onWindowEnd: () => {
        const after = read();
        spent = { store: after.store - before.store, sessiond: after.sessiond - before.sessiond, client: after.client - before.client };
        otherLoad = foreign.stop(availableParallelism());
      },
    });
    options.log(`  ${target.name} Patch: ${formatRate(result.opsPerSecond)} ops/s, p50 ${formatMs(result.p50Ms)} ms, p99 ${formatMs(result.p99Ms)} ms${result.errors ? `, ${result.errors} errors (${result.firstError})` : ''}`);
    return { setup: target.name, ...shape, result, storeCpuMs: spent.store, sessiondCpuMs: spent.sessiond, clientCpuMs: spent.client, otherLoad };
  } finally {
    await target.close();
  }
}

export async function runClusterBench(options: ClusterBenchOptions): Promise<string> {
  const { children } = options;
  const rows: Row[] = [];
  const notes: string[] = [];
  const redis = await startRedis(children);
  try {
    rows.push(await measurePatch(() => startDirectRedisTarget(redis.url, [redis.pid]), { sessiond: 0, masters: 1 }, options));
    for (const instances of [1, 2]) {
      rows.push(await measurePatch(() => startSessiondTarget(children, {
        name: `sessiond ×${instances} → Redis`, env: { REDIS_URL: redis.url }, storePids: [redis.pid], ops: ['Patch'], instances,
      }), { sessiond: instances, masters: 1 }, options));
    }
  } finally {
    await redis.stop();
  }
  const unsupported = await clusterUnsupported();
  const cluster = await startRedisCluster(children, { masters: CLUSTER_MASTERS, replicasPerMaster: 0 });
  try {
    const pids = cluster.nodes.map((node) => node.pid);
    rows.push(await measurePatch(() => startDirectClusterTarget(cluster.seeds, pids), { sessiond: 0, masters: CLUSTER_MASTERS }, options));
    if (unsupported !== undefined) {
      notes.push(`- sessiond on the Redis Cluster not measured: ${unsupported}.`);
    } else {
      for (const instances of [1, 2]) {
        rows.push(await measurePatch(() => startSessiondTarget(children, {
          name: `sessiond ×${instances} → Cluster, ${CLUSTER_MASTERS} masters`, env: { STICKLESS_REDIS_CLUSTER_NODES: cluster.seeds.join(',') }, storePids: pids, ops: ['Patch'], instances,
        }), { sessiond: instances, masters: CLUSTER_MASTERS }, options));
      }
    }
  } finally {
    await cluster.stop();
  }
  return report(rows, notes, options);
}

function report(rows: Row[], notes: string[], options: ClusterBenchOptions): string {
  const find = (sessiond: number, masters: number): Row | undefined => rows.find((r) => r.sessiond === sessiond && r.masters === masters);
  const rate = (row: Row | undefined): number => row?.result.opsPerSecond ?? Number.NaN;
  const vsOneSessiond = (row: Row): string => (row.sessiond === 2 ? formatRatio(rate(row), rate(find(1, row.masters))) : '');
  const vsOneMaster = (row: Row): string => (row.masters > 1 ? formatRatio(rate(row), rate(find(row.sessiond, 1))) : '');
  for (const row of rows) {
    const per = (cpuMs: number): number | null => (row.result.ok > 0 ? (cpuMs * 1000) / row.result.ok : null);
    options.onRow?.({
      section: 'cluster', setup: row.setup, op: 'Patch', sessiond: row.sessiond, masters: row.masters, opsPerSecond: row.result.opsPerSecond, p50Ms: row.result.p50Ms, p99Ms: row.result.p99Ms,
      vsOneSessiond: row.sessiond === 2 ? rate(row) / rate(find(1, row.masters)) : null, vsOneMaster: row.masters > 1 ? rate(row) / rate(find(row.sessiond, 1)) : null,
      storeCpuUsPerOp: per(row.storeCpuMs), sessiondCpuUsPerOp: per(row.sessiondCpuMs), clientCpuUsPerOp: per(row.clientCpuMs), otherLoad: row.otherLoad, errors: row.result.errors,
    });
  }
  const table = formatTable(
    ['setup', 'Patch ops/s', 'p50 ms', 'p99 ms', 'vs 1 sessiond', 'vs 1 master', 'Redis CPU µs/op', 'sessiond CPU µs/op', 'client CPU µs/op', 'other load', 'errors'],
    rows.map((row) => [
      row.setup, formatRate(row.result.opsPerSecond), formatMs(row.result.p50Ms), formatMs(row.result.p99Ms), vsOneSessiond(row), vsOneMaster(row),
      formatCpuUs(row.storeCpuMs, row.result.ok), formatCpuUs(row.sessiondCpuMs, row.result.ok), formatCpuUs(row.clientCpuMs, row.result.ok),
      formatShare(row.otherLoad), String(row.result.errors),
    ]),
  );
  const lines = [
    table,
    '',
    `Patch (increment one field of one of ${PRELOADED_KEYS} sessions), closed loop, ${options.concurrency} calls in flight from one client, ` +
      `${options.warmupMs} ms warm-up then ${options.durationMs} ms measured per row. "sessiond ×2": two sessiond processes on the same store, ` +
      `one SessionClient given both addresses (round robin). "Cluster": ${CLUSTER_MASTERS} masters, no replicas (the single Redis has none either). ` +
      '"vs 1 sessiond" = ops/s over the same store with one sessiond; "vs 1 master" = ops/s over the same number of sessiond instances on one Redis. ' +
      'Redis CPU sums every redis-server of the row; sessiond CPU sums every sessiond process. ' +
      `On a machine with ${availableParallelism()} cores, every process of a row (client, sessiond, Redis) shares them: a ratio near 1× means the extra ` +
      'instance or masters cost nothing (nothing serialises), not that they could not help on more cores.',
    ...notes,
  ];
  const disturbed = rows.filter((r) => r.otherLoad > DISTURBED_SHARE);
  if (disturbed.length > 0) lines.push(`- Disturbed by other work on the machine (other load > ${DISTURBED_SHARE * 100}%): ${disturbed.map((r) => r.setup).join('; ')}. Rerun for clean figures.`);
  for (const row of rows.filter((r) => r.result.errors > 0)) lines.push(`- ${row.setup}: ${row.result.errors} errors, first: ${row.result.firstError}`);
  return lines.join('\n');
}
