// CPU per served web request for each scenario configuration: the demo's whole local stack (proxy,
// cart-app replicas, sessiond, Redis) runs the scenario's shoppers (demo/scenario), and the CPU
// time of the pool's replicas (app + stickless client) and, for central rows, sessiond is divided by the requests
// answered. Ratios are to `hard + local` of the same run: the machine is shared, the ratios count.
// Rows run long enough for a stable p50 / p99 and CPU per request (WEB_ROW_MS); a row with fewer
// than MIN_REQUESTS answered requests is flagged.
import { loadavg } from 'node:os';
import { DEFAULT_SCENARIO_OPTIONS, runScenario } from '../demo/scenario/run-scenario.ts';
import { startLocalStack } from '../demo/stack.ts';
import { formatMs, formatTable } from './markdown-table.ts';

/** Time per configuration of `npm run bench` (six rows, plus the stack's start: about 2.5 minutes). */
export const WEB_ROW_MS = 20_000;
/** Below this many answered requests a row's p99 rests on under 10 samples: flagged in the report. */
const MIN_REQUESTS = 1000;
/** Issue 8's targets for soft + central + near cache against hard + local of the same run. */
const WEB_TARGETS = Object.freeze({ p50Ratio: 1.2, p99Ratio: 1.5, cpuRatio: 1.5, hitRatio: 0.9 });
const NEAR_CACHE_ROW = 'soft + central + near cache';

export interface WebRequestOptions {
  shoppers: number;
  durationMs: number;
  log: (line: string) => void;
  onRow?: ((row: Record<string, unknown>) => void) | undefined;
}

export async function runWebRequests(options: WebRequestOptions): Promise<string> {
  const stack = await startLocalStack({ proxyPort: 0, adminPort: 0, sessiondPort: 0, healthIntervalMs: 300, log: (line) => options.log(`  ${line}`) });
  const loadBefore = loadavg()[0]!;
  try {
    const results = await runScenario(stack, { ...DEFAULT_SCENARIO_OPTIONS, shoppers: options.shoppers, durationMs: options.durationMs }, (line) => options.log(`  ${line}`));
    const base = results.find((r) => r.configuration.name === 'hard + local');
    const ratio = (a: number, b: number | undefined) => (b === undefined || !Number.isFinite(a) || !(b > 0) ? null : a / b);
    const rows = results.map((r) => {
      const row = {
        section: 'web', configuration: r.configuration.name, requests: r.requests - r.failedRequests, cpuUsPerRequest: r.cpuUsPerRequest,
        sessiondCpuUsPerRequest: r.sessiondCpuUsPerRequest,
        cpuVsHardLocal: ratio(r.cpuUsPerRequest, base?.cpuUsPerRequest), p50Ms: r.p50Ms, p99Ms: r.p99Ms,
        p50VsHardLocal: ratio(r.p50Ms, base?.p50Ms), p99VsHardLocal: ratio(r.p99Ms, base?.p99Ms), nearCacheHitRatio: r.nearCacheHitRatio,
        cartsIntact: r.cartsIntact, shoppers: r.shoppers, itemsLost: r.itemsLost, guaranteeViolations: r.readYourWritesViolations + r.monotonicViolations,
      };
      options.onRow?.(row);
      return row;
    });
    const fmt = (x: number | null, digits = 2) => (x === null ? '–' : x.toFixed(digits));
    const near = rows.find((r) => r.configuration === NEAR_CACHE_ROW);
    const met = near && targetsMet(near);
    if (near && met) {
      options.onRow?.({
        section: 'web-targets', configuration: NEAR_CACHE_ROW, against: 'hard + local', targets: WEB_TARGETS,
        p50Ratio: near.p50VsHardLocal, p99Ratio: near.p99VsHardLocal, cpuRatio: near.cpuVsHardLocal, hitRatio: near.nearCacheHitRatio,
        cartsIntact: near.cartsIntact, shoppers: near.shoppers, guaranteeViolations: near.guaranteeViolations, met,
      });
    }
    const table = formatTable(
      ['configuration', 'requests', 'CPU µs/req (sessiond\'s part)', 'CPU vs hard + local', 'p50 ms', 'p99 ms', 'p50 / p99 vs hard + local', 'near-cache hits', 'carts intact', 'violations'],
      rows.map((r) => [r.configuration, String(r.requests), `${r.cpuUsPerRequest.toFixed(0)} (${Number.isFinite(r.sessiondCpuUsPerRequest) ? r.sessiondCpuUsPerRequest.toFixed(0) : '–'})`, fmt(r.cpuVsHardLocal), formatMs(r.p50Ms), formatMs(r.p99Ms),
        `${fmt(r.p50VsHardLocal)} / ${fmt(r.p99VsHardLocal)}`, r.nearCacheHitRatio === null ? '–' : `${(r.nearCacheHitRatio * 100).toFixed(1)}%`, `${r.cartsIntact}/${r.shoppers}`, String(r.guaranteeViolations)]),
    );
    const thin = rows.filter((r) => r.requests < MIN_REQUESTS);
    return [
      table,
      '',
      ...(near && met ? [describeTargets(near, met), ''] : []),
      ...(thin.length > 0 ? [`- Too few requests for a stable p99 (under ${MIN_REQUESTS}): ${thin.map((r) => `${r.configuration} (${r.requests})`).join(', ')}; rerun with a longer \`--duration-ms\` or more \`--shoppers\`.`, ''] : []),
      `The scenario's traffic (${options.shoppers} shoppers, ${options.durationMs} ms per configuration, a replica killed at 1/3 and restarted at 2/3) through the demo's proxy; ` +
        'CPU = the pool\'s cart-app replicas (app + stickless client), + sessiond in the central rows (local and token setups run without it), from /proc, over the requests answered (the proxy and Redis are not counted). ' +
        `Load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (2 cores shared with other work): compare the ratios, not the absolute figures. ` +
        'soft + central and none + central run without the near cache (NEAR_CACHE=off), soft + central + near cache with it. ' +
        'The killed replica\'s restart counts in its row: the new process\'s CPU from its start (module loading included) is added to the row\'s CPU.',
    ].join('\n');
  } finally {
    await stack.stop();
  }
}

