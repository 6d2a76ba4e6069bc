// `npm run bench`: every benchmark in one go, bounded in time, every process it starts stopped on
// the way out (normal end, error, Ctrl-C, or the overall time limit). Prints Markdown and writes the
// same to bench/results/latest.md. Never part of `npm test`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ChildProcesses } from './child-processes.ts';
import { runClusterBench } from './cluster.ts';
import { collectMachineNotes, describeMachine } from './machine-notes.ts';
import { LAG_REFERENCE_RATE, LAG_TARGET, runInvalidationLag } from './invalidation-lag.ts';
import { runProxyOverhead } from './proxy-overhead.ts';
import { runProxyInstructions, type InstructionRow } from './proxy-instructions.ts';
import { runSessionOps } from './session-ops.ts';
import { runTransportPeers } from './transport-peers.ts';
import { runWebRequests, WEB_ROW_MS } from './web-requests.ts';
import { FLOOR_RATES, runWakeupFloor } from './wakeup-floor.ts';

const USAGE = `Usage: npm run bench [-- options]

  --quick                 short runs (1.5 s per row instead of 4 s) for a smoke check
  --only <section>        sessions | lag | web | proxy | cluster (default: all five), or instructions
                          (the proxies' instructions per request under valgrind; only when asked for, about 3 min)
  --duration-ms <n>       measured time per row (default 4000; --quick 1500)
  --concurrency <n>       session operations in flight (default 32)
  --connections <n>       HTTP keep-alive connections for the proxy load (default 32)
  --no-replica            skip the replicaAcks=1 (primary + replica) rows
  --load-generator <g>    auto | wrk | undici (default auto: wrk when installed)
  --out <file>            where to write the report (default bench/results/latest.md)
  --json                  print every section's rows (and the proxy targets) as JSON on stdout (the report still goes to --out)
  --shoppers <n>          web section: scenario shoppers per configuration (default 12)
  --help
`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'duration-ms': { type: 'string' },
    concurrency: { type: 'string', default: '32' },
    connections: { type: 'string', default: '32' },
    'no-replica': { type: 'boolean', default: false },
    'load-generator': { type: 'string', default: 'auto' },
    out: { type: 'string', default: fileURLToPath(new URL('./results/latest.md', import.meta.url)) },
    help: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    shoppers: { type: 'string', default: '12' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const positiveInt = (name: string, raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: --${name} expects a positive integer, got ${raw}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const durationMs = positiveInt('duration-ms', values['duration-ms'] ?? (values.quick ? '1500' : '4000'));
const warmupMs = values.quick ? 500 : 1000;
const concurrency = positiveInt('concurrency', values.concurrency);
const connections = positiveInt('connections', values.connections);
const only = values.only;
if (only !== undefined && !['sessions', 'lag', 'proxy', 'web', 'cluster', 'instructions'].includes(only)) {
  process.stderr.write(`bench: --only expects sessions, lag, web, proxy, cluster or instructions, got ${only}\n\n${USAGE}`);
  process.exit(2);
}
const requestedGenerator = values['load-generator'];
if (!['auto', 'wrk', 'undici'].includes(requestedGenerator)) {
  process.stderr.write(`bench: --load-generator expects auto, wrk or undici\n\n${USAGE}`);
  process.exit(2);
}

// The lag rows and the web rows run for their own times (long enough for a stable p99).
const lagDurationMs = values.quick ? durationMs : Math.max(10_000, 2 * durationMs);
const webDurationMs = values.quick ? Math.max(3000, 2 * durationMs) : Math.max(WEB_ROW_MS, 2 * durationMs);
const floorDurationMs = values.quick ? 2000 : 10_000;
// Rows × (warm-up + measured) plus process starts, with generous slack; past it, everything stops.
const TIME_LIMIT_MS = 30 * (durationMs + warmupMs + 1000) + 180_000 + 5 * (lagDurationMs + 2 * warmupMs + 5000) + 6 * (webDurationMs + 30_000) + FLOOR_RATES.length * floorDurationMs + 60_000 + (only === 'instructions' ? 1_800_000 : 0);

const children = new ChildProcesses();
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const abort = (reason: string, code: number): void => {
  log(`bench: ${reason}; stopping every process it started`);
  children.killAllNow();
  process.exit(code);
};
process.once('SIGINT', () => abort('interrupted', 130));
process.once('SIGTERM', () => abort('terminated', 143));
const limit = setTimeout(() => abort(`time limit of ${Math.round(TIME_LIMIT_MS / 1000)} s exceeded`, 1), TIME_LIMIT_MS);
limit.unref();

const notes = collectMachineNotes();
const { redis, wrk, haproxy } = notes.tools;
const generator = requestedGenerator === 'undici' || (requestedGenerator === 'auto' && wrk.version === undefined) ? 'undici' : 'wrk';
const generatorReason = wrk.version === undefined ? `wrk not installed: \`${wrk.install}\`` : 'chosen with --load-generator undici';
if (generator === 'wrk' && wrk.version === undefined) abort(`--load-generator wrk, but wrk is not installed (${wrk.install})`, 2);

const argv = process.argv.slice(2);
const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
const sections: string[] = [
  '# stickless benchmarks',
  '',
  `Command: \`${command}\``,
  '',
  ...describeMachine(notes),
  '- Everything (load generator, servers, Redis, proxies, backends) runs on this one machine over loopback and shares its cores.',
];

let failed = false;
let proxyJson: unknown;
const sessionRows: Record<string, unknown>[] = [];
const lagRows: Record<string, unknown>[] = [];
const webRows: Record<string, unknown>[] = [];
const clusterRows: Record<string, unknown>[] = [];
let instructionRows: InstructionRow[] = [];
try {
  if (only === undefined || only === 'sessions') {
    sections.push('', '## Session operations', '');
    if (redis.version === undefined) {
      sections.push(`Not measured: redis-server is not installed (\`${redis.install}\`).`);
    } else {
      log('session operations:');
      sections.push(await runSessionOps({ children, concurrency, durationMs, warmupMs, replicaAcks: !values['no-replica'], log, onRow: (row) => void sessionRows.push(row) }));
    }
  }
  if (only === undefined || only === 'lag') {
    sections.push('', '## Near-cache invalidation lag', '');
    if (redis.version === undefined) {
      sections.push(`Not measured: redis-server is not installed (\`${redis.install}\`).`);
    } else {
      log(`near-cache invalidation lag at ${LAG_REFERENCE_RATE} and ${LAG_TARGET.writesPerSecond} writes/s:`);
      sections.push(await runInvalidationLag({ children, rates: [LAG_REFERENCE_RATE, LAG_TARGET.writesPerSecond], sessions: 1000, warmupMs: 2 * warmupMs, durationMs: lagDurationMs, log, onRow: (row) => void lagRows.push(row) }));
      // The same target rate with a holder that does not re-read: the push path without the load of
      // 1,000 extra Gets/s (a replica re-reads only what its users ask for again).
      log(`near-cache invalidation lag at ${LAG_TARGET.writesPerSecond} writes/s, holder not re-reading:`);
      sections.push('', '### Without the holder\'s re-reads', '');
      sections.push(await runInvalidationLag({ children, rates: [LAG_TARGET.writesPerSecond], reread: false, sessions: 1000, warmupMs: 2 * warmupMs, durationMs: lagDurationMs, log, onRow: (row) => void lagRows.push(row) }));
      // The transport alone at the same rate, for sessiond's collections in the rows above.
      log(`the transport alone at ${LAG_TARGET.writesPerSecond} calls/s (node:http2, grpc-js):`);
      sections.push('', '### The transport alone at the same rate', '');
      sections.push(await runTransportPeers({ children, rate: LAG_TARGET.writesPerSecond, warmupMs: 2 * warmupMs, durationMs: lagDurationMs, log, onRow: (row) => void lagRows.push(row) }));
    }
  }
  if (only === undefined || only === 'web') {
    log('CPU per served web request (the scenario):');
    sections.push('', '## CPU per served web request', '');
    sections.push(await runWebRequests({ shoppers: positiveInt('shoppers', values.shoppers), durationMs: webDurationMs, log, onRow: (row) => void webRows.push(row) }));
    log('the wake-up floor (a bare TCP echo, one message at a time):');
    sections.push('', '### The wake-up floor: a bare TCP echo at the same message rates', '');
    sections.push(await runWakeupFloor({ children, durationMs: floorDurationMs, log, onRow: (row) => void webRows.push(row) }));
  }
  if (only === undefined || only === 'proxy') {
    log('proxy overhead:');
    sections.push('', '## Proxy overhead', '');
    if (haproxy.version === undefined) sections.push(`HAProxy rows not measured: haproxy is not installed (\`${haproxy.install}\`).`, '');
    const proxy = await runProxyOverhead({ children, connections, durationMs, warmupMs: Math.max(1000, warmupMs), generator, generatorReason, haproxy: haproxy.version !== undefined, log });
    sections.push(proxy.markdown);
    proxyJson = proxy.json;
  }
  if (only === 'instructions') {
    log('proxy instructions per request (callgrind):');
    sections.push('', '## Proxy instructions per request', '');
    const instructions = await runProxyInstructions({ children, requests: values.quick ? 1000 : 5000, warmup: values.quick ? 500 : 2000, haproxy: haproxy.version !== undefined, log });
    sections.push(instructions.markdown);
    instructionRows = instructions.rows;
  }
  if (only === undefined || only === 'cluster') {
    sections.push('', '## Scale out: sessiond instances and Redis Cluster masters (issue 9)', '');
    if (redis.version === undefined) {
      sections.push(`Not measured: redis-server is not installed (\`${redis.install}\`).`);
    } else {
      log('scale out (Patch; 1 vs 2 sessiond instances, 1 Redis vs a 3-master Cluster):');
      sections.push(await runClusterBench({ children, concurrency, durationMs, warmupMs, log, onRow: (row) => void clusterRows.push(row) }));
    }
  }
} catch (error) {
  failed = true;
  log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await children.stopAll();
  children.dispose();
}

const markdown = `${sections.join('\n')}\n`;
process.stdout.write(values.json ? `${JSON.stringify({ command, machine: describeMachine(notes), proxy: proxyJson ?? null, sessions: sessionRows, lag: lagRows, web: webRows, cluster: clusterRows, instructions: instructionRows }, null, 2)}\n` : markdown);
if (!failed) {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, markdown);
  log(`bench: report written to ${values.out}`);
}
process.exit(failed ? 1 : 0);
