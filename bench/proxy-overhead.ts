// Section 2: proxy overhead. The same backends and the same load (one wrk thread, N keep-alive
// connections, a fixed duration) straight to a backend, through the stickless proxy (affinity none,
// soft with cookie insertion, soft with a pinned cookie) and through HAProxy doing the same jobs.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort, type ChildProcesses } from './child-processes.ts';
import { runHttpLoad, type HttpLoadGenerator, type HttpLoadOptions } from './http-load.ts';
import type { RunResult } from './latency-recorder.ts';
import { formatCpuUs, formatMs, formatRate, formatRatio, formatShare, formatTable } from './markdown-table.ts';
import { ForeignLoadMeter, processCpuMs, processTree, reapedChildrenCpuMs } from './process-cpu.ts';
import { measurePaired, type PairedResult, type PairedSample } from './proxy-paired.ts';
import { measureFixedRate, measurePinnedClientsRss, targetLines, type FixedRateRow, type RssResult } from './proxy-targets.ts';
import { DISTURBED_SHARE } from './session-ops.ts';
import { GC_TRACE_FLAG } from './gc-trace.ts';
import { PROXY_NODE_ARGS, startHaproxy, startSticklessProxy, type Backend, type RunningProxy } from './proxy-peers.ts';

export interface ProxyOverheadOptions {
  children: ChildProcesses;
  connections: number;
  durationMs: number;
  /** Unmeasured load before each measured run, in ms (wrk rounds to whole seconds). */
  warmupMs: number;
  generator: HttpLoadGenerator;
  /** Why the undici fallback was used, for the report ("wrk not installed: ..."). */
  generatorReason?: string | undefined;
  /** Whether haproxy is installed; when false its rows say "not measured". */
  haproxy: boolean;
  log: (line: string) => void;
}

interface Scenario {
  name: string;
  /** The HAProxy row doing the same job, if any. */
  peer?: string | undefined;
  url: string;
  headers?: Record<string, string> | undefined;
  proxyPid?: number | undefined;
  /** All of the proxy's processes (a primary and its workers); default [proxyPid]. */
  proxyPids?: (() => number[]) | undefined;
  /** wrk threads for this row (default 1). */
  threads?: number | undefined;
  /** Checks one response before the run, so the load does what the row says; returns a problem. */
  check: (response: Response) => string | undefined;
  /** Counters of the stickless route during the run (to prove pins were hit or inserted). */
  counters?: (() => Promise<Record<string, number>>) | undefined;
}

interface Row {
  scenario: Scenario;
  result?: RunResult | undefined;
  notMeasured?: string | undefined;
  proxyCpuMs: number;
  backendCpuMs: number;
  /** CPU of the load generator during the run. */
  generatorCpuMs?: number | undefined;
  /** Share of all cores busy with other work during the run. */
  foreignLoad?: number | undefined;
  affinity?: string | undefined;
}

const BACKEND_SCRIPT = fileURLToPath(new URL('./http-backend.ts', import.meta.url));
const BACKEND_WARMUP_MS = 3000;
/**
 * A proxy's first row starts with 1 s warm-up runs until its CPU per request settles (two in a row
 * within this share of each other), at least FIRST_WARMUP_MIN_MS and at most FIRST_WARMUP_MAX_MS.
 * Fresh node processes (each worker of `workers: 2` too) are optimised by V8 over the first tens of
 * thousands of requests; with one fixed 1 s warm-up the 2-worker row, whose processes served
 * nothing before it, ran at a third of its warm rate and CPU per request (issue 10's anomaly).
 */
const WARMUP_SETTLED = 0.1;
const FIRST_WARMUP_MIN_MS = 3000;
const FIRST_WARMUP_MAX_MS = 12_000;
const HAPROXY_NOT_INSTALLED = 'not measured: haproxy not installed (`apt-get install -y haproxy`)';

/** What --json prints: every row, plus the figures the issue-10 targets are judged on. */
export interface ProxyOverheadJson {
  rows: Array<{ path: string; reqPerSecond: number; p50Ms: number; p99Ms: number; proxyCpuUsPerReq: number; generatorCoreShare: number; otherLoad: number; errors: number; peer?: string | undefined }>;
  fixedRate: FixedRateRow[];
  /** The throughput targets' rows measured again in alternating rounds (proxy-paired.ts). */
  paired: PairedResult[];
  rss?: RssResult | undefined;
  targets: string[];
}

