// An open-loop schedule in this process: operation n is due at start + n * 1000/rate ms whether or
// not earlier ones have answered, for a warm-up and then a measured window. Every operation due by
// now goes out, then the event loop runs (replies) until the next one is due: a loop that sleeps
// only when more than 1 ms ahead starves the replies when sending takes about as long as the
// interval, and one that spins to the due time burns the core. Timers fire whole ms late at most;
// callers count latency from when an operation was due, so a late send shows in their percentiles.
import { performance } from 'node:perf_hooks';

export interface FixedRateSchedule {
  rate: number;
  warmupMs: number;
  durationMs: number;
  /** Called once, right before the first operation due in the measured window goes out. */
  onWindowStart?: (() => void) | undefined;
}

export interface ScheduleRun {
  /** performance.now() at the window's start, at its planned end, and when the last operation settled. */
  measureFrom: number;
  end: number;
  settledAt: number;
  /** Epoch ms minus performance.now(), read at the start. */
  epochOffset: number;
}

/** Runs `send(n, dueAt, measured)` on the schedule; resolves once every operation has settled. */
export async function runAtFixedRate(schedule: FixedRateSchedule, send: (n: number, dueAt: number, measured: boolean) => Promise<void>): Promise<ScheduleRun> {
  const intervalMs = 1000 / schedule.rate;
  const epochOffset = Date.now() - performance.now();
  const start = performance.now();
  const measureFrom = start + schedule.warmupMs;
  const end = measureFrom + schedule.durationMs;
  let windowOpen = false;
  const pending = new Set<Promise<void>>();
  for (let n = 0; ;) {
    const now = performance.now();
    for (let dueAt = start + n * intervalMs; dueAt <= now && dueAt < end; dueAt = start + ++n * intervalMs) {
      const measured = dueAt >= measureFrom;
      if (measured && !windowOpen) {
        windowOpen = true;
        schedule.onWindowStart?.();
      }
      const p = send(n, dueAt, measured);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    const next = start + n * intervalMs;
    if (next >= end) break;
    const wait = next - performance.now();
    await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, Math.max(1, wait)) : setImmediate(resolve)));
  }
  await Promise.all(pending);
  return { measureFrom, end, settledAt: performance.now(), epochOffset };
}
