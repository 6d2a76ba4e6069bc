// Open-loop HTTP load at a fixed rate, run as its own process:
// `node bench/http-load-fixed-rate.ts '<FixedRateOptions as JSON>'`. A request is due every
// 1000/rate ms whether or not earlier ones have answered, and its latency counts from when it was
// due, not from when it was sent, so a stall shows up in the percentiles (no coordinated omission).
// Prints one JSON line (a RunResult).
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { LatencyRecorder } from './latency-recorder.ts';

export interface FixedRateOptions {
  url: string;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  warmupMs: number;
  /** Keep-alive connections available (enough that none waits for another at the rate). */
  connections: number;
}

const TIMEOUT_MS = 2000;
const options = JSON.parse(process.argv[2] ?? '{}') as FixedRateOptions;
const url = new URL(options.url);
const pool = new Pool(url.origin, { connections: options.connections, pipelining: 1, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
const path = `${url.pathname}${url.search}`;
const recorder = new LatencyRecorder();
const intervalMs = 1000 / options.rate;
const start = performance.now();
const measureFrom = start + options.warmupMs;
const end = measureFrom + options.durationMs;
let ok = 0;
let errors = 0;
let firstError: string | undefined;
const pending = new Set<Promise<void>>();

async function one(dueAt: number): Promise<void> {
  try {
    const response = await pool.request({ path, method: 'GET' });
    await response.body.dump();
    if (response.statusCode >= 400) throw new Error(`HTTP ${response.statusCode}`);
    if (dueAt >= measureFrom) {
      ok++;
      recorder.record(performance.now() - dueAt);
    }
  } catch (error) {
    if (dueAt >= measureFrom) errors++;
    firstError ??= (error as Error).message;
  }
}

for (let n = 0; ; n++) {
  const dueAt = start + n * intervalMs;
  if (dueAt >= end) break;
  const wait = dueAt - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  const p = one(dueAt);
  pending.add(p);
  void p.finally(() => pending.delete(p));
}
await Promise.all(pending);
await pool.destroy();
const [p50Ms, p99Ms, maxMs] = recorder.percentiles(50, 99, 100);
process.stdout.write(`${JSON.stringify({ ok, errors, firstError, durationMs: options.durationMs, opsPerSecond: (ok + errors) / (options.durationMs / 1000), p50Ms, p99Ms, maxMs })}\n`);
