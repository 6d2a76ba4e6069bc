// Real sessiond instances for tests: in-process on port 0 (fast, most tests) or as a child process
// running server/main.ts (signals, logs, config errors). Every start registers its stop in teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { pino } from 'pino';
import { parseServerConfig, type ServerConfig } from '../../server/config.ts';
import { createSessionServer, type SessionServer } from '../../server/session-server.ts';
import { deleteByPrefix, startRedis, uniquePrefix, type RedisHandle } from './redis.ts';

export interface StartedSessiond {
  /** `127.0.0.1:port` to dial. */
  address: string;
  server: SessionServer;
  config: Readonly<ServerConfig>;
  /** The Redis behind it (undefined for the memory store). */
  redis: RedisHandle | undefined;
  /** Key prefix of this instance; every key it writes starts with it. */
  keyPrefix: string;
  /** Graceful stop (also done in teardown). */
  stop(): Promise<void>;
}

export interface StartSessiondOptions {
  store?: 'redis' | 'memory';
  /** Reuse this Redis (e.g. one the test kills); otherwise one is started for this server. */
  redis?: RedisHandle;
  /** Config overrides (limits, timeouts, listen address...). */
  config?: Partial<ServerConfig>;
}

/**
 * Redis timeouts of a test sessiond unless the test sets its own: the production defaults (1 s per
 * command, 2 s to connect) are answers a busy machine (two suites at once on 2 cores) can miss, and
 * a test about timeouts sets small ones itself (test/server/redis-failure.test.ts).
 */
const TEST_REDIS_TIMEOUTS: Partial<ServerConfig> = { commandTimeoutMs: 15_000, connectTimeoutMs: 15_000 };

/** Starts sessiond in this process with a real gRPC server on 127.0.0.1:0. */
export async function startSessiond(t: ExecutionContext, options: StartSessiondOptions = {}): Promise<StartedSessiond> {
  const store = options.store ?? 'redis';
  let redis = options.redis;
  if (store === 'redis' && !redis) {
    const own = await startRedis();
    t.teardown(() => own.stop());
    redis = own;
  }
  const keyPrefix = uniquePrefix();
  const config = parseServerConfig({
    listen: '127.0.0.1:0',
    store,
    keyPrefix,
    logLevel: 'silent',
    ...TEST_REDIS_TIMEOUTS,
    ...(redis ? { redisUrl: redis.url } : {}),
    ...options.config,
  });
  const server = await createSessionServer(config, { logger: pino({ level: 'silent' }) });
  if (server.store && 'waitUntilReady' in server.store) {
    await (server.store as { waitUntilReady(ms: number): Promise<boolean> }).waitUntilReady(30_000);
  }
  const stop = async (): Promise<void> => {
    await server.destroy();
    if (redis) await deleteByPrefix(redis.url, keyPrefix);
  };
  t.teardown(stop);
  return { address: `127.0.0.1:${server.port}`, server, config, redis, keyPrefix, stop };
}

/** A node child process of a test: its output so far, and how it ended. */
export interface NodeProcess {
  child: ChildProcess;
  /** Everything the process wrote to stdout so far (JSON log lines). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

const MAIN = fileURLToPath(new URL('../../server/main.ts', import.meta.url));

export type SessiondProcess = NodeProcess;

/** Runs `node server/main.ts` with the given flags and environment; killed in teardown. */
export function spawnSessiond(t: ExecutionContext, args: string[], env: Record<string, string> = {}): SessiondProcess {
  return spawnNode(t, MAIN, args, env);
}

/** Runs `node script ...args` with only PATH and `env` in its environment; SIGKILLed in teardown if still alive. */
export function spawnNode(t: ExecutionContext, script: string, args: string[], env: Record<string, string> = {}): NodeProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Polls `check` until it returns a truthy value, at most `timeoutMs` (generous: the machine may be busy). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 30_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
