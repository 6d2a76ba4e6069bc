// Section 1: session operations. sessiond (on Redis, on its memory store, and with replicaAcks=1 on a
// primary + replica pair) against the same logical operations sent straight to Redis, measured in
// the same run with the same closed-loop driver and concurrency.
import { availableParallelism } from 'node:os';
import { runClosedLoop } from './closed-loop.ts';
import type { ChildProcesses } from './child-processes.ts';
import type { RunResult } from './latency-recorder.ts';
import { formatCpuUs, formatMs, formatRate, formatRatio, formatShare, formatTable } from './markdown-table.ts';
import { ForeignLoadMeter, ownCpuMs, processCpuMs } from './process-cpu.ts';
import { startRedis, type RedisProcess } from './redis-process.ts';
import { startNearCacheTarget } from './near-cache.ts';
import { startDirectRedisTarget, startSessiondTarget, type OpName, type SessionTarget } from './session-targets.ts';

export interface SessionOpsOptions {
  children: ChildProcesses;
  /** Operations in flight. */
  concurrency: number;
  /** Measured time per operation and setup, in ms. */
  durationMs: number;
  warmupMs: number;
  /** Also measure replicaAcks=1 on a primary + replica pair. */
  replicaAcks: boolean;
  log: (line: string) => void;
  /** Receives every measured row as a plain object (`npm run bench -- --json`). */
  onRow?: ((row: Record<string, unknown>) => void) | undefined;
}

interface Measurement {
  target: string;
  peer: string;
  op: OpName;
  result: RunResult;
  storeCpuMs: number;
  serviceCpuMs: number;
  clientCpuMs: number;
  /** Share of all cores busy with other work during the window. */
  foreignLoad: number;
}

/** Rows measured while other processes kept more than this share of the cores busy are flagged. */
export const DISTURBED_SHARE = 0.1;
const OPS: readonly OpName[] = ['Get', 'Patch', 'Create'];

async function measure(target: SessionTarget, peer: string, options: SessionOpsOptions): Promise<Measurement[]> {
  const out: Measurement[] = [];
  for (const op of OPS) {
    const run = target.ops[op];
    if (!run) continue;
    const storeCpu = (): number => (target.storePids.length === 0 ? Number.NaN : target.storePids.reduce<number>((sum, pid) => sum + processCpuMs(pid), 0));
    const start = { store: 0, service: 0, client: 0 };
    const spent = { store: Number.NaN, service: Number.NaN, client: Number.NaN };
    const foreign = new ForeignLoadMeter(() => options.children.pids());
    let foreignLoad = Number.NaN;
    const result = await runClosedLoop(run, {
      concurrency: options.concurrency,
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      onWindowStart: () => {
        foreign.start();
        Object.assign(start, { store: storeCpu(), service: processCpuMs(target.servicePid), client: ownCpuMs() });
      },
      onWindowEnd: () => {
        Object.assign(spent, { store: storeCpu() - start.store, service: processCpuMs(target.servicePid) - start.service, client: ownCpuMs() - start.client });
        foreignLoad = foreign.stop(availableParallelism());
      },
    });
    options.log(`  ${target.name} ${op}: ${formatRate(result.opsPerSecond)} ops/s, p50 ${formatMs(result.p50Ms)} ms, p99 ${formatMs(result.p99Ms)} ms${result.errors ? `, ${result.errors} errors (${result.firstError})` : ''}`);
    out.push({ target: target.name, peer, op, result, storeCpuMs: spent.store, serviceCpuMs: spent.service, clientCpuMs: spent.client, foreignLoad });
  }
  return out;
}

/** Starts a target, measures it, and always closes it. */
async function withTarget(start: () => Promise<SessionTarget>, peer: string, options: SessionOpsOptions): Promise<Measurement[]> {
  const target = await start();
  try {
    return await measure(target, peer, options);
  } finally {
    await target.close();
  }
}

export async function runSessionOps(options: SessionOpsOptions): Promise<string> {
  const { children } = options;
  const rows: Measurement[] = [];
  const redisList: RedisProcess[] = [];
  try {
    const redis = await startRedis(children);
    redisList.push(redis);
    const direct = 'Redis direct (ioredis)';
    rows.push(...await withTarget(() => startDirectRedisTarget(redis.url, [redis.pid]), direct, options));
    rows.push(...await withTarget(() => startSessiondTarget(children, { name: 'sessiond → Redis', env: { REDIS_URL: redis.url }, storePids: [redis.pid] }), direct, options));
    const central = 'sessiond → Redis';
    // The same calls, one unary call each instead of messages on the client's Pipeline stream.
    rows.push(...await withTarget(() => startSessiondTarget(children, { name: 'sessiond → Redis, unary calls', env: { REDIS_URL: redis.url }, storePids: [redis.pid], pipeline: false }), central, options));
    for (const kind of ['hit', 'miss'] as const) rows.push(...await withTarget(() => startNearCacheTarget(children, redis.url, redis.pid, kind), central, options));
    rows.push(...await withTarget(() => startSessiondTarget(children, { name: 'sessiond, memory store', env: { STICKLESS_STORE: 'memory' }, storePids: [] }), direct, options));
    await redis.stop();
    if (options.replicaAcks) {
      const primary = await startRedis(children);
      redisList.push(primary);
      const replica = await startRedis(children, { replicaOfPort: primary.port });
      redisList.push(replica);
      const pair = [primary.pid, replica.pid];
      const waitPeer = 'Redis direct + WAIT 1';
      const writes = ['Patch', 'Create'] as const;
      rows.push(...await withTarget(() => startDirectRedisTarget(primary.url, pair, 1), waitPeer, options));
      rows.push(...await withTarget(() => startSessiondTarget(children, { name: 'sessiond → primary+replica, replicaAcks=0', env: { REDIS_URL: primary.url }, storePids: pair, ops: writes }), waitPeer, options));
      rows.push(...await withTarget(() => startSessiondTarget(children, { name: 'sessiond → primary+replica, replicaAcks=1', env: { REDIS_URL: primary.url, STICKLESS_REPLICA_ACKS: '1' }, storePids: pair, ops: writes }), waitPeer, options));
    }
  } finally {
    for (const redis of redisList) await redis.stop();
  }
  return report(rows, options);
}