export async function runProxyOverhead(options: ProxyOverheadOptions): Promise<{ markdown: string; json: ProxyOverheadJson }> {
  const { children } = options;
  const backends: Backend[] = [{ id: 'app-1', port: await freePort() }, { id: 'app-2', port: await freePort() }];
  const backend = children.start({ name: 'backends', command: process.execPath, args: [BACKEND_SCRIPT, ...backends.map((b) => `${b.id}=${b.port}`)] });
  let stickless: RunningProxy | undefined;
  let stickless2: RunningProxy | undefined;
  let haproxy: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  let haproxy2: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  const rows: Row[] = [];
  let fixedRate: FixedRateRow[] = [];
  const paired: PairedResult[] = [];
  let rss: RssResult | undefined;
  try {
    for (const b of backends) await waitForPort(b.port, backend);
    // Traced for the fixed-rate row: what its collections stop it for (a chunk of the p99 it adds).
    stickless = await startSticklessProxy(children, backends, 1, [...PROXY_NODE_ARGS, GC_TRACE_FLAG]);
    stickless2 = await startSticklessProxy(children, backends, 2);
    if (options.haproxy) haproxy = await startHaproxy(children, backends);
    if (options.haproxy) haproxy2 = await startHaproxy(children, backends, 2);
    const scenarios = await buildScenarios(backends[0]!, stickless, haproxy);
    // Every core (issue 10): 2 workers against nbthread 2, two wrk threads for both.
    const directAgain = scenarios.pop()!;
    scenarios.push({ name: 'stickless, 2 workers, cookie inserted', peer: 'HAProxy nbthread 2, cookie insert', url: `${stickless2.url}/soft/bench`, proxyPid: stickless2.pid, proxyPids: stickless2.pids, threads: 2, check: scenarios[2]!.check });
    if (haproxy2) scenarios.push({ name: 'HAProxy nbthread 2, cookie insert', url: `${haproxy2.cookie}/soft/bench`, proxyPid: haproxy2.pid, threads: 2, check: scenarios.find((s) => s.name === 'HAProxy, cookie insert')!.check });
    scenarios.push(directAgain);
    // A fresh backend process is still being optimised by V8 for a few seconds; without this, the
    // first direct row ran up to 1.5x slower than the same row at the end.
    await runHttpLoad(children, options.generator, { url: scenarios[0]!.url, connections: options.connections, durationMs: BACKEND_WARMUP_MS });
    const warmed = new Set<number>();
    for (const scenario of scenarios) {
      if (scenario.url === '') {
        rows.push({ scenario, notMeasured: HAPROXY_NOT_INSTALLED, proxyCpuMs: Number.NaN, backendCpuMs: Number.NaN });
        continue;
      }
      rows.push(await measure(scenario, backend.process.pid, options, warmed));
    }
    if (haproxy && haproxy2) {
      const sample = (name: string) => async (): Promise<PairedSample> => {
        const row = await measure(scenarios.find((s) => s.name === name)!, backend.process.pid, { ...options, log: () => {} }, warmed);
        if (!row.result) throw new Error(`${name}: ${row.notMeasured}`);
        return { requests: row.result.ok + row.result.errors, durationMs: row.result.durationMs, cpuMs: row.proxyCpuMs };
      };
      for (const [name, peer] of [['stickless, soft, cookie inserted', 'HAProxy, cookie insert'], ['stickless, 2 workers, cookie inserted', 'HAProxy nbthread 2, cookie insert']] as const) {
        paired.push(await measurePaired(name, peer, sample(name), sample(peer), options.log));
      }
    }
    await stickless2.stop();
    // HAProxy doing the same job in the same run: what this machine and load generator add to any proxy's p99.
    fixedRate = await measureFixedRate(children, [
      { name: 'direct to one backend', url: `http://127.0.0.1:${backends[0]!.port}/none/bench` },
      { name: 'stickless, soft, cookie inserted', url: `${stickless.url}/soft/bench`, gcOf: stickless.child },
      ...(haproxy ? [{ name: 'HAProxy, cookie insert', url: `${haproxy.cookie}/soft/bench` }] : []),
    ], options.log);
    rss = await measurePinnedClientsRss(children, options.generator, stickless, 100_000, options.log);
  } finally {
    await stickless?.stop();
    await stickless2?.stop();
    await haproxy?.stop();
    await haproxy2?.stop();
    await children.stop(backend);
  }
  const json = toJson(rows, fixedRate, paired, rss);
  return { markdown: `${report(rows, options)}\n${targetLines(json).join('\n')}`, json };
}

