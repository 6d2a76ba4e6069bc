// The closed-loop driver's measured window (bench/closed-loop.ts): the CPU counters of every
// session-operations row are read when it opens and closes, so it has to span the measured
// operations, also when they never wait on I/O (near-cache hits). Serial: a loop of microtasks holds
// the whole event loop, so another test's loop would run nothing meanwhile.
import test from 'ava';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { runClosedLoop } from '../../bench/closed-loop.ts';

const CONCURRENCY = 4;

/** Runs `op` and counts the operations that finished between the window's opening and closing. */
async function insideWindow(op: () => Promise<unknown>): Promise<{ ok: number; inside: number; opened: boolean; closed: boolean }> {
  let finished = 0;
  let atOpen: number | undefined;
  let atClose: number | undefined;
  const result = await runClosedLoop(async () => {
    await op();
    finished++;
  }, {
    concurrency: CONCURRENCY, warmupMs: 50, durationMs: 200,
    onWindowStart: () => void (atOpen = finished),
    onWindowEnd: () => void (atClose = finished),
  });
  return { ok: result.ok, inside: (atClose ?? 0) - (atOpen ?? 0), opened: atOpen !== undefined, closed: atClose !== undefined };
}

/** Every measured operation finished inside the window; besides them, at most one per worker at each end. */
const spansTheMeasuredOperations = test.macro(async (t, op: () => Promise<unknown>) => {
  const run = await insideWindow(op);
  t.true(run.opened && run.closed);
  t.true(run.ok > 0, 'operations were measured');
  t.true(run.inside >= run.ok, `${run.inside} operations inside the window, ${run.ok} measured`);
  t.true(run.inside <= run.ok + 2 * CONCURRENCY, `${run.inside} operations inside the window, ${run.ok} measured`);
});

test.serial('operations that only use microtasks (near-cache hits) are inside the measured window', spansTheMeasuredOperations, () => Promise.resolve());
test.serial('operations that wait on the event loop are inside the measured window', spansTheMeasuredOperations, () => yieldToLoop());
