// Real Redis for a test file. In order: REDIS_URL when set, a redis-server process on a free loopback
// port, a testcontainers container when a Docker engine answers, else a clear message saying what to
// install. Each test gets its own key prefix and the keys under it are deleted in teardown, so test
// files and tests can share one Redis without FLUSHALL.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { diesWithParent } from '../../demo/parent-death.ts';
import { freePort } from '../../demo/ports.ts';

export { freePort };

export interface RedisHandle {
  /** redis://host:port */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** How this Redis came to be. Only 'process' and 'container' can be killed and restarted. */
  readonly kind: 'url' | 'process' | 'container';
  /** kill -9 the server (process) or kill the container. */
  kill(): Promise<void>;
  /** Start it again on the same port after kill(). */
  restart(): Promise<void>;
  /** Stop for good. Idempotent. */
  stop(): Promise<void>;
  /** Freeze (SIGSTOP) or thaw (SIGCONT) the server: it keeps its connections but answers nothing. */
  pause?(paused: boolean): void;
}

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Waits until PING answers, for at most `timeoutMs`. */
export async function waitForRedis(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`Redis at ${url} did not answer within ${timeoutMs} ms`, { cause: error });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
}

/** redis-server with `args`, sent SIGKILL by the kernel if this test worker dies (a crash, ava's timeout) without stopping it. */
export function spawnRedisServer(args: readonly string[]): ChildProcess {
  const { command, args: wrapped } = diesWithParent('redis-server', args);
  return spawn(command, wrapped, { stdio: 'ignore' });
}

class ProcessRedis implements RedisHandle {
  readonly kind = 'process' as const;
  readonly host = '127.0.0.1';
  readonly port: number;
  #extraArgs: string[];
  #child: ChildProcess | undefined;
  #stopped = false;
  /** Its own directory: a replica writes the RDB of each full sync there and loads it when restarted; a shared one let servers load each other's. */
  readonly #dir = mkdtempSync(join(tmpdir(), 'stickless-redis-'));

  constructor(port: number, extraArgs: string[] = []) {
    this.port = port;
    this.#extraArgs = extraArgs;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', this.host, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', '--dir', this.#dir, ...this.#extraArgs];
    const child = spawnRedisServer(args);
    this.#child = child;
    await waitForRedis(this.url);
    // The port was free when picked, but another test file may have taken it since (a restart reuses
    // it): make sure the server answering is the one just started, not someone else's.
    const probe = new Redis(this.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      const pid = /process_id:(\d+)/.exec(await probe.info('server'))?.[1];
      if (Number(pid) !== child.pid) throw new Error(`port ${this.port} is held by another redis-server (pid ${pid}), not ours (pid ${child.pid})`);
    } finally {
      probe.disconnect();
    }
  }

  pause(paused: boolean): void {
    this.#child?.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    if (!this.#stopped) await this.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

async function startContainerRedis(): Promise<RedisHandle> {
  const { GenericContainer } = await import('testcontainers');
  let container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
  const handle = {
    kind: 'container' as const,
    host: container.getHost(),
    port: container.getMappedPort(6379),
    get url() {
      return `redis://${handle.host}:${handle.port}`;
    },
    async kill() {
      await container.stop({ timeout: 0 });
    },
    async restart() {
      // A container restarts with a new host port, so start a fresh one on the same fixed port.
      container = await new GenericContainer('redis:7-alpine').withExposedPorts({ container: 6379, host: handle.port }).start();
      await waitForRedis(handle.url);
    },
    async stop() {
      await container.stop({ timeout: 0 }).catch(() => {});
    },
  };
  return handle;
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * A Redis this test file owns and may kill: a redis-server process, else a container. Ignores
 * REDIS_URL, because a shared server must not be killed.
 */
export async function startOwnRedis(): Promise<RedisHandle> {
  if (hasRedisServer()) {
    const redis = new ProcessRedis(await freePort());
    await redis.start();
    return redis;
  }
  if (await dockerAnswers()) return startContainerRedis();
  throw new Error('These tests need Redis: install redis-server (apt-get install redis-server) or run a Docker engine.');
}

/**
 * A redis-server process with extra arguments (a replica, a sentinel). Needs the binary: topologies
 * are not built from containers here.
 */
export async function startRedisProcess(extraArgs: string[] = [], port?: number): Promise<RedisHandle> {
  if (!hasRedisServer()) throw new Error('This test needs redis-server on PATH (apt-get install redis-server).');
  const redis = new ProcessRedis(port ?? (await freePort()), extraArgs);
  await redis.start();
  return redis;
}

/** The Redis for a test file: REDIS_URL when set, else startOwnRedis(). */
export async function startRedis(): Promise<RedisHandle> {
  const url = process.env.REDIS_URL;
  if (url) {
    const parsed = new URL(url);
    await waitForRedis(url);
    return {
      kind: 'url',
      url,
      host: parsed.hostname,
      port: Number(parsed.port || 6379),
      kill: () => Promise.reject(new Error('cannot kill the Redis given by REDIS_URL')),
      restart: () => Promise.reject(new Error('cannot restart the Redis given by REDIS_URL')),
      stop: async () => {},
    };
  }
  return startOwnRedis();
}

/** A key prefix no other test uses. */
export function uniquePrefix(): string {
  return `t:${randomUUID()}:`;
}

/** Deletes every key under `prefix` (SCAN, never FLUSHALL). */
export async function deleteByPrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } catch {
    // The server may be gone (a kill test); its keys went with it.
  } finally {
    client.disconnect();
  }
}

/** All keys under `prefix`. */
export async function keysByPrefix(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}
