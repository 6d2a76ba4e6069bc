// The lag benchmark's transport peers: a bare node:http2 server and a bare grpc-js echo server (unary
// calls, and messages on one stream as the client's Pipeline sends them), each called at the lag
// target's rate from this process (open loop, one HTTP/2 connection, as a SessionClient uses), with
// their garbage collections read from `--trace-gc-nvp`. Set beside sessiond's collections in the lag
// rows, they show how much of sessiond's young-generation pauses the transport alone brings at that rate.
import * as grpc from '@grpc/grpc-js';
import { connect, type ClientHttp2Session } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort, type ChildProcesses } from './child-processes.ts';
import { runAtFixedRate } from './fixed-rate-schedule.ts';
import { formatGc, GC_TRACE_FLAG, GcWindow, type GcFigures } from './gc-trace.ts';
import { LatencyRecorder } from './latency-recorder.ts';
import { formatMs, formatRate, formatShare, formatTable } from './markdown-table.ts';
import { processCpuMs } from './process-cpu.ts';
import { ECHO_PATH, ECHO_SERVICE } from './transport-peer-server.ts';

const SERVER_MAIN = fileURLToPath(new URL('./transport-peer-server.ts', import.meta.url));
const DEADLINE_MS = 2000;
/** About a Patch request's size; the peers echo it back. */
const PAYLOAD = Buffer.alloc(64, 7);

export type PeerKind = 'http2' | 'grpc' | 'grpc-stream';

export interface TransportPeersOptions {
  children: ChildProcesses;
  rate: number;
  warmupMs: number;
  durationMs: number;
  log: (line: string) => void;
  onRow?: ((row: Record<string, unknown>) => void) | undefined;
}

export interface PeerResult {
  peer: PeerKind;
  callsPerSecond: number;
  calls: number;
  errors: number;
  firstError: string | undefined;
  p50Ms: number;
  p99Ms: number;
  /** The server's CPU over the window, as a share of one core. */
  serverCpu: number;
  serverGc: GcFigures;
}

const NAMES: Record<PeerKind, string> = {
  http2: 'node:http2 server alone',
  grpc: 'grpc-js echo server alone',
  'grpc-stream': 'grpc-js echo server alone, one stream',
};

export async function runTransportPeers(options: TransportPeersOptions): Promise<string> {
  const results: PeerResult[] = [];
  for (const peer of ['http2', 'grpc', 'grpc-stream'] as const) {
    options.log(`  ${NAMES[peer]}: ${options.rate}/s for ${options.warmupMs} + ${options.durationMs} ms`);
    const result = await runPeer(peer, options);
    options.log(`  ${formatRate(result.callsPerSecond)} calls/s, p99 ${formatMs(result.p99Ms)} ms, longest young pause ${formatMs(result.serverGc.youngPauseMaxMs)} ms`);
    options.onRow?.({ section: 'lag-transport-peer', rate: options.rate, durationMs: options.durationMs, ...result });
    results.push(result);
  }
  return [
    formatTable(
      ['server', 'calls/s asked', 'calls/s reached', 'call p50 / p99 ms', 'server CPU, share of a core', 'server GC: young pauses/s, longest ms, time stopped, promoted MB/s'],
      results.map((r) => [NAMES[r.peer], formatRate(options.rate), formatRate(r.callsPerSecond), `${formatMs(r.p50Ms)} / ${formatMs(r.p99Ms)}`, formatShare(r.serverCpu), formatGc(r.serverGc, options.durationMs)]),
    ),
    '',
    `Each server in its own process with \`${GC_TRACE_FLAG}\`, called from the benchmark's process on one HTTP/2 connection at a fixed rate (open loop, latency from when a call was due), ${PAYLOAD.length}-byte messages echoed back (unary calls, or, for "one stream", messages on one long-lived bidirectional stream); ` +
      `${options.warmupMs} ms warm-up then ${options.durationMs} ms measured. Neither server does anything but answer: what their collections cost is what the transport alone costs at this rate, to set beside sessiond's in the rows above.`,
    ...results.filter((r) => r.errors > 0).map((r) => `- ${NAMES[r.peer]}: ${r.errors} calls failed, first: ${r.firstError}`),
  ].join('\n');
}

