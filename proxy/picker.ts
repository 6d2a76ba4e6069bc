// The balancer for requests without a usable pin: power of two choices on in-flight requests,
// optionally weighted. A Picker is an immutable snapshot over the backends that may take new
// pins (up and not draining); upstream-pool.ts builds a new one whenever membership, health or
// draining changes, and requests only read the current one. In-flight counts are live numbers on
// the Upstream objects, so the snapshot never goes stale between rebuilds.
import type { Upstream } from './upstream.ts';

/** What balancing needs from a backend (Upstream satisfies it; tests pass plain objects). */
export interface Pickable {
  readonly id: string;
  readonly weight: number;
  readonly inFlight: number;
}

export interface Picker<T extends Pickable = Upstream> {
  /** The backends this picker chooses from, in a stable order. */
  readonly candidates: readonly T[];
  /** A backend, or undefined when none is left after `exclude` (backends already tried). */
  pick(exclude?: ReadonlySet<T>): T | undefined;
}

export class PowerOfTwoChoicesPicker<T extends Pickable = Upstream> implements Picker<T> {
  readonly candidates: readonly T[];
  /** Cumulative weights, or null when all weights are equal (uniform sampling is cheaper). */
  readonly #cumulative: Float64Array | null;
  readonly #totalWeight: number;
  readonly #random: () => number;

  /** `random` is injectable so tests are deterministic. */
  constructor(candidates: readonly T[], random: () => number = Math.random) {
    this.candidates = Object.freeze([...candidates]);
    this.#random = random;
    const weighted = candidates.some((c) => c.weight !== candidates[0]!.weight);
    let total = 0;
    if (weighted) {
      this.#cumulative = new Float64Array(candidates.length);
      candidates.forEach((c, i) => {
        total += c.weight;
        this.#cumulative![i] = total;
      });
    } else {
      this.#cumulative = null;
      total = candidates.length;
    }
    this.#totalWeight = total;
  }

  pick(exclude?: ReadonlySet<T>): T | undefined {
    if (exclude !== undefined && exclude.size > 0) {
      const rest = this.candidates.filter((c) => !exclude.has(c));
      return rest.length === this.candidates.length ? this.#pick() : new PowerOfTwoChoicesPicker(rest, this.#random).#pick();
    }
    return this.#pick();
  }

  #pick(): T | undefined {
    const n = this.candidates.length;
    if (n <= 1) return this.candidates[0];
    const first = this.#sample();
    let second = this.#sample();
    if (second === first) second = (first + 1 + Math.floor(this.#random() * (n - 1))) % n;
    const a = this.candidates[first]!;
    const b = this.candidates[second]!;
    // Compare inFlight/weight without dividing: a.inFlight * b.weight vs b.inFlight * a.weight.
    return a.inFlight * b.weight <= b.inFlight * a.weight ? a : b;
  }

  #sample(): number {
    const r = this.#random() * this.#totalWeight;
    if (this.#cumulative === null) return Math.min(Math.floor(r), this.candidates.length - 1);
    let lo = 0;
    let hi = this.#cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cumulative[mid]! > r) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
