// The whole stickless stack on one machine, without Docker: a session store (Redis when REDIS_URL
// is set or redis-server is on PATH, else sessiond's embedded memory store), sessiond, three cart-app
// replicas per session mode, the dashboard, and the proxy in front:
//   /sticky/    -> hard affinity -> local-mode replicas (sessions in process memory)
//   /shop/      -> soft affinity -> central-mode replicas (sessions in sessiond, near cache, version tokens)
//   /token/     -> no affinity   -> token-mode replicas (the cart in an encrypted cookie, no store)
//   /dashboard/ -> the dashboard (no affinity)
// Used by `npm start`, the scenario and the browser test.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { createDashboardServer, type StackControl } from './dashboard/server.ts';
import { ManagedProcess, nodeScript } from './managed-process.ts';
import { freePort, listenProblem } from './ports.ts';

export interface LocalStackOptions {
  /** Public port of the proxy (the one URL users open). 0 picks a free one. */
  proxyPort: number;
  /** Proxy admin API port (127.0.0.1). 0 picks a free one. */
  adminPort: number;
  /** sessiond gRPC port (127.0.0.1). 0 picks a free one. */
  sessiondPort: number;
  /** How the user set each port (a flag or an environment variable), for error messages. */
  portNames: { proxyPort: string; adminPort: string; sessiondPort: string };
  /** Replicas per session mode. */
  replicasPerMode: number;
  /** `auto`: Redis if REDIS_URL or redis-server is available, else memory. */
  store: 'auto' | 'memory' | 'redis';
  /** Active health check period of the proxy, ms. */
  healthIntervalMs: number;
  /** Progress messages (the first one names the session store). */
  log: (message: string) => void;
  /** Output lines of the children (default: dropped; `--verbose` prints them). */
  onOutput?: (name: string, line: string) => void;
}

export const DEFAULT_STACK_OPTIONS: Readonly<LocalStackOptions> = Object.freeze({
  proxyPort: 8080,
  adminPort: 9901,
  sessiondPort: 50051,
  portNames: Object.freeze({ proxyPort: '--port', adminPort: '--admin-port', sessiondPort: '--sessiond-port' }),
  replicasPerMode: 3,
  store: 'auto',
  healthIntervalMs: 1000,
  log: () => {},
});

export interface ReplicaInfo {
  id: string;
  mode: 'local' | 'central' | 'token';
  pool: 'sticky' | 'shop' | 'token';
  process: ManagedProcess;
}

export interface LocalStack {
  urls: { proxy: string; shop: string; sticky: string; token: string; dashboard: string; admin: string; sessiond: string };
  adminToken: string;
  storeDescription: string;
  replicas: ReplicaInfo[];
  /** Calls the proxy admin API. */
  admin(method: string, path: string, body?: unknown): Promise<unknown>;
  /** The process ids of the sessiond instances that run (the scenario reads their CPU time). */
  sessiondPids(): number[];
  killReplica(id: string): Promise<void>;
  restartReplica(id: string): Promise<void>;
  stop(): Promise<void>;
}

/** Thrown for a start-up problem the user can fix (a port in use, a missing binary). */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const PORT_ROLES = { proxyPort: 'proxy', adminPort: 'proxy admin API', sessiondPort: 'sessiond' } as const;
type PortOption = keyof typeof PORT_ROLES;

const instead = (name: string): string => (name.startsWith('-') ? `pass ${name} <port>` : `set ${name}=<port>`);

function portInUse(option: PortOption, port: number, names: LocalStackOptions['portNames']): StackError {
  return new StackError(`port ${port} (${PORT_ROLES[option]}) is in use: ${instead(names[option])}, or 0 for any free port`);
}

/** The three ports to use: each given one checked by binding it, each 0 replaced by a free one. */
async function claimPorts(options: LocalStackOptions): Promise<Record<PortOption, number>> {
  const names = options.portNames;
  const claimed = {} as Record<PortOption, number>;
  for (const option of Object.keys(PORT_ROLES) as PortOption[]) {
    const port = options[option];
    const twin = (Object.keys(claimed) as PortOption[]).find((other) => port !== 0 && options[other] === port);
    if (twin) throw new StackError(`${names[option]} ${port} is also ${names[twin]}: give each its own port, or 0 for any free port`);
    if (port === 0) {
      claimed[option] = await freePort();
      continue;
    }
    const problem = await listenProblem(port);
    if (problem === 'EADDRINUSE') throw portInUse(option, port, names);
    if (problem) throw new StackError(`port ${port} (${PORT_ROLES[option]}) cannot be listened on (${problem}): ${instead(names[option])}, or 0 for any free port`);
    claimed[option] = port;
  }
  return claimed;
}

