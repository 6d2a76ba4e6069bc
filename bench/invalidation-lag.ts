// Invalidation lag of the near cache (issue 8: p99 ≤ 10 ms at 1,000 writes/s on loopback). One
// redis-server and one sessiond started for the run; the holder, a SessionClient with the near cache
// on that holds every session (invalidation-lag-holder.ts), in a child process of its own; the
// writer, a SessionClient without a cache, here, patching the sessions round robin on a fixed-rate
// schedule (open loop: a write is due every 1000/rate ms whether or not earlier ones have answered).
// One row per rate, on the same processes: a low reference rate first, then the target's.
//
// Lag = the change's commit time (Redis TIME, carried by the Track event) → the holder's near cache
// has handled the event (copy dropped), both read from this machine's clock. Not the writer's reply:
// the event and the reply leave sessiond at about the same time, so reply → drop would leave out the
// part of the path they share and can come out negative.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SessionClient } from '../client/index.ts';
import { isRunning, type Child, type ChildProcesses } from './child-processes.ts';
import type { HolderOptions, HolderResult } from './invalidation-lag-holder.ts';
import { runAtFixedRate } from './fixed-rate-schedule.ts';
import { formatGc, GC_TRACE_FLAG, GcWindow, type GcFigures } from './gc-trace.ts';
import { LatencyRecorder } from './latency-recorder.ts';
import { formatMs, formatRate, formatShare, formatTable } from './markdown-table.ts';
import { preload, startSessiond } from './near-cache.ts';
import { ForeignLoadMeter, ownCpuMs, processCpuMs } from './process-cpu.ts';
import { startRedis } from './redis-process.ts';

/** Issue 8's target. */
export const LAG_TARGET = Object.freeze({ writesPerSecond: 1000, p99Ms: 10 });
/** A lower rate measured first, on the same processes: the lag where a loaded machine still keeps up. */
export const LAG_REFERENCE_RATE = 200;
const HOLDER_MAIN = fileURLToPath(new URL('./invalidation-lag-holder.ts', import.meta.url));
const NAMESPACE = 'bench';
const DEADLINE_MS = 2000;
/** Time given to the last events to reach the holder before its figures are collected. */
const SETTLE_MS = 2000;

export interface InvalidationLagOptions {
  children: ChildProcesses;
  /** Writes per second asked for, one row each, in this order (on the same processes). */
  rates: readonly number[];
  /** Sessions the holder holds and the writer writes round robin. */
  sessions: number;
  /**
   * The holder re-reads a session after each change, so each event drops a copy (default true).
   * Without, a copy is dropped once and the holder keeps receiving the session's events for as long
   * as the tracker holds the idle id (at least 10 s): the lag without the re-reads' load.
   */
  reread?: boolean | undefined;
  warmupMs: number;
  durationMs: number;
  log: (line: string) => void;
  onRow?: ((row: Record<string, unknown>) => void) | undefined;
}

export interface LagResult {
  targetWritesPerSecond: number;
  /** Writes due in the measured window and acknowledged, per second from its start to the last acknowledgment. */
  writesPerSecond: number;
  writes: number;
  writeErrors: number;
  firstWriteError: string | undefined;
  /** Write latency counted from when it was due (ms). */
  writeP50Ms: number;
  writeP99Ms: number;
  /** UPDATED events the holder handled for changes committed in the window. */
  events: number;
  /** Acknowledged writes committed in the window whose event had not been handled at collection (counted at the lower bound of their lag). */
  missingEvents: number;
  /** Share of the events that dropped a copy (the others found none: the re-read after the previous change still on its way). */
  droppedShare: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU over the measured window, as a share of one core. */
  cpu: { writer: number; sessiond: number; redis: number; holder: number };
  /** Share of all cores busy with processes that are not the benchmark's. */
  otherLoad: number;
  loadAverage: [number, number];
  /** sessiond's garbage collections over the measured window (its `--trace-gc-nvp` lines). */
  sessiondGc: GcFigures;
  /** Issue 8's verdict, on rows asked for its rate; null on the others. */
  met: boolean | null;
}

/** What the holder said about the whole run (every row). */
interface HolderSummary {
  /** The holder client's own lag figure (nearCacheStats().lagMs: store clock mapped to its own, last 4,096 events). */
  reportedP99Ms: number;
  resyncs: number;
  rereads: number;
  rereadErrors: number;
  unmatched: number;
}

