// Table tests of the pure affinity decision: every mode × pinned backend state.
import test from 'ava';
import { decideAffinity, type AffinityCandidate, type AffinityPolicy, type AffinityResult, type PinOutcome } from '../../proxy/affinity.ts';
import type { AffinityMode } from '../../proxy/config-schema.ts';

const NOW = 1_000_000;
type C = AffinityCandidate & { id: string };
const up = (id: string, extra: Partial<C> = {}): C => ({ id, up: true, draining: false, drainDeadlineMs: 0, downSinceMs: 0, inFlight: 0, ...extra });
const policy = (mode: AffinityMode, hard: Partial<AffinityPolicy['hard']> = {}): AffinityPolicy => ({
  mode,
  soft: { overloadFactor: 2, overloadMinInFlight: 4 },
  hard: { whenDown: 'reject', retryAfterSeconds: 7, repinAfterMs: 10_000, ...hard },
});

const other = up('other');
const pinnedStates: Record<string, C | undefined> = {
  absent: undefined,
  up: up('pinned'),
  down: up('pinned', { up: false, downSinceMs: NOW - 1_000 }),
  'down past grace': up('pinned', { up: false, downSinceMs: NOW - 20_000 }),
  draining: up('pinned', { draining: true, drainDeadlineMs: NOW + 5_000 }),
  'drained (deadline passed)': up('pinned', { draining: true, drainDeadlineMs: NOW - 1 }),
  overloaded: up('pinned', { inFlight: 10 }),
};

// mode → state → [backend id or error code, affinity, outcome]
const expected: Record<AffinityMode, Record<string, [string, AffinityResult, PinOutcome | null]>> = {
  none: {
    absent: ['other', 'none', null],
    up: ['other', 'none', null],
    down: ['other', 'none', null],
    'down past grace': ['other', 'none', null],
    draining: ['other', 'none', null],
    'drained (deadline passed)': ['other', 'none', null],
    overloaded: ['other', 'none', null],
  },
  soft: {
    absent: ['other', 'new', null],
    up: ['pinned', 'hit', 'routed'],
    down: ['other', 'moved', 'failed_open'],
    'down past grace': ['other', 'moved', 'failed_open'],
    draining: ['other', 'moved', 'failed_open'],
    'drained (deadline passed)': ['other', 'moved', 'failed_open'],
    overloaded: ['other', 'moved', 'failed_open'],
  },
  hard: {
    absent: ['other', 'new', null],
    up: ['pinned', 'hit', 'routed'],
    down: ['PRX_ERR_PINNED_UPSTREAM_DOWN', 'hit', 'failed_closed'],
    'down past grace': ['PRX_ERR_PINNED_UPSTREAM_DOWN', 'hit', 'failed_closed'],
    draining: ['pinned', 'hit', 'routed'],
    'drained (deadline passed)': ['other', 'moved', 'failed_open'],
    overloaded: ['pinned', 'hit', 'routed'],
  },
};

for (const mode of ['none', 'soft', 'hard'] as const) {
  for (const [state, pinned] of Object.entries(pinnedStates)) {
    test(`${mode} affinity with pinned backend ${state}`, (t) => {
      const decision = decideAffinity({ policy: policy(mode), pinned, nowMs: NOW, meanInFlight: 1, balance: (exclude) => (exclude === other ? undefined : other) });
      const [target, affinity, outcome] = expected[mode][state]!;
      t.is(decision.kind === 'upstream' ? decision.upstream.id : decision.code, target);
      t.is(decision.affinity, affinity);
      t.is(decision.outcome, outcome);
      if (decision.kind === 'upstream') t.is(decision.repin, affinity === 'new' || affinity === 'moved');
      if (decision.kind === 'unavailable') t.is(decision.retryAfterSeconds, 7);
    });
  }
}

test('hard affinity with whenDown=repin answers 503 within the grace period, then re-pins', (t) => {
  const repin = policy('hard', { whenDown: 'repin', repinAfterMs: 10_000, retryAfterSeconds: 30 });
  const balance = () => other;
  const early = decideAffinity({ policy: repin, pinned: up('pinned', { up: false, downSinceMs: NOW - 4_000 }), nowMs: NOW, meanInFlight: 0, balance });
  t.is(early.kind, 'unavailable');
  t.is(early.kind === 'unavailable' ? early.retryAfterSeconds : -1, 6, 'Retry-After is capped by the remaining grace');
  const late = decideAffinity({ policy: repin, pinned: up('pinned', { up: false, downSinceMs: NOW - 10_000 }), nowMs: NOW, meanInFlight: 0, balance });
  t.like(late, { kind: 'upstream', affinity: 'moved', outcome: 'failed_open', repin: true });
});

test('soft affinity keeps a draining or overloaded pin when nothing else can take it', (t) => {
  for (const pinned of [pinnedStates['draining']!, pinnedStates['overloaded']!]) {
    const decision = decideAffinity({ policy: policy('soft'), pinned, nowMs: NOW, meanInFlight: 1, balance: () => undefined });
    t.like(decision, { kind: 'upstream', affinity: 'hit' });
  }
  const down = decideAffinity({ policy: policy('soft'), pinned: pinnedStates['down'], nowMs: NOW, meanInFlight: 1, balance: () => undefined });
  t.like(down, { kind: 'unavailable', code: 'PRX_ERR_NO_HEALTHY_UPSTREAM' });
});

test('soft overload needs both the minimum in-flight and the multiple of the mean', (t) => {
  const decide = (inFlight: number, mean: number) => decideAffinity({ policy: policy('soft'), pinned: up('pinned', { inFlight }), nowMs: NOW, meanInFlight: mean, balance: () => other }).affinity;
  t.is(decide(3, 0.5), 'hit', 'below overloadMinInFlight');
  t.is(decide(5, 3), 'hit', 'below overloadFactor × mean');
  t.is(decide(7, 3), 'moved');
});

test('no backend at all answers PRX_ERR_NO_HEALTHY_UPSTREAM', (t) => {
  for (const mode of ['none', 'soft', 'hard'] as const) {
    const decision = decideAffinity({ policy: policy(mode), pinned: undefined, nowMs: NOW, meanInFlight: 0, balance: () => undefined });
    t.like(decision, { kind: 'unavailable', code: 'PRX_ERR_NO_HEALTHY_UPSTREAM' });
  }
});
