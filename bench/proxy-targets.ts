// The issue-10 targets that the throughput rows do not cover: latency added at a fixed 1,000
// requests/s (open loop, bench/fixed-rate-load.c, compiled here; bench/http-load-fixed-rate.ts where
// there is no C compiler) and the proxy's memory after 100,000 distinct clients were pinned; plus the
// lines that judge every target from one run's figures.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Child, ChildProcesses } from './child-processes.ts';
import { GcWindow, type GcFigures } from './gc-trace.ts';
import { runHttpLoad, type HttpLoadGenerator } from './http-load.ts';
import type { RunResult } from './latency-recorder.ts';
import { processRssBytes } from './process-cpu.ts';
import type { ProxyOverheadJson } from './proxy-overhead.ts';
import type { RunningProxy } from './proxy-peers.ts';

export interface FixedRateRow {
  name: string;
  rate: number;
  result: RunResult;
  /** The proxy's garbage collections over the whole fixed-rate run (its warm-up included), when traced. */
  gc?: GcFigures | undefined;
  /** Which generator sent the requests: `c` (fixed-rate-load.c) or `node` (no C compiler here). */
  generator: FixedRateGenerator;
}

export type FixedRateGenerator = 'c' | 'node';

export interface RssResult {
  /** Distinct clients given a pin during the run (the route's `new` counter). */
  pinnedClients: number;
  rssMb: number;
  peakRssMb: number;
}

const FIXED_RATE_SCRIPT = fileURLToPath(new URL('./http-load-fixed-rate.ts', import.meta.url));
const FIXED_RATE_SOURCE = fileURLToPath(new URL('./fixed-rate-load.c', import.meta.url));
const FIXED_RATE_CONNECTIONS = 64;
const FIXED_RATE_TIMEOUT_MS = 2000;
const FIXED_RATE = 1000;
const FIXED_RATE_MS = 10_000;
const FIXED_RATE_WARMUP_MS = 1000;
const MB = 1024 * 1024;

/**
 * Every target at FIXED_RATE req/s for FIXED_RATE_MS, all at once from one generator process with
 * their requests interleaved, so that a stall of the machine (other work on shared cores) lands on
 * every target alike and the difference between them is what the proxy adds. The generator is C:
 * a Node generator's own collections and event-loop delays showed up in every path's tail (direct
 * p50 1.2 ms and p99 4–33 ms with it, 0.13 ms and 1–1.2 ms with the C one, same machine and minute).
 */
export async function measureFixedRate(children: ChildProcesses, targets: Array<{ name: string; url: string; gcOf?: Child | undefined }>, log: (line: string) => void): Promise<FixedRateRow[]> {
  const dir = children.makeTempDir('stickless-bench-fixed-rate-');
  try {
    const compiled = compileGenerator(dir);
    if (compiled.generator === 'node') log(`  ${compiled.reason}: the Node generator sends the fixed-rate load, and its own pauses add to every path's tail`);
    const windows = targets.map((t) => (t.gcOf === undefined ? undefined : new GcWindow(t.gcOf)));
    for (const window of windows) window?.start();
    const child = children.start(compiled.generator === 'c'
      ? {
        name: 'fixed-rate load (C)',
        command: compiled.binary,
        args: [FIXED_RATE, FIXED_RATE_MS, FIXED_RATE_WARMUP_MS, FIXED_RATE_CONNECTIONS, FIXED_RATE_TIMEOUT_MS].map(String).concat(targets.map((t) => hostPortPath(t.url))),
      }
      : {
        name: 'fixed-rate load (node)',
        command: process.execPath,
        args: [FIXED_RATE_SCRIPT, JSON.stringify({ urls: targets.map((t) => t.url), rate: FIXED_RATE, durationMs: FIXED_RATE_MS, warmupMs: FIXED_RATE_WARMUP_MS, connections: FIXED_RATE_CONNECTIONS })],
      });
    const code = await child.exited;
    const gcs = windows.map((window) => window?.stop());
    if (code !== 0) throw new Error(`fixed-rate load exited with ${code}:\n${child.tail()}`);
    const results = JSON.parse(child.stdout().trim().split('\n').at(-1)!) as RunResult[];
    return targets.map((target, i) => {
      const result = results[i]!;
      const gc = gcs[i];
      log(`  ${target.name} at ${FIXED_RATE} req/s: p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}${gc ? `; young pauses ${gc.youngCollections}, longest ${gc.youngPauseMaxMs.toFixed(1)} ms` : ''}`);
      return { name: target.name, rate: FIXED_RATE, result, gc, generator: compiled.generator };
    });
  } finally {
    children.removeTempDir(dir);
  }
}