interface RowRun {
  rate: number;
  writes: WriteRun;
  cpu: LagResult['cpu'];
  sessiondGc: GcFigures;
  otherLoad: number;
  loadAverage: [number, number];
}

export async function runInvalidationLag(options: InvalidationLagOptions): Promise<string> {
  const { children } = options;
  const redis = await startRedis(children);
  let sessiond: Child | undefined;
  let holder: Child | undefined;
  let writer: SessionClient | undefined;
  const dir = children.makeTempDir('stickless-bench-lag-');
  try {
    const started = await startSessiond(children, 'invalidation lag', redis.url, [GC_TRACE_FLAG]);
    sessiond = started.child;
    writer = new SessionClient({ address: started.address, namespace: NAMESPACE, deadlineMs: DEADLINE_MS });
    const ids = await preload(writer, options.sessions);
    const holderOptions: HolderOptions = { address: started.address, namespace: NAMESPACE, idsFile: join(dir, 'ids.json'), outFile: join(dir, 'holder.json'), deadlineMs: DEADLINE_MS, reread: options.reread };
    writeFileSync(holderOptions.idsFile, JSON.stringify(ids));
    holder = children.start({ name: 'near-cache holder', command: process.execPath, args: [HOLDER_MAIN, JSON.stringify(holderOptions)] });
    await waitForLine(holder, 'ready', 180_000); // a bound for a holder that never gets going, not a speed limit
    options.log(`  holder ready with ${ids.length} trusted copies`);

    const pids = { sessiond: sessiond.process.pid, redis: redis.pid, holder: holder.process.pid };
    const cpuNow = () => ({ writer: ownCpuMs(), sessiond: processCpuMs(pids.sessiond), redis: processCpuMs(pids.redis), holder: processCpuMs(pids.holder) });
    const runs: RowRun[] = [];
    for (const rate of options.rates) {
      options.log(`  writing ${rate}/s for ${options.warmupMs} + ${options.durationMs} ms`);
      const loadBefore = loadavg()[0]!;
      const foreign = new ForeignLoadMeter(() => children.pids());
      const gc = new GcWindow(sessiond);
      let cpuStart = cpuNow();
      const writes = await writeAtFixedRate(writer, ids, rate, options, () => {
        foreign.start();
        gc.start();
        cpuStart = cpuNow();
      });
      const cpuEnd = cpuNow();
      const sessiondGc = gc.stop();
      const otherLoad = foreign.stop(availableParallelism());
      const windowMs = writes.windowEndPerf - writes.windowStartPerf;
      const share = (key: keyof typeof cpuEnd) => (cpuEnd[key] - cpuStart[key]) / windowMs;
      runs.push({ rate, writes, sessiondGc, otherLoad, loadAverage: [loadBefore, loadavg()[0]!], cpu: { writer: share('writer'), sessiond: share('sessiond'), redis: share('redis'), holder: share('holder') } });
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS)); // the last events, and sessiond's queue after an overload
    }
    const collectedAt = Date.now();
    const seen = await collect(holder, holderOptions.outFile);
    const results = runs.map((run) => lagOf(run, seen, collectedAt));
    const summary: HolderSummary = { reportedP99Ms: seen.stats.lagMs.p99, resyncs: seen.stats.resyncs, rereads: seen.rereads, rereadErrors: seen.rereadErrors, unmatched: seen.unmatched };
    for (const result of results) {
      options.log(`  ${formatRate(result.targetWritesPerSecond)}/s asked: ${formatRate(result.writesPerSecond)} writes/s, ${result.events} events, lag p50 ${formatMs(result.p50Ms)} ms, p99 ${formatMs(result.p99Ms)} ms, max ${formatMs(result.maxMs)} ms`);
      options.onRow?.({ section: 'lag', rereads: options.reread !== false, sessions: options.sessions, durationMs: options.durationMs, lagFrom: 'commit (Redis TIME)', lagTo: 'holder cache handled the event', targetP99Ms: LAG_TARGET.p99Ms, ...result, holder: summary });
    }
    if (seen.unmatched > 0) options.log(`  ${seen.unmatched} invalidation messages did not match the event the holder saw last (expected none)`);
    return report(results, summary, options);
  } finally {
    await writer?.close();
    if (holder) await children.stop(holder);
    if (sessiond) await children.stop(sessiond);
    await redis.stop();
    children.removeTempDir(dir);
  }
}

