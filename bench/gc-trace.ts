// V8's garbage collections in a child process, read from its `--trace-gc-nvp` lines (one per
// collection, on stdout) over a measured window. What the lag benchmark reports for sessiond and for
// its transport peers: how often the young generation is collected, how long the process stops each
// time, and how much of what it allocates lives long enough to be promoted to the old generation.
import type { Child } from './child-processes.ts';
import { formatMs, formatShare } from './markdown-table.ts';

/** The node flag that makes a process print one name=value line per collection. */
export const GC_TRACE_FLAG = '--trace-gc-nvp';

export interface GcFigures {
  /** Young-generation collections (scavenges, or minor mark-sweeps) in the window. */
  youngCollections: number;
  /** Their pauses: longest and summed, ms. */
  youngPauseMaxMs: number;
  youngPauseTotalMs: number;
  /** Full (mark-compact) collections and their summed final pauses, ms. */
  fullCollections: number;
  fullPauseTotalMs: number;
  /** Share of the window the process was stopped for any collection. */
  pausedShare: number;
  /** Bytes allocated and bytes promoted to the old generation by young collections, per second of the window. */
  allocatedBytesPerSecond: number;
  promotedBytesPerSecond: number;
}

const YOUNG = new Set(['s', 'mmc']);

/** Sums the collections of `trace` (the lines a process printed with GC_TRACE_FLAG) over `windowMs`. */
export function gcFigures(trace: string, windowMs: number): GcFigures {
  const figures: GcFigures = {
    youngCollections: 0, youngPauseMaxMs: 0, youngPauseTotalMs: 0, fullCollections: 0, fullPauseTotalMs: 0,
    pausedShare: 0, allocatedBytesPerSecond: 0, promotedBytesPerSecond: 0,
  };
  let allocated = 0;
  let promoted = 0;
  for (const line of trace.split('\n')) {
    const kind = /\bgc=(\w+)/.exec(line)?.[1];
    if (kind === undefined) continue;
    const pause = field(line, 'pause');
    allocated += field(line, 'allocated');
    if (YOUNG.has(kind)) {
      figures.youngCollections++;
      figures.youngPauseTotalMs += pause;
      figures.youngPauseMaxMs = Math.max(figures.youngPauseMaxMs, pause);
      promoted += field(line, 'promoted');
    } else {
      figures.fullCollections++;
      figures.fullPauseTotalMs += pause;
    }
  }
  const seconds = windowMs / 1000;
  figures.pausedShare = (figures.youngPauseTotalMs + figures.fullPauseTotalMs) / windowMs;
  figures.allocatedBytesPerSecond = allocated / seconds;
  figures.promotedBytesPerSecond = promoted / seconds;
  return figures;
}

/** Collects a child's trace lines from start() to stop() and sums their collections. */
export class GcWindow {
  readonly #child: Child;
  #trace = '';
  #startedAt = 0;
  #unsubscribe: (() => void) | undefined;

  constructor(child: Child) {
    this.#child = child;
  }

  start(): void {
    this.#trace = '';
    this.#startedAt = performance.now();
    this.#unsubscribe = this.#child.onStdout((text) => void (this.#trace += text));
  }

  stop(): GcFigures {
    this.#unsubscribe?.();
    return gcFigures(this.#trace, performance.now() - this.#startedAt);
  }
}

function field(line: string, name: string): number {
  const value = new RegExp(`\\b${name}=([0-9.]+)`).exec(line)?.[1];
  return value === undefined ? 0 : Number(value);
}

/** "1.0 / 35 ms / 3.1% / 7.4 (of 46)": young collections per second, the longest pause, time stopped, promoted of allocated MB/s. */
export function formatGc(gc: GcFigures, windowMs: number): string {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  const perSecond = (gc.youngCollections / (windowMs / 1000)).toFixed(1);
  return `${perSecond} / ${formatMs(gc.youngPauseMaxMs)} ms / ${formatShare(gc.pausedShare)} / ${mb(gc.promotedBytesPerSecond)} (of ${mb(gc.allocatedBytesPerSecond)})`;
}