function toJson(rows: Row[], fixedRate: FixedRateRow[], paired: PairedResult[], rss: RssResult | undefined): ProxyOverheadJson {
  const json: ProxyOverheadJson = { rows: [], fixedRate, paired, rss, targets: [] };
  for (const row of rows) {
    const r = row.result;
    if (!r) continue;
    const requests = r.ok + r.errors;
    json.rows.push({
      path: row.scenario.name, reqPerSecond: r.opsPerSecond, p50Ms: r.p50Ms, p99Ms: r.p99Ms,
      proxyCpuUsPerReq: (row.proxyCpuMs * 1000) / requests,
      generatorCoreShare: (row.generatorCpuMs ?? Number.NaN) / r.durationMs,
      otherLoad: row.foreignLoad ?? Number.NaN, errors: r.errors, peer: row.scenario.peer,
    });
  }
  json.targets = targetLines(json);
  return json;
}

async function buildScenarios(direct: Backend, stickless: RunningProxy, haproxy: Awaited<ReturnType<typeof startHaproxy>> | undefined): Promise<Scenario[]> {
  const ok = (response: Response): string | undefined => (response.status === 200 ? undefined : `HTTP ${response.status}`);
  const affinity = (expected: string) => (response: Response): string | undefined =>
    ok(response) ?? (response.headers.get('x-stickless-affinity') === expected ? undefined : `x-stickless-affinity ${response.headers.get('x-stickless-affinity')}, expected ${expected}`);
  const pin = await firstCookie(`${stickless.url}/soft/bench`, 'stickless');
  const softCounters = (): Promise<Record<string, number>> => stickless.routeCounters!('soft');
  const scenarios: Scenario[] = [
    { name: 'direct to one backend', url: `http://127.0.0.1:${direct.port}/none/bench`, check: ok },
    { name: 'stickless, affinity none', peer: 'HAProxy, roundrobin', url: `${stickless.url}/none/bench`, proxyPid: stickless.pid, check: affinity('none') },
    { name: 'stickless, soft, cookie inserted', peer: 'HAProxy, cookie insert', url: `${stickless.url}/soft/bench`, proxyPid: stickless.pid, check: affinity('new'), counters: softCounters },
    { name: 'stickless, soft, pinned cookie hit', peer: 'HAProxy, cookie hit', url: `${stickless.url}/soft/bench`, headers: { cookie: pin }, proxyPid: stickless.pid, check: affinity('hit'), counters: softCounters },
  ];
  // Direct is measured first and again last: the spread between the two shows drift during the run.
  const directAgain = { ...scenarios[0]!, name: 'direct to one backend, again' };
  if (!haproxy) {
    return [...scenarios, ...['HAProxy, roundrobin', 'HAProxy, cookie insert', 'HAProxy, cookie hit'].map((name) => ({ name, url: '', check: ok })), directAgain];
  }
  const srv = await firstCookie(`${haproxy.cookie}/soft/bench`, 'SRV');
  const setCookie = (present: boolean) => (response: Response): string | undefined =>
    ok(response) ?? ((response.headers.get('set-cookie') !== null) === present ? undefined : `Set-Cookie ${present ? 'missing' : 'present'}`);
  return [
    ...scenarios,
    { name: 'HAProxy, roundrobin', url: `${haproxy.roundRobin}/none/bench`, proxyPid: haproxy.pid, check: ok },
    { name: 'HAProxy, cookie insert', url: `${haproxy.cookie}/soft/bench`, proxyPid: haproxy.pid, check: setCookie(true) },
    { name: 'HAProxy, cookie hit', url: `${haproxy.cookie}/soft/bench`, headers: { cookie: srv }, proxyPid: haproxy.pid, check: setCookie(false) },
    directAgain,
  ];
}

/** The `name=value` pair of the cookie a first, cookie-less request is given. */
async function firstCookie(url: string, name: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.arrayBuffer();
  const pair = response.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith(`${name}=`));
  if (!pair) throw new Error(`${url} set no ${name} cookie (status ${response.status})`);
  return pair;
}