/** One row's figures: the holder's events for changes committed in the row's window. */
function lagOf(run: RowRun, seen: HolderResult, collectedAt: number): LagResult {
  const { writes } = run;
  const lag = new LatencyRecorder();
  let events = 0;
  let dropped = 0;
  for (let i = 0; i < seen.samples.length; i += 3) {
    const committedAt = seen.samples[i]!;
    if (committedAt < writes.windowFromEpoch || committedAt >= writes.windowToEpoch) continue;
    events++;
    lag.record(seen.samples[i + 1]!);
    dropped += seen.samples[i + 2]!;
  }
  const committed = writes.commits.filter((t) => t >= writes.windowFromEpoch && t < writes.windowToEpoch).length;
  const missingEvents = Math.max(0, committed - events);
  for (let i = 0; i < missingEvents; i++) lag.record(collectedAt - writes.windowToEpoch);
  const [p50Ms, p99Ms, maxMs] = lag.percentiles(50, 99, 100) as [number, number, number];
  const atTarget = run.rate >= LAG_TARGET.writesPerSecond;
  return {
    targetWritesPerSecond: run.rate, writesPerSecond: writes.reachedPerSecond, writes: writes.ok, writeErrors: writes.errors, firstWriteError: writes.firstError,
    writeP50Ms: writes.p50Ms, writeP99Ms: writes.p99Ms, events, missingEvents, droppedShare: events === 0 ? Number.NaN : dropped / events,
    p50Ms, p99Ms, maxMs, cpu: run.cpu, sessiondGc: run.sessiondGc, otherLoad: run.otherLoad, loadAverage: run.loadAverage,
    met: atTarget ? p99Ms <= LAG_TARGET.p99Ms && writes.reachedPerSecond >= 0.99 * LAG_TARGET.writesPerSecond && missingEvents === 0 : null,
  };
}

interface WriteRun {
  ok: number;
  errors: number;
  firstError: string | undefined;
  p50Ms: number;
  p99Ms: number;
  reachedPerSecond: number;
  /** Commit times (Redis clock, epoch ms) of every acknowledged write. */
  commits: number[];
  windowStartPerf: number;
  windowEndPerf: number;
  /** The measured window on the epoch clock (for matching commit times). */
  windowFromEpoch: number;
  windowToEpoch: number;
}

/** Patches `ids` round robin, one write due every 1000/rate ms; latency counts from when a write was due. */
async function writeAtFixedRate(writer: SessionClient, ids: readonly string[], rate: number, options: InvalidationLagOptions, onWindowStart: () => void): Promise<WriteRun> {
  const recorder = new LatencyRecorder();
  const commits: number[] = [];
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  let lastAckAt = 0;
  const run = await runAtFixedRate({ rate, warmupMs: options.warmupMs, durationMs: options.durationMs, onWindowStart }, async (n, dueAt, measured) => {
    try {
      const written = await writer.patch(ids[n % ids.length]!, [{ increment: 'visits' }]);
      commits.push(written.updatedAtMs);
      if (!measured) return;
      const now = performance.now();
      ok++;
      recorder.record(now - dueAt);
      lastAckAt = Math.max(lastAckAt, now);
    } catch (error) {
      if (measured) errors++;
      firstError ??= (error as Error).message;
    }
  });
  const [p50Ms, p99Ms] = recorder.percentiles(50, 99);
  return {
    ok, errors, firstError, p50Ms: p50Ms!, p99Ms: p99Ms!, commits,
    reachedPerSecond: ok / (Math.max(options.durationMs, lastAckAt - run.measureFrom) / 1000),
    windowStartPerf: run.measureFrom, windowEndPerf: run.settledAt,
    windowFromEpoch: run.epochOffset + run.measureFrom, windowToEpoch: run.epochOffset + run.end,
  };
}