interface JudgedRow {
  p50VsHardLocal: number | null;
  p99VsHardLocal: number | null;
  cpuVsHardLocal: number | null;
  nearCacheHitRatio: number | null;
  cartsIntact: number;
  shoppers: number;
  guaranteeViolations: number;
}

interface TargetsMet {
  p50: boolean;
  p99: boolean;
  cpu: boolean;
  hits: boolean;
  cartsAndGuarantees: boolean;
}

/** Issue 8's targets judged on one run's near-cache row: met per target (false when its figure is missing). */
function targetsMet(row: JudgedRow): TargetsMet {
  const atMost = (x: number | null, bound: number) => x !== null && x <= bound;
  return {
    p50: atMost(row.p50VsHardLocal, WEB_TARGETS.p50Ratio),
    p99: atMost(row.p99VsHardLocal, WEB_TARGETS.p99Ratio),
    cpu: atMost(row.cpuVsHardLocal, WEB_TARGETS.cpuRatio),
    hits: row.nearCacheHitRatio !== null && row.nearCacheHitRatio >= WEB_TARGETS.hitRatio,
    cartsAndGuarantees: row.cartsIntact === row.shoppers && row.guaranteeViolations === 0,
  };
}

function describeTargets(row: JudgedRow, met: TargetsMet): string {
  const ratio = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)}×`);
  const mark = (ok: boolean) => (ok ? 'met' : 'missed');
  return `Issue 8's targets in this run (${NEAR_CACHE_ROW} against hard + local): ` +
    `p50 ${ratio(row.p50VsHardLocal)} (≤ ${WEB_TARGETS.p50Ratio}×: ${mark(met.p50)}), ` +
    `p99 ${ratio(row.p99VsHardLocal)} (≤ ${WEB_TARGETS.p99Ratio}×: ${mark(met.p99)}), ` +
    `CPU per request ${ratio(row.cpuVsHardLocal)} (≤ ${WEB_TARGETS.cpuRatio}×: ${mark(met.cpu)}), ` +
    `near-cache hits ${row.nearCacheHitRatio === null ? '–' : `${(row.nearCacheHitRatio * 100).toFixed(1)}%`} (≥ ${WEB_TARGETS.hitRatio * 100}%: ${mark(met.hits)}), ` +
    `carts intact ${row.cartsIntact}/${row.shoppers} and ${row.guaranteeViolations} guarantee violations (${mark(met.cartsAndGuarantees)}).`;
}