type Compiled = { generator: 'c'; binary: string } | { generator: 'node'; reason: string };

/** fixed-rate-load.c built with the machine's C compiler into `dir`, or why not. */
function compileGenerator(dir: string): Compiled {
  const binary = join(dir, 'fixed-rate-load');
  const cc = process.env['CC'] ?? 'cc';
  const build = spawnSync(cc, ['-O2', '-o', binary, FIXED_RATE_SOURCE], { encoding: 'utf8', timeout: 60_000 });
  if (build.error !== undefined) return { generator: 'node', reason: `no C compiler (${cc}: ${build.error.message})` };
  if (build.status !== 0) return { generator: 'node', reason: `${cc} could not build fixed-rate-load.c: ${build.stderr.trim().split('\n')[0]}` };
  return { generator: 'c', binary };
}

/** `http://127.0.0.1:8080/p` → `127.0.0.1:8080/p`, what fixed-rate-load.c takes (IPv4 loopback, plain HTTP). */
function hostPortPath(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || !/^\d+\.\d+\.\d+\.\d+$/.test(parsed.hostname)) throw new Error(`fixed-rate-load.c takes plain http to an IPv4 address, got ${url}`);
  return `${parsed.hostname}:${parsed.port || 80}${parsed.pathname}${parsed.search}`;
}

/** Cookie-insertion load until `clients` distinct clients were pinned; then the proxy's RSS. */
export async function measurePinnedClientsRss(children: ChildProcesses, generator: HttpLoadGenerator, proxy: RunningProxy, clients: number, log: (line: string) => void): Promise<RssResult> {
  const start = (await proxy.routeCounters!('soft'))['new'] ?? 0;
  let pinned = 0;
  for (let round = 0; round < 60 && pinned < clients; round++) {
    await runHttpLoad(children, generator, { url: `${proxy.url}/soft/bench`, connections: 32, durationMs: 2000 });
    pinned = ((await proxy.routeCounters!('soft'))['new'] ?? 0) - start;
  }
  let rss = 0;
  let peak = 0;
  for (const pid of proxy.pids()) {
    const bytes = processRssBytes(pid);
    rss += bytes.rss;
    peak += bytes.peak;
  }
  log(`  RSS after ${pinned} distinct pinned clients: ${(rss / MB).toFixed(0)} MB (peak ${(peak / MB).toFixed(0)} MB)`);
  return { pinnedClients: pinned, rssMb: rss / MB, peakRssMb: peak / MB };
}

