// The proxies under test, started as their own processes with generated configurations that do the
// same work: two backends, round robin (or power of two choices) without affinity, and cookie
// insertion with affinity. Logging off on both, one thread each.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort, type Child, type ChildProcesses } from './child-processes.ts';
import { processTree } from './process-cpu.ts';

export interface Backend {
  id: string;
  port: number;
}

export interface RunningProxy {
  /** Base URL of the data plane, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly pid: number | undefined;
  /** The proxy's processes (with workers: the primary and each worker). */
  pids(): number[];
  /** Route counters from the admin API (stickless only). */
  routeCounters?(route: string): Promise<Record<string, number>>;
  /** The proxy's process (stickless only): its stdout carries `--trace-gc-nvp` lines when started with that flag. */
  readonly child?: Child;
  stop(): Promise<void>;
}

const PROXY_MAIN = fileURLToPath(new URL('../proxy/main.ts', import.meta.url));
/**
 * How the proxy is launched here: as docs/proxy.md recommends (section "Memory"). Node's young
 * generation otherwise grows to 64 MB under load on a machine with this much memory, the old
 * generation grows by V8's default factor between full collections, and glibc keeps one malloc
 * arena per busy thread; together 40-50 MB of RSS that no request needs.
 */
export const PROXY_NODE_ARGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=50'];
export const PROXY_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/**
 * The stickless proxy with two routes on one pool: `/none` (affinity none) and `/soft` (soft, pin
 * cookie `stickless`). No health checks and no passive ejection, so nothing runs besides requests.
 * `workers` > 1: a primary and that many node:cluster workers.
 */
/** Runs a proxy under another program (valgrind): `command` and its arguments go before the proxy's own. */
export interface LaunchWrapper {
  command: string;
  args: readonly string[];
  /** How long the wrapped proxy may take to listen, ms. */
  readyTimeoutMs: number;
}

export async function startSticklessProxy(children: ChildProcesses, backends: readonly Backend[], workers = 1, nodeArgs: readonly string[] = PROXY_NODE_ARGS, wrapper?: LaunchWrapper): Promise<RunningProxy> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dir = children.makeTempDir('stickless-bench-proxy-');
  const config = join(dir, 'proxy.yaml');
  writeFileSync(config, [
    `listen: { host: 127.0.0.1, port: ${port} }`,
    `admin: { host: 127.0.0.1, port: ${adminPort}, token: { env: BENCH_ADMIN_TOKEN } }`,
    'keys: [{ env: BENCH_PIN_KEY }]',
    'log: { level: warn }',
    'shutdownTimeoutMs: 2000',
    `workers: ${workers}`,
    'pools:',
    '  app:',
    '    backends:',
    ...backends.map((b) => `      - { id: ${b.id}, url: "http://127.0.0.1:${b.port}" }`),
    '    outlier: { consecutiveFailures: 0 }',
    'routes:',
    '  - { name: none, match: { pathPrefix: /none }, pool: app, affinity: none }',
    '  - { name: soft, match: { pathPrefix: /soft }, pool: app, affinity: soft }',
    '',
  ].join('\n'));
  const token = randomBytes(24).toString('hex');
  const args = [...nodeArgs, PROXY_MAIN, '--config', config];
  const child = children.start({
    name: 'stickless proxy',
    command: wrapper?.command ?? process.execPath,
    args: wrapper === undefined ? args : [...wrapper.args, process.execPath, ...args],
    env: { ...PROXY_ENV, BENCH_ADMIN_TOKEN: token, BENCH_PIN_KEY: randomBytes(24).toString('hex') },
  });
  const stop = async (): Promise<void> => {
    await children.stop(child);
    children.removeTempDir(dir);
  };
  try {
    await waitForPort(port, child, wrapper?.readyTimeoutMs ?? 60_000);
    if (workers > 1) {
      // The port answers once the first worker listens; wait for all of them.
      const deadline = Date.now() + 60_000;
      while (processTree(child.process.pid).length < workers + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.process.pid,
    child,
    pids: () => processTree(child.process.pid),
    routeCounters: async (route) => {
      const response = await fetch(`http://127.0.0.1:${adminPort}/routes/${route}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(2000),
      });
      return ((await response.json()) as { counters: Record<string, number> }).counters;
    },
    stop,
  };
}

/**
 * HAProxy with two frontends on one backend set: `roundrobin` (no affinity) and the classic
 * `cookie SRV insert indirect nocache` sticky configuration. `nbthread` = `threads`, to match the
 * stickless proxy's worker count; no `log` lines, so nothing is logged; HTTP keep-alive on both sides (the default mode).
 */
export async function startHaproxy(children: ChildProcesses, backends: readonly Backend[], threads = 1, wrapper?: LaunchWrapper): Promise<{ roundRobin: string; cookie: string; pid: number | undefined; stop(): Promise<void> }> {
  const [rrPort, cookiePort] = [await freePort(), await freePort()];
  const dir = children.makeTempDir('stickless-bench-haproxy-');
  const config = join(dir, 'haproxy.cfg');
  const servers = (withCookie: boolean): string[] =>
    backends.map((b) => `  server ${b.id} 127.0.0.1:${b.port}${withCookie ? ` cookie ${b.id}` : ''}`);
  writeFileSync(config, [
    'global',
    `  nbthread ${threads}`,
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    `frontend fe_roundrobin`,
    `  bind 127.0.0.1:${rrPort}`,
    '  default_backend be_roundrobin',
    `frontend fe_cookie`,
    `  bind 127.0.0.1:${cookiePort}`,
    '  default_backend be_cookie',
    'backend be_roundrobin',
    '  balance roundrobin',
    ...servers(false),
    'backend be_cookie',
    '  balance roundrobin',
    '  cookie SRV insert indirect nocache',
    ...servers(true),
    '',
  ].join('\n'));
  // -db: stay in the foreground (no daemon, no master-worker), so the child is the one process.
  const args = ['-db', '-f', config];
  const child = children.start({ name: 'haproxy', command: wrapper?.command ?? 'haproxy', args: wrapper === undefined ? args : [...wrapper.args, 'haproxy', ...args] });
  const stop = async (): Promise<void> => {
    await children.stop(child);
    children.removeTempDir(dir);
  };
  try {
    await waitForPort(rrPort, child, wrapper?.readyTimeoutMs);
    await waitForPort(cookiePort, child, wrapper?.readyTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return { roundRobin: `http://127.0.0.1:${rrPort}`, cookie: `http://127.0.0.1:${cookiePort}`, pid: child.process.pid, stop };
}
