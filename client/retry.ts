// Retry as a wrapper around one call, not a feature of the client class: `isRetryable` says what may
// be tried again (the client's policy is `shouldRetry` below), this decides when.
import { setTimeout as sleep } from 'node:timers/promises';
import { SessionError, type SessionErrorCode } from '../proto/errors.ts';
import type { RetryOptions } from './options.ts';

/** Failures after which nothing was applied: every call is retried, keyless mutations included. */
export const NOT_APPLIED_CODES: ReadonlySet<SessionErrorCode> = new Set([
  'SESS_ERR_SERVICE_UNAVAILABLE', 'SESS_ERR_STORE_UNAVAILABLE', 'SESS_ERR_NOT_ENOUGH_REPLICAS',
]);

/**
 * Failures after which a mutation may have been applied: retried only when repeating the call is
 * safe (reads, touch, delete, revokeByOwner, and mutations with an idempotency key, whose retry
 * either replays the first outcome or applies once).
 */
export const MAYBE_APPLIED_CODES: ReadonlySet<SessionErrorCode> = new Set(['SESS_ERR_OUTCOME_UNKNOWN', 'SESS_ERR_REPLICA_ACK_TIMEOUT']);

/** The client's retry policy: `safe` is true for calls that may be repeated (see MAYBE_APPLIED_CODES). */
export function shouldRetry(error: unknown, safe: boolean): boolean {
  if (!(error instanceof SessionError)) return false;
  return NOT_APPLIED_CODES.has(error.code) || (safe && MAYBE_APPLIED_CODES.has(error.code));
}

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