/** Starts a child that listens on one of the three ports; if that port was taken meanwhile, says so. */
async function startOnClaimedPort(child: ManagedProcess, ports: Record<PortOption, number>, names: LocalStackOptions['portNames']): Promise<void> {
  try {
    await child.start();
  } catch (error) {
    const busy = /EADDRINUSE[^\n]*?:(\d+)/.exec(child.tail);
    const option = (Object.keys(ports) as PortOption[]).find((o) => busy && ports[o] === Number(busy[1]));
    throw option ? portInUse(option, ports[option], names) : error;
  }
}

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startLocalStack(overrides: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  const options = { ...DEFAULT_STACK_OPTIONS, ...overrides };
  const ports = await claimPorts(options);
  const { proxyPort, adminPort, sessiondPort } = ports;
  const started: ManagedProcess[] = [];
  const node = (script: string, ...args: string[]) => nodeScript(join(ROOT, script), args);
  const dir = mkdtempSync(join(tmpdir(), 'stickless-stack-'));
  let dashboard: ReturnType<typeof createDashboardServer> | undefined;

  const stopAll = async (): Promise<void> => {
    await Promise.all([...started].reverse().map((p) => p.stop()));
    await new Promise<void>((resolve) => (dashboard ? dashboard.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // 1. The session store.
    const sessiondEnv: Record<string, string> = { STICKLESS_LISTEN: `127.0.0.1:${sessiondPort}`, STICKLESS_LOG_LEVEL: 'warn' };
    let storeDescription: string;
    const redisUrl = process.env.REDIS_URL;
    if (options.store !== 'memory' && redisUrl) {
      sessiondEnv.REDIS_URL = redisUrl;
      sessiondEnv.STICKLESS_KEY_PREFIX = `stickless-demo:${randomBytes(4).toString('hex')}:`;
      storeDescription = `Redis at ${redisUrl.replace(/\/\/[^@/]*@/, '//')} (REDIS_URL)`;
    } else if (options.store !== 'memory' && hasRedisServer()) {
      const redisPort = await freePort();
      const redis = new ManagedProcess({
        name: 'redis', command: 'redis-server', port: redisPort, onOutput: options.onOutput,
        args: ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      });
      started.push(redis);
      await redis.start();
      sessiondEnv.REDIS_URL = `redis://127.0.0.1:${redisPort}`;
      storeDescription = `Redis: a redis-server started on 127.0.0.1:${redisPort} (found on PATH; nothing is saved to disk)`;
    } else if (options.store === 'redis') {
      throw new StackError('store=redis needs REDIS_URL or redis-server on PATH');
    } else {
      sessiondEnv.STICKLESS_STORE = 'memory';
      const why = options.store === 'memory' ? 'asked for with --memory' : 'no REDIS_URL and no redis-server on PATH';
      storeDescription = `the embedded memory store (${why}): sessions live in the sessiond process only`;
    }
    options.log(`session store: ${storeDescription}`);

    // 2. sessiond: on Redis two instances, which the central replicas balance round robin (any
    // instance serves any call); the memory store lives in one process, so one instance.
    const sessiond = new ManagedProcess({ name: 'sessiond', ...node('server/main.ts'), port: sessiondPort, env: sessiondEnv, onOutput: options.onOutput });
    started.push(sessiond);
    await startOnClaimedPort(sessiond, ports, options.portNames);
    const sessionds = [sessiond];
    if (sessiondEnv.STICKLESS_STORE !== 'memory') {
      const port = await freePort();
      const second = new ManagedProcess({
        name: 'sessiond-2', ...node('server/main.ts'), port, env: { ...sessiondEnv, STICKLESS_LISTEN: `127.0.0.1:${port}` }, onOutput: options.onOutput,
      });
      started.push(second);
      await second.start();
      sessionds.push(second);
    }
    const sessiondAddresses = sessionds.map((p) => `127.0.0.1:${p.port}`);
    // One gRPC target for the list: the client balances round robin over its addresses.
    const sessiondTarget = sessionds.length > 1 ? `ipv4:${sessiondAddresses.join(',')}` : sessiondAddresses[0]!;
    options.log(`sessiond on ${sessiondAddresses.join(' and ')}`);

    // 3. Replicas: local mode behind /sticky/, central mode behind /shop/.
    const replicas: ReplicaInfo[] = [];
    // One cookie key for every replica of the stack: token carts and version tokens open on any of them.
    const cookieKeys = randomBytes(32).toString('base64url');
    for (const [mode, pool] of [['local', 'sticky'], ['central', 'shop'], ['token', 'token']] as const) {
      for (let i = 1; i <= options.replicasPerMode; i++) {
        const id = `${mode}-${i}`;
        const port = await freePort();
        const process_ = new ManagedProcess({
          name: id, ...node('demo/cart-app/main.ts'), port, onOutput: options.onOutput,
          env: { PORT: String(port), HOST: '127.0.0.1', REPLICA_ID: id, SESSION_MODE: mode, SESSIOND_ADDRESS: sessiondTarget, CART_COOKIE_KEYS: cookieKeys },
        });
        started.push(process_);
        replicas.push({ id, mode, pool, process: process_ });
      }
    }
    // Nine node processes at once: at load average 50+ on 2 cores that took over 60 s (a bound for a
    // replica that never listens, not a speed limit).
    await Promise.all(replicas.map((r) => r.process.start(180_000)));
    options.log(`${replicas.length} cart-app replicas: ${replicas.map((r) => r.id).join(', ')}`);

    // 4. The proxy, with the dashboard as one more backend.
    const adminToken = randomBytes(18).toString('base64url');
    const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
      const response = await fetch(`http://127.0.0.1:${adminPort}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      const parsed: unknown = text ? JSON.parse(text) : null;
      if (!response.ok) throw new Error(`admin ${method} ${path}: ${response.status} ${text}`);
      return parsed;
    };
    const control: StackControl = {
      replicas: () => replicas.map((r) => ({ id: r.id, mode: r.mode, pool: r.pool, port: r.process.port, alive: r.process.alive })),
      kill: (id) => findReplica(replicas, id).process.kill(),
      restart: (id) => findReplica(replicas, id).process.start(),
      admin,
    };
    dashboard = createDashboardServer(control);
    const dashboardPort = await freePort();
    await new Promise<void>((resolve) => dashboard!.listen(dashboardPort, '127.0.0.1', resolve));

    const configPath = join(dir, 'proxy.yaml');
    writeFileSync(configPath, toYaml(proxyConfig({ proxyPort, adminPort, adminToken, replicas, dashboardPort, healthIntervalMs: options.healthIntervalMs })));
    const proxy = new ManagedProcess({ name: 'proxy', ...node('proxy/main.ts', '--config', configPath), port: proxyPort, onOutput: options.onOutput });
    started.push(proxy);
    await startOnClaimedPort(proxy, ports, options.portNames);
    await waitForBackendsUp(admin, replicas.length + 1);
    options.log(`proxy on http://127.0.0.1:${proxyPort} (admin API on 127.0.0.1:${adminPort})`);

    const base = `http://127.0.0.1:${proxyPort}`;
    return {
      urls: { proxy: base, shop: `${base}/shop/`, sticky: `${base}/sticky/`, token: `${base}/token/`, dashboard: `${base}/dashboard/`, admin: `http://127.0.0.1:${adminPort}`, sessiond: sessiondAddresses.join(' ') },
      adminToken,
      storeDescription,
      replicas,
      admin,
      sessiondPids: () => sessionds.map((p) => p.pid).filter((pid): pid is number => pid !== undefined),
      killReplica: (id) => findReplica(replicas, id).process.kill(),
      restartReplica: (id) => findReplica(replicas, id).process.start(),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function findReplica(replicas: ReplicaInfo[], id: string): ReplicaInfo {
  const replica = replicas.find((r) => r.id === id);
  if (!replica) throw new StackError(`no replica "${id}"`);
  return replica;
}

async function waitForBackendsUp(admin: LocalStack['admin'], count: number): Promise<void> {
  // Generous: on a busy machine the health checks of freshly started replicas can take a while.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reply = (await admin('GET', '/backends').catch(() => ({ backends: [] }))) as { backends: Array<{ state: string }> };
    if (reply.backends.filter((b) => b.state === 'up').length >= count) return;
    if (Date.now() > deadline) throw new Error(`the proxy did not see ${count} healthy backends within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface ProxyConfigInput {
  proxyPort: number;
  adminPort: number;
  adminToken: string;
  replicas: ReplicaInfo[];
  dashboardPort: number;
  healthIntervalMs: number;
}

/** The proxy configuration of the local stack (the same routes as docker-compose.yml). */
export function proxyConfig(input: ProxyConfigInput): Record<string, unknown> {
  // A killed replica fails its check at once (connection refused); the timeout only has to catch a
  // hung one, and a short one (it was 300 ms for the scenario) marks live replicas of a busy machine down.
  const health = { path: '/healthz', intervalMs: input.healthIntervalMs, timeoutMs: 5000, rise: 1, fall: 2 };
  const pool = (name: ReplicaInfo['pool']) => ({
    backends: input.replicas.filter((r) => r.pool === name).map((r) => ({ id: r.id, url: `http://127.0.0.1:${r.process.port}` })),
    health,
    // Short ejections: a killed replica of the demo comes back within seconds.
    outlier: { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 5000 },
    connectTimeoutMs: 1000,
  });
  return {
    listen: { host: '127.0.0.1', port: input.proxyPort },
    admin: { host: '127.0.0.1', port: input.adminPort, token: input.adminToken },
    keys: [randomBytes(24).toString('base64url')],
    log: { level: 'warn' },
    shutdownTimeoutMs: 2000,
    pools: {
      sticky: pool('sticky'),
      shop: pool('shop'),
      token: pool('token'),
      dashboard: { backends: [{ id: 'dashboard', url: `http://127.0.0.1:${input.dashboardPort}` }] },
    },
    routes: [
      { name: 'sticky', match: { pathPrefix: '/sticky' }, pool: 'sticky', affinity: 'hard', cookie: { name: 'stickless_sticky' }, hard: { whenDown: 'reject', retryAfterSeconds: 5 } },
      { name: 'shop', match: { pathPrefix: '/shop' }, pool: 'shop', affinity: 'soft', cookie: { name: 'stickless_shop' } },
      { name: 'token', match: { pathPrefix: '/token' }, pool: 'token', affinity: 'none', cookie: { name: 'stickless_token' } },
      { name: 'dashboard', match: { pathPrefix: '/' }, pool: 'dashboard', affinity: 'none' },
    ],
  };
}
