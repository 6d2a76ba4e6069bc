// A closed-loop load driver: `concurrency` workers each await one operation at a time, for a fixed
// duration. Closed loop means latency feeds back into throughput (a slow server gets fewer requests),
// which is what an app's request handlers do; it also means p99 hides queueing a fixed-rate load
// would show (coordinated omission). The reports say so.
import { performance } from 'node:perf_hooks';
import { LatencyRecorder, type RunResult } from './latency-recorder.ts';

export interface ClosedLoopOptions {
  /** Operations in flight at any time. */
  concurrency: number;
  /** Measured time, in ms. */
  durationMs: number;
  /** Unmeasured time before it, in ms (JIT, connection pools, Redis script cache). */
  warmupMs: number;
  /** Called when the measured window opens and closes (to read CPU counters of the servers). */
  onWindowStart?: (() => void) | undefined;
  onWindowEnd?: (() => void) | undefined;
}

/**
 * Runs `op` (given a per-worker counter, for picking keys) in a closed loop and returns throughput
 * and exact latency percentiles of the measured window. Operations that throw are counted as errors.
 */
export async function runClosedLoop(op: (worker: number, n: number) => Promise<unknown>, options: ClosedLoopOptions): Promise<RunResult> {
  const recorder = new LatencyRecorder();
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const measureFrom = started + options.warmupMs;
  const stopAt = measureFrom + options.durationMs;
  let windowState: 'before' | 'open' | 'closed' = 'before';
  const openWindow = (): void => {
    if (windowState !== 'before') return;
    windowState = 'open';
    options.onWindowStart?.();
  };
  const closeWindow = (): void => {
    openWindow();
    if (windowState !== 'open') return;
    windowState = 'closed';
    options.onWindowEnd?.();
  };
  // A timer opens and closes the window while the workers wait on I/O. Operations that never leave
  // the microtask queue (near-cache hits) keep timers from firing until the loop ends, so the workers
  // open and close it too, whichever comes first. A timer can fire up to a millisecond early against
  // performance.now() (libuv's clock is in whole ms): then it waits for the rest.
  let timer: NodeJS.Timeout | undefined;
  const at = (when: number, action: () => void): void => {
    const wait = when - performance.now();
    if (wait > 0) timer = setTimeout(() => at(when, action), Math.ceil(wait));
    else action();
  };
  at(measureFrom, () => {
    openWindow();
    at(stopAt, closeWindow);
  });
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; ; n++) {
      const t0 = performance.now();
      if (t0 >= stopAt) return closeWindow();
      if (t0 >= measureFrom) openWindow();
      try {
        await op(w, n);
        const t1 = performance.now();
        // Only operations that started and ended inside the window count, so ops/s is not inflated
        // by work that began during warm-up.
        if (t0 >= measureFrom && t1 <= stopAt) recorder.record(t1 - t0);
      } catch (error) {
        if (t0 >= measureFrom) errors++;
        firstError ??= error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
  } finally {
    clearTimeout(timer);
    closeWindow();
  }
  const [p50Ms, p99Ms, maxMs] = recorder.percentiles(50, 99, 100);
  return {
    ok: recorder.count,
    errors,
    firstError,
    durationMs: options.durationMs,
    opsPerSecond: (recorder.count / options.durationMs) * 1000,
    p50Ms: p50Ms!,
    p99Ms: p99Ms!,
    maxMs: maxMs!,
  };
}
