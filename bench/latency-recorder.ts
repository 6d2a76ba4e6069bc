// Latency samples kept in full, so percentiles are exact (sorted samples, nearest rank), not
// estimated from buckets. 100k samples of a 5 s run take 800 KB.

/** What one measured run produced. Latencies in ms. */
export interface RunResult {
  /** Operations that succeeded. */
  ok: number;
  /** Operations that failed (counted, never timed). */
  errors: number;
  /** First error message seen, if any, for the report. */
  firstError?: string | undefined;
  durationMs: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class LatencyRecorder {
  #samples = new Float64Array(1 << 16);
  #count = 0;

  record(ms: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = ms;
  }

  get count(): number {
    return this.#count;
  }

  /** Nearest-rank percentiles (p in 0..100) over every recorded sample; NaN when there are none. */
  percentiles(...ps: number[]): number[] {
    if (this.#count === 0) return ps.map(() => Number.NaN);
    const sorted = this.#samples.slice(0, this.#count).sort();
    return ps.map((p) => sorted[Math.min(this.#count - 1, Math.max(0, Math.ceil((p / 100) * this.#count) - 1))]!);
  }
}
