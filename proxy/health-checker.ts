// Active HTTP health checks for one pool. The checker knows nothing about balancing: it reports
// verdicts through a one-method StatusSetter, and only when rise/fall thresholds are crossed.
import type { SecureContext } from 'node:tls';
import { Agent } from 'undici';
import type { HealthConfig } from './config-schema.ts';

/** The one thing health checking may do to a pool. */
export interface StatusSetter {
  setStatus(id: string, up: boolean): void;
}

/** A backend to probe. */
export interface HealthTarget {
  readonly id: string;
  /** Origin, e.g. `http://10.0.0.5:3000`. */
  readonly url: string;
}

interface Counter {
  passes: number;
  fails: number;
  /** The last verdict reported, undefined before the first threshold crossing. */
  reported: boolean | undefined;
  probing: boolean;
}

export class HealthChecker {
  readonly #config: HealthConfig;
  readonly #setter: StatusSetter;
  readonly #targets: () => Iterable<HealthTarget>;
  readonly #agent: Agent;
  readonly #counters = new Map<string, Counter>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * `targets` is read on every round, so added and removed backends are picked up. `secureContext`:
   * the pool's TLS context for https backends (its CA, its client certificate), as forwarding uses it.
   */
  constructor(config: HealthConfig, setter: StatusSetter, targets: () => Iterable<HealthTarget>, secureContext?: SecureContext) {
    this.#config = config;
    this.#setter = setter;
    this.#targets = targets;
    this.#agent = new Agent({ connections: 1, keepAliveTimeout: Math.max(config.intervalMs * 2, 1_000), connect: { timeout: config.timeoutMs, ...(secureContext === undefined ? {} : { secureContext }) } });
  }

  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#round();
    this.#timer = setInterval(() => this.#round(), this.#config.intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#agent.destroy();
  }

  #round(): void {
    const seen = new Set<string>();
    for (const target of this.#targets()) {
      seen.add(target.id);
      let counter = this.#counters.get(target.id);
      if (counter === undefined) {
        counter = { passes: 0, fails: 0, reported: undefined, probing: false };
        this.#counters.set(target.id, counter);
      }
      if (!counter.probing) void this.#probe(target, counter);
    }
    for (const id of this.#counters.keys()) if (!seen.has(id)) this.#counters.delete(id);
  }

  async #probe(target: HealthTarget, counter: Counter): Promise<void> {
    counter.probing = true;
    const { path, timeoutMs } = this.#config;
    let pass = false;
    try {
      const { statusCode, body } = await this.#agent.request({
        origin: target.url,
        path,
        method: 'GET',
        headers: { 'user-agent': 'stickless-health-check' },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await body.dump();
      pass = statusCode >= 200 && statusCode < 400;
    } catch {
      pass = false;
    } finally {
      counter.probing = false;
    }
    if (this.#closed || this.#counters.get(target.id) !== counter) return;
    if (pass) {
      counter.passes++;
      counter.fails = 0;
      if (counter.reported !== true && counter.passes >= this.#config.rise) {
        counter.reported = true;
        this.#setter.setStatus(target.id, true);
      }
    } else {
      counter.fails++;
      counter.passes = 0;
      if (counter.reported !== false && counter.fails >= this.#config.fall) {
        counter.reported = false;
        this.#setter.setStatus(target.id, false);
      }
    }
  }
}