async function runPeer(peer: PeerKind, options: TransportPeersOptions): Promise<PeerResult> {
  const { children } = options;
  const port = await freePort();
  const child = children.start({ name: NAMES[peer], command: process.execPath, args: [GC_TRACE_FLAG, SERVER_MAIN, peer === 'http2' ? 'http2' : 'grpc', String(port)] });
  let close = (): void => {};
  try {
    await waitForPort(port, child, 60_000); // a bound for a server that never listens, not a speed limit
    const call = peer === 'http2' ? http2Caller(port) : peer === 'grpc' ? grpcCaller(port) : grpcStreamCaller(port);
    close = call.close;
    const recorder = new LatencyRecorder();
    const gc = new GcWindow(child);
    let errors = 0;
    let firstError: string | undefined;
    let cpuStart = 0;
    let lastAt = 0;
    const run = await runAtFixedRate({ rate: options.rate, warmupMs: options.warmupMs, durationMs: options.durationMs, onWindowStart: () => {
      gc.start();
      cpuStart = processCpuMs(child.process.pid);
    } }, async (_n, dueAt, measured) => {
      try {
        await call.send();
        if (!measured) return;
        lastAt = performance.now();
        recorder.record(lastAt - dueAt);
      } catch (error) {
        if (measured) errors++;
        firstError ??= (error as Error).message;
      }
    });
    const serverGc = gc.stop();
    const windowMs = run.settledAt - run.measureFrom;
    const [p50Ms, p99Ms] = recorder.percentiles(50, 99) as [number, number];
    return {
      peer, calls: recorder.count, errors, firstError, p50Ms, p99Ms,
      callsPerSecond: recorder.count / (Math.max(options.durationMs, lastAt - run.measureFrom) / 1000),
      serverCpu: (processCpuMs(child.process.pid) - cpuStart) / windowMs,
      serverGc,
    };
  } finally {
    close();
    await children.stop(child);
  }
}

interface Caller {
  send(): Promise<void>;
  close(): void;
}

function http2Caller(port: number): Caller {
  const session: ClientHttp2Session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const headers = { ':method': 'POST', ':path': ECHO_PATH, 'content-type': 'application/grpc', te: 'trailers' };
  return {
    send: () => new Promise<void>((resolve, reject) => {
      const request = session.request(headers);
      const timer = setTimeout(() => request.close(), DEADLINE_MS);
      request.on('data', () => {});
      request.on('error', reject);
      request.on('close', () => {
        clearTimeout(timer);
        if (request.rstCode === 0) resolve();
        else reject(new Error(`stream closed with code ${request.rstCode}`));
      });
      request.end(PAYLOAD);
    }),
    close: () => session.close(),
  };
}

function grpcCaller(port: number): Caller {
  const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Echo(request: Buffer, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void): void;
  };
  return {
    send: () => new Promise<void>((resolve, reject) => client.Echo(PAYLOAD, { deadline: Date.now() + DEADLINE_MS }, (error) => (error ? reject(error) : resolve()))),
    close: () => client.close(),
  };
}

/** Messages on one bidirectional stream, answered in order (the server echoes each at once). */
function grpcStreamCaller(port: number): Caller {
  const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    EchoStream(): grpc.ClientDuplexStream<Buffer, Buffer>;
  };
  const waiting: Array<{ resolve: () => void; timer: NodeJS.Timeout }> = [];
  const stream = client.EchoStream();
  stream.on('data', () => {
    const next = waiting.shift();
    if (!next) return;
    clearTimeout(next.timer);
    next.resolve();
  });
  stream.on('error', () => {});
  return {
    send: () => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo within ${DEADLINE_MS} ms`)), DEADLINE_MS);
      waiting.push({ resolve, timer });
      stream.write(PAYLOAD);
    }),
    close: () => {
      stream.end();
      client.close();
    },
  };
}
