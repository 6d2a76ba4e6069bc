// CPU per served web request for each scenario configuration: the demo's whole local stack (proxy,
// cart-app replicas, sessiond, Redis) runs the scenario's shoppers (demo/scenario), and the CPU
// time of the pool's replicas (app + stickless client) and sessiond is divided by the requests
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
    const table = formatTable(
      ['configuration', 'requests', 'CPU µs/req (sessiond\'s part)', 'CPU vs hard + local', 'p50 ms', 'p99 ms', 'p50 / p99 vs hard + local', 'near-cache hits', 'carts intact', 'violations'],
      rows.map((r) => [r.configuration, String(r.requests), `${r.cpuUsPerRequest.toFixed(0)} (${Number.isFinite(r.sessiondCpuUsPerRequest) ? r.sessiondCpuUsPerRequest.toFixed(0) : '–'})`, fmt(r.cpuVsHardLocal), formatMs(r.p50Ms), formatMs(r.p99Ms),
        `${fmt(r.p50VsHardLocal)} / ${fmt(r.p99VsHardLocal)}`, r.nearCacheHitRatio === null ? '–' : `${(r.nearCacheHitRatio * 100).toFixed(1)}%`, `${r.cartsIntact}/${r.shoppers}`, String(r.guaranteeViolations)]),
    );
    const thin = rows.filter((r) => r.requests < MIN_REQUESTS);
    return [
      table,
      '',
      ...(thin.length > 0 ? [`- Too few requests for a stable p99 (under ${MIN_REQUESTS}): ${thin.map((r) => `${r.configuration} (${r.requests})`).join(', ')}; rerun with a longer \`--duration-ms\` or more \`--shoppers\`.`, ''] : []),
      `The scenario's traffic (${options.shoppers} shoppers, ${options.durationMs} ms per configuration, a replica killed at 1/3 and restarted at 2/3) through the demo's proxy; ` +
        'CPU = the pool\'s cart-app replicas (app + stickless client) + sessiond, from /proc, over the requests answered (the proxy and Redis are not counted). ' +
        `Load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (2 cores shared with other work): compare the ratios, not the absolute figures. ` +
        'soft + central and none + central run without the near cache (NEAR_CACHE=off), soft + central + near cache with it. ' +
        'The killed replica\'s restart counts in its row: the new process\'s CPU from its start (module loading included) is added to the row\'s CPU.',
    ].join('\n');
  } finally {
    await stack.stop();
  }
}