async function waitForLine(child: Child, line: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!child.stdout().split('\n').includes(line)) {
    if (!isRunning(child)) throw new Error(`${child.name} exited before printing '${line}':\n${child.tail()}`);
    if (Date.now() > deadline) throw new Error(`${child.name} did not print '${line}' within ${timeoutMs} ms:\n${child.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Asks the holder for its figures (SIGUSR2) and reads them once it has exited. */
async function collect(holder: Child, outFile: string): Promise<HolderResult> {
  holder.process.kill('SIGUSR2');
  const timeout = new Promise((resolve) => setTimeout(resolve, 60_000).unref());
  await Promise.race([holder.exited, timeout]);
  if (isRunning(holder)) throw new Error(`${holder.name} did not report within 60 s:\n${holder.tail()}`);
  return JSON.parse(readFileSync(outFile, 'utf8')) as HolderResult;
}

function report(results: readonly LagResult[], holder: HolderSummary, options: InvalidationLagOptions): string {
  const pct = (share: number) => formatShare(share);
  const table = formatTable(
    ['writes/s asked', 'writes/s reached', 'write p50 / p99 ms', 'events', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'CPU, share of a core: writer / sessiond / Redis / holder', 'sessiond GC: young pauses/s, longest ms, time stopped, promoted MB/s', 'other load', 'load average', `target (p99 ≤ ${LAG_TARGET.p99Ms} ms at ${formatRate(LAG_TARGET.writesPerSecond)}/s)`],
    results.map((r) => [formatRate(r.targetWritesPerSecond), formatRate(r.writesPerSecond), `${formatMs(r.writeP50Ms)} / ${formatMs(r.writeP99Ms)}`, String(r.events), formatMs(r.p50Ms), formatMs(r.p99Ms), formatMs(r.maxMs),
      `${pct(r.cpu.writer)} / ${pct(r.cpu.sessiond)} / ${pct(r.cpu.redis)} / ${pct(r.cpu.holder)}`, formatGc(r.sessiondGc, options.durationMs), pct(r.otherLoad), `${r.loadAverage[0].toFixed(1)} → ${r.loadAverage[1].toFixed(1)}`,
      r.met === null ? '– (reference rate)' : r.met ? 'met' : '**missed**']),
  );
  const lines = [
    table,
    '',
    `One redis-server, one sessiond; the holder (near cache on, ${options.sessions} sessions held and tracked through the Track stream) in its own process, ${options.reread === false ? 'not re-reading (each copy dropped once, its later events still handled)' : 're-reading each session after each change to keep holding it'}; ` +
      `the writer in the benchmark's process, patching the sessions round robin at a fixed rate (open loop, write latency counted from when a write was due); per row ${options.warmupMs} ms warm-up then ${options.durationMs} ms measured, rows in order on the same processes. ` +
      'Lag = commit time (Redis TIME in whole ms, carried by the Track event) → the holder\'s near cache has handled the event (`Date.now()` in its invalidation diagnostics subscriber, right after the drop), one machine clock; ' +
      'whole-ms clocks make each figure uncertain by up to 1 ms. ' +
      `Events that dropped a copy: ${results.map((r) => formatShare(r.droppedShare)).join(' / ')} ${options.reread === false ? '(without re-reads each copy is dropped once, before the measured window; later events find none to drop and are handled all the same)' : '(the rest found the re-read after the previous change still on its way)'}. ` +
      `The holder's own figure (nearCacheStats().lagMs, its last 4,096 events) read p99 ${formatMs(holder.reportedP99Ms)} ms at the end. ` +
      'sessiond runs with `--trace-gc-nvp`: its young-generation collections (scavenges) over the window, how long the longest stopped it, the share of the window it was stopped for any collection, and what its scavenges promoted to the old generation per second (against what it allocated).',
  ];
  for (const r of results) {
    if (r.missingEvents > 0) lines.push(`- ${formatRate(r.targetWritesPerSecond)}/s: ${r.missingEvents} acknowledged writes had no event at the holder when its figures were collected: counted in the percentiles at the lower bound of their lag.`);
    if (r.writeErrors > 0) lines.push(`- ${formatRate(r.targetWritesPerSecond)}/s: ${r.writeErrors} writes failed, first: ${r.firstWriteError}`);
  }
  if (holder.rereadErrors > 0 || holder.resyncs > 0) lines.push(`- holder: ${holder.rereadErrors} failed re-reads of ${holder.rereads}, ${holder.resyncs} resyncs.`);
  return lines.join('\n');
}