/** One line per target: the figure, the bar, met or missed. */
export function targetLines(json: Omit<ProxyOverheadJson, 'targets'>): string[] {
  const row = (path: string) => json.rows.find((r) => r.path === path);
  const lines = ['', '### Issue-10 targets (this run)', ''];
  const verdict = (met: boolean) => (met ? 'met' : '**missed**');
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const pairedOf = (name: string) => json.paired.find((p) => p.name === name);
  const one = row('stickless, soft, cookie inserted');
  const haOne = row('HAProxy, cookie insert');
  const onePaired = pairedOf('stickless, soft, cookie inserted');
  if (onePaired) {
    lines.push(`- 1 worker vs nbthread 1, cookie insertion, ${onePaired.rounds} alternating rounds: ${onePaired.reqPerSecondRatio.toFixed(2)}× HAProxy's req/s (target ≥ 0.6×: ${verdict(onePaired.reqPerSecondRatio >= 0.6)}); ` +
      `CPU per request ${onePaired.stickless.cpuUsPerReq.toFixed(0)} vs ${onePaired.haproxy.cpuUsPerReq.toFixed(0)} µs = ${onePaired.cpuRatio.toFixed(2)}× (target ≤ 2.5×: ${verdict(onePaired.cpuRatio <= 2.5)})` +
      (one && haOne ? `; the single rows above: ${ratio(one.reqPerSecond, haOne.reqPerSecond)} and ${ratio(one.proxyCpuUsPerReq, haOne.proxyCpuUsPerReq)}.` : '.'));
  } else if (one && haOne) {
    lines.push(`- 1 worker vs nbthread 1, cookie insertion: ${ratio(one.reqPerSecond, haOne.reqPerSecond)} HAProxy's req/s (target ≥ 0.6×: ${verdict(one.reqPerSecond / haOne.reqPerSecond >= 0.6)}); ` +
      `CPU per request ${one.proxyCpuUsPerReq.toFixed(0)} vs ${haOne.proxyCpuUsPerReq.toFixed(0)} µs = ${ratio(one.proxyCpuUsPerReq, haOne.proxyCpuUsPerReq)} (target ≤ 2.5×: ${verdict(one.proxyCpuUsPerReq / haOne.proxyCpuUsPerReq <= 2.5)}).`);
  }
  const two = row('stickless, 2 workers, cookie inserted');
  const haTwo = row('HAProxy nbthread 2, cookie insert');
  const twoPaired = pairedOf('stickless, 2 workers, cookie inserted');
  if (two && haTwo) {
    const reqRatio = twoPaired?.reqPerSecondRatio ?? two.reqPerSecond / haTwo.reqPerSecond;
    lines.push(`- 2 workers vs nbthread 2, cookie insertion${twoPaired ? `, ${twoPaired.rounds} alternating rounds` : ''}: ${reqRatio.toFixed(2)}× HAProxy's req/s (target ≥ 0.8×: ${verdict(reqRatio >= 0.8)}); ` +
      (twoPaired ? `CPU per request ${twoPaired.stickless.cpuUsPerReq.toFixed(0)} vs ${twoPaired.haproxy.cpuUsPerReq.toFixed(0)} µs; the single rows above: ${ratio(two.reqPerSecond, haTwo.reqPerSecond)}; ` : `CPU per request ${two.proxyCpuUsPerReq.toFixed(0)} vs ${haTwo.proxyCpuUsPerReq.toFixed(0)} µs; `) +
      `wrk (2 threads) used ${(two.generatorCoreShare * 100).toFixed(0)}% / ${(haTwo.generatorCoreShare * 100).toFixed(0)}% of one core in these rows.`);
  }
  const direct = json.fixedRate.find((r) => r.name.startsWith('direct'));
  const proxied = json.fixedRate.find((r) => r.name.startsWith('stickless'));
  if (direct && proxied) {
    const added = proxied.result.p99Ms - direct.result.p99Ms;
    const haproxy = json.fixedRate.find((r) => r.name.startsWith('HAProxy'));
    const peer = haproxy === undefined ? '' : `; HAProxy with cookie insertion in the same run: p99 ${haproxy.result.p99Ms.toFixed(2)} ms, ${(haproxy.result.p99Ms - direct.result.p99Ms).toFixed(2)} ms added, p50 ${haproxy.result.p50Ms.toFixed(2)} ms`;
    const generator = direct.generator === 'c' ? 'generator in C' : 'Node generator (no C compiler): its own pauses inflate every tail';
    lines.push(`- p99 at a fixed ${direct.rate} req/s (open loop, ${FIXED_RATE_MS / 1000} s, all paths at once, requests interleaved, ${generator}): direct ${direct.result.p99Ms.toFixed(2)} ms, through stickless with cookie insertion ${proxied.result.p99Ms.toFixed(2)} ms: ` +
      `${added.toFixed(2)} ms added (target ≤ 1 ms: ${verdict(added <= 1)}); p50 ${direct.result.p50Ms.toFixed(2)} → ${proxied.result.p50Ms.toFixed(2)} ms${peer}.`);
    const gc = proxied.gc;
    if (gc) {
      const seconds = (FIXED_RATE_MS + FIXED_RATE_WARMUP_MS) / 1000;
      lines.push(`  The stickless proxy's garbage collections over that run (\`--trace-gc-nvp\`, ${seconds} s with the warm-up): ${(gc.youngCollections / seconds).toFixed(1)} young collections/s, ` +
        `pauses ${(gc.youngPauseTotalMs / Math.max(1, gc.youngCollections)).toFixed(1)} ms on average and ${gc.youngPauseMaxMs.toFixed(1)} ms at most, ${gc.fullCollections} full collection(s), ` +
        `${(gc.pausedShare * 100).toFixed(1)}% of the time stopped; ${(gc.allocatedBytesPerSecond / FIXED_RATE / 1024).toFixed(1)} KB allocated per request. HAProxy has no collector.`);
    }
  }
  if (json.rss) {
    lines.push(`- RSS of the proxy (1 worker) after ${json.rss.pinnedClients.toLocaleString('en-US')} distinct pinned clients: ${json.rss.rssMb.toFixed(0)} MB, peak ${json.rss.peakRssMb.toFixed(0)} MB (target < 150 MB: ${verdict(json.rss.peakRssMb < 150)}).`);
  }
  return lines;
}
