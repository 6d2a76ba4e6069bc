// The affinity policy as one pure function: (route policy, pinned backend, clock, balancer) →
// decision. No I/O and no clocks of its own, so test/proxy/affinity.test.ts is a table.
//
//   mode  pinned backend                        → result
//   none  (ignored)                             → balance                       affinity=none
//   any   absent (no/invalid/foreign/expired)   → balance, pin it               affinity=new
//   soft  up, not draining, not overloaded      → pinned                        affinity=hit    routed
//   soft  down | draining | overloaded          → balance, re-pin               affinity=moved  failed_open
//   hard  up (draining: until the deadline)     → pinned                        affinity=hit    routed
//   hard  draining past the deadline            → balance, re-pin               affinity=moved  failed_open
//   hard  down, whenDown=reject                 → 503 + Retry-After             affinity=hit    failed_closed
//   hard  down, whenDown=repin, down < grace    → 503 + Retry-After (≤ grace)   affinity=hit    failed_closed
//   hard  down, whenDown=repin, down ≥ grace    → balance, re-pin               affinity=moved  failed_open
//
// When the balancer has nothing to offer, a soft or drained pin that is still up is served
// anyway (hit), and anything else is 503 PRX_ERR_NO_HEALTHY_UPSTREAM.
import type { AffinityMode } from './config-schema.ts';

/** The value of the `x-stickless-affinity` response header. */
export type AffinityResult = 'new' | 'hit' | 'moved' | 'none';
/** Envoy's stateful-session vocabulary, counted per route. */
export type PinOutcome = 'routed' | 'failed_open' | 'failed_closed';

/** What the decision reads from a backend (Upstream satisfies it). */
export interface AffinityCandidate {
  readonly id: string;
  readonly up: boolean;
  readonly draining: boolean;
  /** ms since epoch; meaningful while draining. */
  readonly drainDeadlineMs: number;
  /** ms since epoch the backend went down; meaningful while down. */
  readonly downSinceMs: number;
  readonly inFlight: number;
}

export interface AffinityPolicy {
  readonly mode: AffinityMode;
  readonly soft: { readonly overloadFactor: number; readonly overloadMinInFlight: number };
  readonly hard: { readonly whenDown: 'reject' | 'repin'; readonly retryAfterSeconds: number; readonly repinAfterMs: number };
}

export interface AffinityInput<T extends AffinityCandidate> {
  readonly policy: AffinityPolicy;
  /** The pool member the request is pinned to; undefined when it carries no valid pin for this pool. */
  readonly pinned: T | undefined;
  readonly nowMs: number;
  /** Mean in-flight count over the pool's backends that take new pins (soft overload test). */
  readonly meanInFlight: number;
  /** Picks a backend that takes new pins, never `exclude`. */
  readonly balance: (exclude?: T) => T | undefined;
}

export type AffinityDecision<T extends AffinityCandidate> =
  | {
      readonly kind: 'upstream';
      readonly upstream: T;
      readonly affinity: AffinityResult;
      /** A new pin must be issued (Set-Cookie) for `upstream`. */
      readonly repin: boolean;
      readonly outcome: PinOutcome | null;
    }
  | {
      readonly kind: 'unavailable';
      readonly code: 'PRX_ERR_NO_HEALTHY_UPSTREAM' | 'PRX_ERR_PINNED_UPSTREAM_DOWN' | 'PRX_ERR_UNKNOWN_LEARNED_PIN';
      readonly affinity: AffinityResult;
      /** The pinned backend the request was refused for. */
      readonly upstream: T | undefined;
      readonly retryAfterSeconds: number | undefined;
      readonly outcome: PinOutcome | null;
    };

export function decideAffinity<T extends AffinityCandidate>(input: AffinityInput<T>): AffinityDecision<T> {
  const { policy, pinned, nowMs } = input;
  if (policy.mode === 'none') return balanced(input.balance(), 'none', false, null);
  if (pinned === undefined) return balanced(input.balance(), 'new', true, null);

  if (policy.mode === 'soft') {
    if (pinned.up && !pinned.draining && !isOverloaded(pinned, input.meanInFlight, policy.soft)) return hit(pinned);
    const other = input.balance(pinned);
    if (other === undefined && pinned.up) return hit(pinned);
    return balanced(other, 'moved', true, 'failed_open');
  }

  // hard
  if (pinned.up) {
    if (!pinned.draining || nowMs < pinned.drainDeadlineMs) return hit(pinned);
    const other = input.balance(pinned);
    return other === undefined ? hit(pinned) : balanced(other, 'moved', true, 'failed_open');
  }
  const downForMs = nowMs - pinned.downSinceMs;
  if (policy.hard.whenDown === 'repin' && downForMs >= policy.hard.repinAfterMs) {
    return balanced(input.balance(pinned), 'moved', true, 'failed_open');
  }
  let retryAfterSeconds = policy.hard.retryAfterSeconds;
  if (policy.hard.whenDown === 'repin') retryAfterSeconds = Math.min(retryAfterSeconds, Math.ceil((policy.hard.repinAfterMs - downForMs) / 1000));
  return { kind: 'unavailable', code: 'PRX_ERR_PINNED_UPSTREAM_DOWN', affinity: 'hit', upstream: pinned, retryAfterSeconds, outcome: 'failed_closed' };
}

/** In-flight above `overloadFactor` × the pool mean, once at least `overloadMinInFlight` are in flight. */
export function isOverloaded(candidate: AffinityCandidate, meanInFlight: number, soft: AffinityPolicy['soft']): boolean {
  return candidate.inFlight >= soft.overloadMinInFlight && candidate.inFlight > soft.overloadFactor * meanInFlight;
}

function hit<T extends AffinityCandidate>(upstream: T): AffinityDecision<T> {
  return { kind: 'upstream', upstream, affinity: 'hit', repin: false, outcome: 'routed' };
}

function balanced<T extends AffinityCandidate>(upstream: T | undefined, affinity: AffinityResult, repin: boolean, outcome: PinOutcome | null): AffinityDecision<T> {
  if (upstream === undefined) {
    return { kind: 'unavailable', code: 'PRX_ERR_NO_HEALTHY_UPSTREAM', affinity: affinity === 'new' ? 'none' : affinity, upstream: undefined, retryAfterSeconds: undefined, outcome };
  }
  return { kind: 'upstream', upstream, affinity, repin, outcome };
}
