// Retry as a wrapper around one call, not a feature of the client class: the client decides what is
// retryable, this decides when to try again.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RetryOptions } from './options.ts';

export interface RetryPolicy extends RetryOptions {
  /** Epoch ms after which no new attempt starts (the logical call's deadline). */
  deadline: number;
  /** Aborting stops the backoff and rethrows the last error (the client was destroyed). */
  signal?: AbortSignal | undefined;
  /** Told before each backoff. */
  onRetry?: ((attempt: number, error: unknown, delayMs: number) => void) | undefined;
}

/**
 * Runs `call` until it succeeds, fails with an error `isRetryable` rejects, runs out of attempts, or
 * the next backoff would end past the deadline. Rejects with the last error.
 */
export async function withRetry<T>(
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  isRetryable: (error: unknown) => boolean,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (error) {
      if (attempt >= policy.maxAttempts || !isRetryable(error)) throw error;
      const delayMs = backoffMs(attempt, policy);
      // An attempt that could not start before the deadline would only turn this error into a
      // less informative DEADLINE_EXCEEDED.
      if (Date.now() + delayMs >= policy.deadline || policy.signal?.aborted) throw error;
      policy.onRetry?.(attempt, error, delayMs);
      try {
        await sleep(delayMs, undefined, { signal: policy.signal });
      } catch {
        throw error;
      }
    }
  }
}

/** Exponential backoff after `attempt` failures, jittered uniformly within [half, all]. */
export function backoffMs(attempt: number, options: Pick<RetryOptions, 'initialBackoffMs' | 'maxBackoffMs'>): number {
  const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