/** Warm-up runs of 1 s until the proxy's CPU per request settles (see WARMUP_SETTLED). */
async function warmUpProxy(load: Omit<HttpLoadOptions, 'durationMs'>, treeCpuMs: () => number, options: ProxyOverheadOptions): Promise<void> {
  let previous = Number.NaN;
  for (let spentMs = 0; spentMs < FIRST_WARMUP_MAX_MS; spentMs += 1000) {
    const before = treeCpuMs();
    const result = await runHttpLoad(options.children, options.generator, { ...load, durationMs: 1000 });
    const perRequest = (treeCpuMs() - before) / Math.max(1, result.ok + result.errors);
    if (spentMs + 1000 >= FIRST_WARMUP_MIN_MS && Math.abs(perRequest - previous) <= WARMUP_SETTLED * previous) return;
    previous = perRequest;
  }
}

async function measure(scenario: Scenario, backendPid: number | undefined, options: ProxyOverheadOptions, warmed: Set<number>): Promise<Row> {
  const probe = await fetch(scenario.url, { headers: scenario.headers ?? {}, signal: AbortSignal.timeout(2000) });
  await probe.arrayBuffer();
  const problem = scenario.check(probe);
  if (problem) return { scenario, notMeasured: `not measured: probe failed (${problem})`, proxyCpuMs: Number.NaN, backendCpuMs: Number.NaN };
  const load = { url: scenario.url, connections: options.connections, headers: scenario.headers, threads: scenario.threads };
  const proxyPids = scenario.proxyPids?.() ?? (scenario.proxyPid === undefined ? [] : [scenario.proxyPid]);
  const treeCpuMs = (): number => proxyPids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  if (scenario.proxyPid !== undefined && !warmed.has(scenario.proxyPid)) {
    warmed.add(scenario.proxyPid);
    await warmUpProxy(load, treeCpuMs, options);
  }
  await runHttpLoad(options.children, options.generator, { ...load, durationMs: options.warmupMs });
  const countersBefore = await scenario.counters?.();
  const cpuBefore = { proxy: treeCpuMs(), backend: processCpuMs(backendPid), generator: reapedChildrenCpuMs() };
  // The proxy's workers are grandchildren: without them their CPU counted as other load.
  const foreign = new ForeignLoadMeter(() => options.children.pids().flatMap(processTree));
  foreign.start();
  const result = await runHttpLoad(options.children, options.generator, { ...load, durationMs: options.durationMs });
  const foreignLoad = foreign.stop(availableParallelism());
  const generatorCpuMs = reapedChildrenCpuMs() - cpuBefore.generator;
  const proxyCpuMs = proxyPids.length === 0 ? Number.NaN : treeCpuMs() - cpuBefore.proxy;
  const backendCpuMs = processCpuMs(backendPid) - cpuBefore.backend;
  let affinity: string | undefined;
  if (countersBefore) {
    const after = await scenario.counters!();
    affinity = ['new', 'hit', 'moved'].map((k) => `${k} ${(after[k] ?? 0) - (countersBefore[k] ?? 0)}`).join(', ');
  }
  options.log(`  ${scenario.name}: ${formatRate(result.opsPerSecond)} req/s, p50 ${formatMs(result.p50Ms)} ms, p99 ${formatMs(result.p99Ms)} ms${result.errors ? `, ${result.firstError}` : ''}${affinity ? ` (${affinity})` : ''}`);
  return { scenario, result, proxyCpuMs, backendCpuMs, generatorCpuMs, foreignLoad, affinity };
}

