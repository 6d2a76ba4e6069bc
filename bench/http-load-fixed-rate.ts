// Open-loop HTTP load at a fixed rate, run as its own process:
// `node bench/http-load-fixed-rate.ts '<FixedRateOptions as JSON>'`. A request is due every
// 1000/rate ms per target whether or not earlier ones have answered, and its latency counts from
// when it was due, not from when it was sent, so a stall shows up in the percentiles (no
// coordinated omission). Requests are never sent before they are due; a timer that fires late
// sends every request that has come due at once.
//
// Several targets are driven at once, their requests interleaved (target A, then B half an
// interval later, ...): a stall of this process or of the machine then hits every target alike,
// so the difference between two targets' percentiles is what the paths themselves add, even on a
// machine shared with other work. Prints one JSON line: a RunResult per target, in order.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { LatencyRecorder, type RunResult } from './latency-recorder.ts';

export interface FixedRateOptions {
  /** Every target gets `rate` requests per second. */
  urls: string[];
  /** Requests per second, per target. */
  rate: number;
  durationMs: number;
  warmupMs: number;
  /** Keep-alive connections per target (enough that none waits for another at the rate). */
  connections: number;
}

const TIMEOUT_MS = 2000;

interface Target {
  pool: Pool;
  path: string;
  recorder: LatencyRecorder;
  ok: number;
  errors: number;
  firstError: string | undefined;
}

const options = JSON.parse(process.argv[2] ?? '{}') as FixedRateOptions;
const targets: Target[] = options.urls.map((raw) => {
  const url = new URL(raw);
  return {
    pool: new Pool(url.origin, { connections: options.connections, pipelining: 1, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS }),
    path: `${url.pathname}${url.search}`,
    recorder: new LatencyRecorder(),
    ok: 0,
    errors: 0,
    firstError: undefined,
  };
});
// One schedule for all targets: request n goes to target n % k, due at start + n * step.
const stepMs = 1000 / (options.rate * targets.length);
const start = performance.now();
const measureFrom = start + options.warmupMs;
const end = measureFrom + options.durationMs;
const pending = new Set<Promise<void>>();

async function one(target: Target, dueAt: number): Promise<void> {
  const measured = dueAt >= measureFrom;
  try {
    const response = await target.pool.request({ path: target.path, method: 'GET' });
    await response.body.dump();
    if (response.statusCode >= 400) throw new Error(`HTTP ${response.statusCode}`);
    if (measured) {
      target.ok++;
      target.recorder.record(performance.now() - dueAt);
    }
  } catch (error) {
    if (measured) target.errors++;
    target.firstError ??= (error as Error).message;
  }
}

let n = 0;
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const now = performance.now();
    for (let dueAt = start + n * stepMs; dueAt <= now && dueAt < end; dueAt = start + ++n * stepMs) {
      const p = one(targets[n % targets.length]!, dueAt);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    const next = start + n * stepMs;
    if (next >= end) return resolve();
    setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
});
await Promise.all(pending);
await Promise.all(targets.map((t) => t.pool.destroy()));
const results: RunResult[] = targets.map((t) => {
  const [p50Ms, p99Ms, maxMs] = t.recorder.percentiles(50, 99, 100);
  return { ok: t.ok, errors: t.errors, firstError: t.firstError, durationMs: options.durationMs, opsPerSecond: (t.ok + t.errors) / (options.durationMs / 1000), p50Ms: p50Ms!, p99Ms: p99Ms!, maxMs: maxMs! };
});
process.stdout.write(`${JSON.stringify(results)}\n`);
