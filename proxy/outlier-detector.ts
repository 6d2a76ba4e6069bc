// Passive health: consecutive gateway failures (connect error, reset, timeout) or 5xx responses
// eject a backend for a period that doubles with each repeated ejection, capped, and decays back
// once the backend has stayed in for a whole cap period. Like the active checker it changes
// nothing itself: it reports through EjectionSetter, which the pool implements.
import type { OutlierConfig } from './config-schema.ts';
import type { Upstream } from './upstream.ts';

export interface EjectionSetter {
  /** Eject `id` until `untilMs` (ms since epoch), or lift the ejection with 0. */
  setEjected(id: string, untilMs: number): void;
  /** How many members are ejected now, and how many there are (for maxEjectedPercent). */
  ejectionStats(): { ejected: number; members: number };
}

export class OutlierDetector {
  #config: OutlierConfig;
  readonly #setter: EjectionSetter;
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(config: OutlierConfig, setter: EjectionSetter) {
    this.#config = config;
    this.#setter = setter;
  }

  /** Applies a reloaded configuration; running ejections keep their end time. */
  configure(config: OutlierConfig): void {
    this.#config = config;
  }

  /** Called once per finished attempt. Hot path: a success is one store. */
  record(upstream: Upstream, failed: boolean, nowMs = Date.now()): void {
    if (!failed) {
      upstream.consecutiveFailures = 0;
      return;
    }
    upstream.failures++;
    const threshold = this.#config.consecutiveFailures;
    if (threshold === 0 || ++upstream.consecutiveFailures < threshold || upstream.ejectedUntilMs > nowMs) return;
    const { ejected, members } = this.#setter.ejectionStats();
    if (ejected + 1 > Math.max(1, Math.floor((members * this.#config.maxEjectedPercent) / 100))) return;
    if (upstream.lastEjectionEndMs > 0 && nowMs - upstream.lastEjectionEndMs > this.#config.maxEjectionMs) upstream.ejections = 0;
    upstream.ejections++;
    upstream.consecutiveFailures = 0;
    const durationMs = Math.min(this.#config.baseEjectionMs * 2 ** (upstream.ejections - 1), this.#config.maxEjectionMs);
    upstream.lastEjectionEndMs = nowMs + durationMs;
    this.#setter.setEjected(upstream.id, nowMs + durationMs);
    clearTimeout(this.#timers.get(upstream.id));
    const timer = setTimeout(() => {
      this.#timers.delete(upstream.id);
      this.#setter.setEjected(upstream.id, 0);
    }, durationMs);
    timer.unref();
    this.#timers.set(upstream.id, timer);
  }

  /** Forget a removed backend. */
  forget(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