function report(rows: Row[], options: ProxyOverheadOptions): string {
  const byName = (name: string | undefined): Row | undefined => rows.find((r) => r.scenario.name === name);
  // Ratios against direct use the mean of its two runs (first and last).
  const directRuns = rows.filter((r) => r.scenario.name.startsWith('direct') && r.result).map((r) => r.result!);
  const direct = directRuns.length === 0 ? undefined : { opsPerSecond: directRuns.reduce((sum, r) => sum + r.opsPerSecond, 0) / directRuns.length };
  const requests = (row: Row): number => (row.result ? row.result.ok + row.result.errors : Number.NaN);
  const table = formatTable(
    ['path', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs direct', 'req/s vs HAProxy peer', 'p50 vs HAProxy peer', 'proxy CPU µs/req', 'backend CPU µs/req', 'other load', 'errors'],
    rows.map((row) => {
      const r = row.result;
      if (!r) return [row.scenario.name, row.notMeasured ?? 'not measured', '', '', '', '', '', '', '', '', ''];
      const peer = byName(row.scenario.peer)?.result;
      return [
        row.scenario.name, formatRate(r.opsPerSecond), formatMs(r.p50Ms), formatMs(r.p99Ms),
        row.scenario.name.startsWith('direct') ? 'peer' : formatRatio(r.opsPerSecond, direct?.opsPerSecond ?? Number.NaN),
        row.scenario.peer ? formatRatio(r.opsPerSecond, peer?.opsPerSecond ?? Number.NaN) : '',
        row.scenario.peer ? formatRatio(r.p50Ms, peer?.p50Ms ?? Number.NaN) : '',
        formatCpuUs(row.proxyCpuMs, requests(row)), formatCpuUs(row.backendCpuMs, requests(row)),
        formatShare(row.foreignLoad ?? Number.NaN), String(r.errors),
      ];
    }),
  );
  const generator = options.generator === 'wrk'
    ? `\`wrk -t1 -c${options.connections} -d${Math.round(options.durationMs / 1000)}s --latency --timeout 2s\` (wrk's own latency histogram)`
    : `the undici fallback (bench/http-load-undici.ts, ${options.connections} connections; ${options.generatorReason ?? 'wrk not used'}), exact percentiles`;
  const lines = [
    table,
    '',
    `Load: ${generator}, after an unmeasured warm-up of ${options.warmupMs} ms per row (before a proxy's first row, 1 s runs until its CPU per request settles within ${WARMUP_SETTLED * 100}%, ${FIRST_WARMUP_MIN_MS / 1000}–${FIRST_WARMUP_MAX_MS / 1000} s). Two backends (one node process, two listeners, ` +
      '~30-byte JSON body); "direct" hits one of them, first and again last; "req/s vs direct" is against the mean of those two runs. Keep-alive on both sides of every proxy. stickless proxy: one node process (one JS thread), launched as docs/proxy.md recommends (`MALLOC_ARENA_MAX=2 node --max-semi-space-size=8 --heap-growing-percent=50`), ' +
      'log level warn, no health checks, no passive ejection. HAProxy: `nbthread 1`, no log lines, `balance roundrobin`, ' +
      '`cookie SRV insert indirect nocache` with a per-server `cookie`. The stickless `none` route balances by power of two choices, HAProxy by round robin. ' +
      'Cookie insertion: no cookie is sent, so every request is a new client and gets a Set-Cookie (stickless signs an HMAC pin; HAProxy writes the server name). ' +
      'Pinned hit: every request sends the cookie captured from a first response (stickless verifies the HMAC), so all load goes to one backend. ' +
      'CPU per request = the process\'s CPU time during the measured run / requests. ' +
      '"other load" = share of all cores busy with processes that are not the benchmark\'s (its children and their workers) during the run; rows with more than 10% were disturbed by other work on the machine.',
  ];
  for (const row of rows) if (row.affinity) lines.push(`- ${row.scenario.name}: x-stickless-affinity during the run: ${row.affinity}.`);
  const insert = byName('stickless, soft, cookie inserted');
  const haInsert = byName('HAProxy, cookie insert');
  if (insert?.result && haInsert?.result) {
    lines.push(`- stickless / HAProxy, cookie insertion: req/s ${formatRatio(insert.result.opsPerSecond, haInsert.result.opsPerSecond)}, ` +
      `p50 ${formatRatio(insert.result.p50Ms, haInsert.result.p50Ms)}, p99 ${formatRatio(insert.result.p99Ms, haInsert.result.p99Ms)}, ` +
      `proxy CPU per request ${formatRatio(insert.proxyCpuMs / requests(insert), haInsert.proxyCpuMs / requests(haInsert))}.`);
  }
  const disturbed = rows.filter((r) => (r.foreignLoad ?? 0) > DISTURBED_SHARE);
  if (disturbed.length > 0) lines.push(`- Disturbed by other work on the machine (other load > ${DISTURBED_SHARE * 100}%): ${disturbed.map((r) => r.scenario.name).join('; ')}. Rerun for clean figures.`);
  for (const row of rows) if (row.result && row.result.errors > 0) lines.push(`- ${row.scenario.name}: ${row.result.firstError}.`);
  return lines.join('\n');
}