function report(rows: Measurement[], options: SessionOpsOptions): string {
  for (const row of rows) {
    const per = (cpuMs: number) => (row.result.ok > 0 ? (cpuMs * 1000) / row.result.ok : null);
    options.onRow?.({
      section: 'sessions', setup: row.target, op: row.op, peer: row.peer, opsPerSecond: row.result.opsPerSecond, p50Ms: row.result.p50Ms, p99Ms: row.result.p99Ms,
      storeCpuUsPerOp: per(row.storeCpuMs), sessiondCpuUsPerOp: per(row.serviceCpuMs), clientCpuUsPerOp: per(row.clientCpuMs), otherLoad: row.foreignLoad, errors: row.result.errors,
    });
  }
  const peerOf = (row: Measurement): Measurement | undefined => rows.find((r) => r.target === row.peer && r.op === row.op);
  const table = formatTable(
    ['setup', 'op', 'ops/s', 'p50 ms', 'p99 ms', 'ops/s vs peer', 'p50 vs peer', 'Redis CPU µs/op', 'sessiond CPU µs/op', 'client CPU µs/op', 'other load', 'errors'],
    rows.map((row) => {
      const peer = peerOf(row);
      const isPeer = row.target === row.peer;
      return [
        row.target, row.op, formatRate(row.result.opsPerSecond), formatMs(row.result.p50Ms), formatMs(row.result.p99Ms),
        isPeer ? 'peer' : formatRatio(row.result.opsPerSecond, peer?.result.opsPerSecond ?? Number.NaN),
        isPeer ? 'peer' : formatRatio(row.result.p50Ms, peer?.result.p50Ms ?? Number.NaN),
        formatCpuUs(row.storeCpuMs, row.result.ok), formatCpuUs(row.serviceCpuMs, row.result.ok), formatCpuUs(row.clientCpuMs, row.result.ok),
        formatShare(row.foreignLoad), String(row.result.errors),
      ];
    }),
  );
  const lines = [
    table,
    '',
    `Closed loop, ${options.concurrency} operations in flight from one client (one gRPC channel, or one ioredis connection), ` +
      `${options.warmupMs} ms warm-up then ${options.durationMs} ms measured per row. Latency percentiles are exact (every sample kept). ` +
      'Peer: "sessiond → Redis" for the near-cache rows (hit: the copy is held and trusted, no network call; miss: near cache on with maxEntries 1, so every read goes to sessiond), "Redis direct (ioredis)" for the other single-Redis setups, "Redis direct + WAIT 1" for the primary+replica rows. ' +
      'CPU per op = process CPU time during the measured window / operations completed in it (Redis CPU sums primary and replica on the pair). ' +
      '"other load" = share of all cores busy with processes that are not the benchmark\'s during the window; rows with more than 10% were disturbed by other work on the machine.',
  ];
  const acks0 = rows.filter((r) => r.target.endsWith('replicaAcks=0'));
  const acks1 = rows.filter((r) => r.target.endsWith('replicaAcks=1'));
  for (const without of acks0) {
    const withAcks = acks1.find((r) => r.op === without.op);
    if (!withAcks) continue;
    lines.push(`- WAIT cost, ${without.op}: replicaAcks=1 runs at ${formatRatio(withAcks.result.opsPerSecond, without.result.opsPerSecond)} the ops/s of replicaAcks=0, ` +
      `p50 ${formatMs(without.result.p50Ms)} → ${formatMs(withAcks.result.p50Ms)} ms, p99 ${formatMs(without.result.p99Ms)} → ${formatMs(withAcks.result.p99Ms)} ms.`);
  }
  const disturbed = rows.filter((r) => r.foreignLoad > DISTURBED_SHARE);
  if (disturbed.length > 0) lines.push(`- Disturbed by other work on the machine (other load > ${DISTURBED_SHARE * 100}%): ${disturbed.map((r) => `${r.target} ${r.op}`).join('; ')}. Rerun for clean figures.`);
  const failed = rows.filter((r) => r.result.errors > 0);
  for (const row of failed) lines.push(`- ${row.target} ${row.op}: ${row.result.errors} errors, first: ${row.result.firstError}`);
  return lines.join('\n');
}
