// HTTP load for the proxy benchmark, always from a separate process: wrk when installed (C, one
// thread, far cheaper per request than any node client), otherwise the undici closed loop in
// http-load-undici.ts. Both keep `connections` keep-alive connections busy for a fixed duration.
import { fileURLToPath } from 'node:url';
import type { ChildProcesses } from './child-processes.ts';
import type { RunResult } from './latency-recorder.ts';

export type HttpLoadGenerator = 'wrk' | 'undici';

export interface HttpLoadOptions {
  url: string;
  /** Keep-alive connections, each with one request in flight. */
  connections: number;
  durationMs: number;
  /** Extra request headers (a pin cookie). */
  headers?: Record<string, string> | undefined;
  /** wrk threads (default 1). */
  threads?: number | undefined;
}

/** A request that got no answer within this many ms counts as an error. */
export const REQUEST_TIMEOUT_MS = 2000;
const UNDICI_SCRIPT = fileURLToPath(new URL('./http-load-undici.ts', import.meta.url));

export async function runHttpLoad(children: ChildProcesses, generator: HttpLoadGenerator, options: HttpLoadOptions): Promise<RunResult> {
  const child = generator === 'wrk'
    ? children.start({ name: 'wrk', command: 'wrk', args: wrkArgs(options) })
    : children.start({ name: 'undici load', command: process.execPath, args: [UNDICI_SCRIPT, JSON.stringify(options)] });
  // Both stop by themselves after durationMs; this bound covers a hung generator.
  const guard = setTimeout(() => child.process.kill('SIGKILL'), options.durationMs + 20_000);
  const code = await child.exited;
  clearTimeout(guard);
  if (code !== 0) throw new Error(`${child.name} exited with ${code}:\n${child.tail()}`);
  return generator === 'wrk' ? parseWrkOutput(child.stdout(), options.durationMs) : (JSON.parse(child.stdout().trim().split('\n').at(-1)!) as RunResult);
}

function wrkArgs(options: HttpLoadOptions): string[] {
  const seconds = Math.max(1, Math.round(options.durationMs / 1000));
  const headers = Object.entries(options.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  return [`-t${options.threads ?? 1}`, `-c${options.connections}`, `-d${seconds}s`, '--latency', '--timeout', `${REQUEST_TIMEOUT_MS / 1000}s`, ...headers, options.url];
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(value: string | undefined, unit: string | undefined): number {
  return value === undefined || unit === undefined ? Number.NaN : Number(value) * (UNIT_MS[unit] ?? Number.NaN);
}

/**
 * Reads wrk's `--latency` report. Its percentiles come from wrk's own histogram of every request.
 * Example lines: `    Latency   431.17us  153.35us   5.13ms   93.15%`, `     99%    1.23ms`,
 * `  123456 requests in 5.00s, 20.00MB read`, `Requests/sec:  24691.20`.
 */
export function parseWrkOutput(out: string, durationMs: number): RunResult {
  const match = (pattern: RegExp): RegExpExecArray | null => pattern.exec(out);
  const requests = Number(match(/(\d+) requests in/)?.[1] ?? Number.NaN);
  const rate = Number(match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? Number.NaN);
  if (!Number.isFinite(requests) || !Number.isFinite(rate)) throw new Error(`unexpected wrk output:\n${out}`);
  const percentile = (p: number): number => {
    const m = new RegExp(`^\\s+${p}(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return toMs(m?.[1], m?.[2]);
  };
  const max = match(/Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/);
  const non2xx = Number(match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const socket = match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const errors = non2xx + socketErrors;
  return {
    ok: requests - non2xx,
    errors,
    firstError: errors > 0 ? `${non2xx} non-2xx/3xx responses, ${socketErrors} socket errors` : undefined,
    durationMs,
    opsPerSecond: rate,
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    maxMs: toMs(max?.[1], max?.[2]),
  };
}
